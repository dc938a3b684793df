//! The provider's life: frames trickling in byte by byte, and a graceful
//! shutdown that answers running calls and refuses queued ones.

mod common;

use std::io::Write;
use std::time::Duration;

use common::{connect, read_response, request, start, tagged_sleep_args, wait_started, PATIENCE};
use rpc::{ProviderConfig, RpcChannel, RpcError, RpcStatus};

#[test]
fn a_request_arriving_one_byte_at_a_time_is_answered() {
    let server = start(ProviderConfig::default());
    let mut stream = connect(server.local_addr());
    stream.set_nodelay(true).unwrap();
    let payload: Vec<u8> = (0..=255).collect();
    for byte in request("test", "echo", 77, &payload) {
        stream.write_all(&[byte]).unwrap();
        stream.flush().unwrap();
    }
    let reply = read_response(&mut stream);
    assert_eq!(reply.header.call_id, 77);
    assert_eq!(reply.body, payload);
}

#[test]
fn shutdown_answers_running_calls_and_refuses_queued_ones() {
    // One worker: the first call runs, the second waits in the queue.
    let server = start(ProviderConfig {
        workers: 1,
        ..Default::default()
    });
    let channel = RpcChannel::new(server.local_addr());
    let running = {
        let channel = channel.clone();
        std::thread::spawn(move || {
            channel.call(
                "test",
                "tagged_sleep",
                &tagged_sleep_args(300, "running"),
                PATIENCE,
            )
        })
    };
    wait_started("running");
    // On one raw connection: a call that must wait for the busy worker,
    // then one for an unknown service, which the loop answers itself, in
    // order. Its answer proves the first call is queued.
    let mut raw = connect(server.local_addr());
    let mut bytes = request("test", "echo", 1, b"queued");
    bytes.extend_from_slice(&request("nobody", "x", 2, b""));
    raw.write_all(&bytes).unwrap();
    let probe = read_response(&mut raw);
    assert_eq!(probe.header.call_id, 2);
    assert_eq!(probe.header.status, RpcStatus::UnknownService as i32);
    server.shutdown();
    assert_eq!(running.join().unwrap().unwrap(), b"running");
    let queued = read_response(&mut raw);
    assert_eq!(queued.header.call_id, 1);
    assert_eq!(queued.header.status, RpcStatus::ShuttingDown as i32);
}

#[test]
fn dropping_the_handle_stops_the_provider() {
    let server = start(ProviderConfig::default());
    let addr = server.local_addr();
    drop(server);
    let result = RpcChannel::new(addr).call("test", "echo", b"", Duration::from_secs(2));
    assert!(
        matches!(result, Err(RpcError::Connect { .. })),
        "got {result:?}"
    );
}
