//! The client: many callers over one channel, deadlines, reconnection after
//! a restart, an absent server, and a server that dies mid-call.

mod common;

use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use common::{sleep_args, start, start_with, tagged_sleep_args, wait_started, PATIENCE};
use rpc::{ProviderConfig, RpcChannel, RpcError};

#[test]
fn concurrent_callers_each_get_their_own_replies() {
    concurrent_callers(ProviderConfig::default());
}

/// Few workers for many callers: every queued job must still be taken.
#[test]
fn concurrent_callers_with_one_or_two_workers() {
    for workers in [1, 2] {
        concurrent_callers(ProviderConfig {
            workers,
            ..Default::default()
        });
    }
}

fn concurrent_callers(config: ProviderConfig) {
    let server = start(config);
    let channel = RpcChannel::new(server.local_addr());
    std::thread::scope(|s| {
        for t in 0..16u32 {
            let channel = channel.clone();
            s.spawn(move || {
                for i in 0..200u32 {
                    // Sizes vary so frames straddle reads.
                    let payload: Vec<u8> = format!("thread {t} call {i} ")
                        .into_bytes()
                        .into_iter()
                        .cycle()
                        .take(10 + (i as usize * 37 + t as usize * 101) % 3000)
                        .collect();
                    let method = if i % 10 == 0 { "later" } else { "echo" };
                    let reply = channel.call("test", method, &payload, PATIENCE).unwrap();
                    assert_eq!(
                        reply, payload,
                        "thread {t} call {i} got someone else's reply"
                    );
                }
            });
        }
    });
}

#[test]
fn replies_may_overtake_each_other() {
    let server = start(ProviderConfig::default());
    let channel = RpcChannel::new(server.local_addr());
    let slow = {
        let channel = channel.clone();
        std::thread::spawn(move || {
            channel.call(
                "test",
                "tagged_sleep",
                &tagged_sleep_args(2000, "overtake"),
                PATIENCE,
            )
        })
    };
    wait_started("overtake");
    // Sent after the slow call on the same connection, answered before it.
    assert_eq!(
        channel.call("test", "echo", b"fast", PATIENCE).unwrap(),
        b"fast"
    );
    assert!(
        !slow.is_finished(),
        "the fast reply waited for the slow one"
    );
    assert_eq!(slow.join().unwrap().unwrap(), b"overtake");
}

#[test]
fn a_slow_handler_times_out_and_the_channel_recovers() {
    let server = start(ProviderConfig::default());
    let channel = RpcChannel::new(server.local_addr());
    let started = Instant::now();
    let result = channel.call(
        "test",
        "sleep",
        &sleep_args(1000),
        Duration::from_millis(100),
    );
    assert!(matches!(result, Err(RpcError::Timeout)), "got {result:?}");
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "timeout came late: {:?}",
        started.elapsed()
    );
    assert_eq!(
        channel.call("test", "echo", b"again", PATIENCE).unwrap(),
        b"again"
    );
}

#[test]
fn restarted_server_is_reconnected_transparently() {
    let config = ProviderConfig::default();
    let server = start(config.clone());
    let addr = server.local_addr();
    let channel = RpcChannel::new(addr);
    assert_eq!(
        channel.call("test", "echo", b"before", PATIENCE).unwrap(),
        b"before"
    );
    server.shutdown();
    let server = start_with(config, addr);
    assert_eq!(
        channel.call("test", "echo", b"after", PATIENCE).unwrap(),
        b"after"
    );
    // And again once the new link is established.
    assert_eq!(
        channel.call("test", "echo", b"again", PATIENCE).unwrap(),
        b"again"
    );
    drop(server);
}

#[test]
fn no_server_is_a_prompt_connect_error() {
    // Bind then drop: a port nothing listens on.
    let addr: SocketAddr = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let channel = RpcChannel::new(addr);
    let started = Instant::now();
    let result = channel.call("test", "echo", b"anyone?", PATIENCE);
    assert!(
        matches!(result, Err(RpcError::Connect { .. })),
        "got {result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn server_killed_mid_call_fails_the_call_with_closed() {
    // A grace of zero: shutdown abandons the running handler and closes.
    let server = start(ProviderConfig {
        shutdown_grace: Duration::ZERO,
        ..Default::default()
    });
    let channel = RpcChannel::new(server.local_addr());
    assert_eq!(
        channel.call("test", "echo", b"up", PATIENCE).unwrap(),
        b"up"
    );
    let pending = {
        let channel = channel.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            let args = tagged_sleep_args(3000, "killed");
            let result = channel.call("test", "tagged_sleep", &args, PATIENCE);
            (result, started.elapsed())
        })
    };
    wait_started("killed");
    server.shutdown();
    let (result, took) = pending.join().unwrap();
    assert!(matches!(result, Err(RpcError::Closed(_))), "got {result:?}");
    assert!(
        took < Duration::from_millis(2500),
        "the call hung: {took:?}"
    );
}

#[test]
fn peer_closing_mid_call_fails_the_call_with_closed() {
    // A raw server that reads the request and hangs up without answering.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = [0u8; 64];
        let _ = std::io::Read::read(&mut stream, &mut buf);
    });
    let channel = RpcChannel::new(addr);
    let started = Instant::now();
    let result = channel.call("test", "echo", b"hello?", PATIENCE);
    assert!(matches!(result, Err(RpcError::Closed(_))), "got {result:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    server.join().unwrap();
}

#[test]
fn remote_errors_are_typed() {
    let server = start(ProviderConfig::default());
    let channel = RpcChannel::new(server.local_addr());
    match channel.call("nope", "echo", b"", PATIENCE) {
        Err(RpcError::Remote { status, .. }) => assert_eq!(status, rpc::RpcStatus::UnknownService),
        other => panic!("got {other:?}"),
    }
    match channel.call("test", "nope", b"", PATIENCE) {
        Err(RpcError::Remote { status, .. }) => assert_eq!(status, rpc::RpcStatus::UnknownMethod),
        other => panic!("got {other:?}"),
    }
    let reply: common::AddReply = channel
        .call_message("test", "add", &common::AddRequest { a: 2, b: 40 }, PATIENCE)
        .unwrap();
    assert_eq!(reply.sum, 42);
}

#[test]
fn busy_port_is_a_clear_bind_error() {
    let server = start(ProviderConfig::default());
    let mut provider = rpc::RpcProvider::new(ProviderConfig::default());
    provider.register(std::sync::Arc::new(common::TestService));
    let err = provider
        .start(server.local_addr())
        .err()
        .expect("bind must fail");
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    assert!(
        err.to_string().contains(&server.local_addr().to_string()),
        "{err}"
    );
}

#[test]
fn a_connection_closed_for_idleness_is_replaced_transparently() {
    let server = start(ProviderConfig {
        idle_timeout: Duration::from_millis(100),
        ..Default::default()
    });
    let channel = RpcChannel::new(server.local_addr());
    for round in 0..3u8 {
        assert_eq!(
            channel.call("test", "echo", &[round], PATIENCE).unwrap(),
            [round]
        );
        // Idleness is the subject here: outlive the provider's idle timeout.
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn an_oversize_request_is_refused_locally_and_the_connection_lives_on() {
    let server = start(ProviderConfig::default());
    let channel = rpc::RpcChannel::with_config(
        server.local_addr(),
        rpc::ChannelConfig {
            max_frame_bytes: 1024,
            ..Default::default()
        },
    );
    assert_eq!(
        channel.call("test", "echo", b"small", PATIENCE).unwrap(),
        b"small"
    );
    let result = channel.call("test", "echo", &[0; 2048], PATIENCE);
    assert!(
        matches!(
            result,
            Err(RpcError::TooLarge {
                len: 2048,
                max: 1024
            })
        ),
        "got {result:?}"
    );
    assert_eq!(
        channel.call("test", "echo", b"small", PATIENCE).unwrap(),
        b"small"
    );
}

/// A writer that finds the socket full gives up at its own deadline and
/// leaves the requests queued behind its own; the caller waiting for one
/// of them sends it itself once the peer reads again.
#[test]
fn requests_left_by_a_writer_that_gave_up_still_go_out() {
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (filled_tx, filled_rx) = crossbeam_channel::bounded::<()>(1);
    let (go_tx, go_rx) = crossbeam_channel::bounded::<()>(1);
    // A peer that reads nothing until told to, then answers call "b".
    let peer = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let deadline = Instant::now() + PATIENCE;
        while queued_bytes(stream.as_raw_fd()) < 16 << 10 {
            assert!(Instant::now() < deadline, "the big request never came");
            std::thread::sleep(Duration::from_millis(1));
        }
        filled_tx.send(()).unwrap();
        go_rx.recv_timeout(PATIENCE).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut buf = Vec::new();
        let mut chunk = vec![0u8; 1 << 16];
        loop {
            let n = stream.read(&mut chunk).expect("read requests");
            assert!(n > 0, "the channel closed before sending call b");
            buf.extend_from_slice(&chunk[..n]);
            while let Some((request, used)) = rpc::frame::decode_request(&buf, 64 << 20).unwrap() {
                buf.drain(..used);
                if request.header.service_name == b"b" {
                    let mut reply = Vec::new();
                    let call_id = request.header.call_id;
                    rpc::frame::encode_response(&mut reply, call_id, &Ok(request.args));
                    stream.write_all(&reply).unwrap();
                    return;
                }
            }
        }
    });
    let channel = RpcChannel::new(addr);
    let big = {
        let channel = channel.clone();
        std::thread::spawn(move || {
            channel.call("a", "m", &vec![0; 32 << 20], Duration::from_millis(300))
        })
    };
    filled_rx.recv_timeout(PATIENCE).unwrap();
    let small = {
        let channel = channel.clone();
        std::thread::spawn(move || channel.call("b", "m", b"hello", PATIENCE))
    };
    let result = big.join().unwrap();
    assert!(matches!(result, Err(RpcError::Timeout)), "got {result:?}");
    go_tx.send(()).unwrap();
    assert_eq!(small.join().unwrap().unwrap(), b"hello");
    peer.join().unwrap();
}

/// Bytes received on `fd` and not read yet.
fn queued_bytes(fd: i32) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int through the pointer we pass.
    let rc = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) };
    assert_eq!(rc, 0, "FIONREAD failed");
    n as usize
}
