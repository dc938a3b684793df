//! Bad input over raw sockets: each case closes only the offending
//! connection (or earns an error reply on a connection that stays usable),
//! and the provider keeps answering everyone else.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::{
    assert_closed_by_peer, assert_serving, connect, raw_call, read_response, request, start,
    PATIENCE,
};
use rpc::{ProviderConfig, RpcStatus};

/// Sends `bytes` on a fresh connection and expects the provider to close it.
fn expect_closed_after(bytes: &[u8], config: ProviderConfig) {
    let server = start(config);
    let mut stream = connect(server.local_addr());
    stream.write_all(bytes).unwrap();
    assert_closed_by_peer(&mut stream);
    assert_serving(server.local_addr());
}

fn small_limit() -> ProviderConfig {
    ProviderConfig {
        max_frame_bytes: 1024,
        ..Default::default()
    }
}

#[test]
fn oversize_header_length_closes_the_connection() {
    // varint 1_000_000, more than the 1 KiB limit; no header follows.
    expect_closed_after(&[0xc0, 0x84, 0x3d], small_limit());
}

#[test]
fn oversize_args_size_closes_the_connection() {
    let mut frame = request("test", "echo", 1, &[0; 2048]);
    frame.truncate(32); // the header declares 2048 bytes of args; send a few
    expect_closed_after(&frame, small_limit());
}

#[test]
fn a_frame_over_the_limit_closes_only_its_own_connection() {
    let server = start(small_limit());
    let mut neighbour = connect(server.local_addr());
    assert_eq!(
        raw_call(&mut neighbour, "test", "echo", 1, b"hi").body,
        b"hi"
    );
    // Args of exactly the limit are fine; one byte more closes the sender.
    let at_limit = vec![7u8; 1024];
    let mut sender = connect(server.local_addr());
    assert_eq!(
        raw_call(&mut sender, "test", "echo", 1, &at_limit).body,
        at_limit
    );
    // The provider may close before it has read everything: ignore EPIPE.
    let _ = sender.write_all(&request("test", "echo", 2, &[7u8; 1025]));
    assert_closed_by_peer(&mut sender);
    // The connection opened before it is untouched, calls in the middle
    // of it included.
    assert_eq!(
        raw_call(&mut neighbour, "test", "echo", 2, b"still").body,
        b"still"
    );
    assert_eq!(
        raw_call(&mut neighbour, "test", "echo", 3, &at_limit).body,
        at_limit
    );
    assert_serving(server.local_addr());
}

#[test]
fn malformed_varint_closes_the_connection() {
    expect_closed_after(&[0xff; 8], ProviderConfig::default());
}

#[test]
fn undecodable_header_closes_the_connection() {
    // Length 3, then a key with field number 0, which protobuf forbids.
    expect_closed_after(&[3, 0x00, 0x01, 0x02], ProviderConfig::default());
}

#[test]
fn garbage_closes_the_connection() {
    // An HTTP request: 'G' (71) reads as a header length, and the next 71
    // bytes are not a protobuf header.
    let mut garbage =
        b"GET / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: definitely-not-rpc\r\n".to_vec();
    garbage.extend_from_slice(&[b'x'; 100]);
    expect_closed_after(&garbage, ProviderConfig::default());
}

#[test]
fn truncated_frame_then_eof_closes_the_connection() {
    let server = start(ProviderConfig::default());
    let mut stream = connect(server.local_addr());
    let frame = request("test", "echo", 1, b"cut short");
    stream.write_all(&frame[..frame.len() - 3]).unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    assert_closed_by_peer(&mut stream);
    assert_serving(server.local_addr());
}

#[test]
fn unknown_service_and_method_get_error_replies_on_a_usable_connection() {
    let server = start(ProviderConfig::default());
    let mut stream = connect(server.local_addr());
    let reply = raw_call(&mut stream, "noSuchService", "echo", 1, b"");
    assert_eq!(reply.header.call_id, 1);
    assert_eq!(reply.header.status, RpcStatus::UnknownService as i32);
    let reply = raw_call(&mut stream, "test", "noSuchMethod", 2, b"");
    assert_eq!(reply.header.call_id, 2);
    assert_eq!(reply.header.status, RpcStatus::UnknownMethod as i32);
    let reply = raw_call(&mut stream, "test", "echo", 3, b"fine");
    assert_eq!(reply.header.status, RpcStatus::Ok as i32);
    assert_eq!(reply.body, b"fine");
    assert_serving(server.local_addr());
}

#[test]
fn undecodable_args_get_bad_request_on_a_usable_connection() {
    let server = start(ProviderConfig::default());
    let mut stream = connect(server.local_addr());
    // 0xff is no valid protobuf key: AddRequest cannot decode it.
    let reply = raw_call(&mut stream, "test", "add", 9, &[0xff, 0xff, 0xff]);
    assert_eq!(reply.header.call_id, 9);
    assert_eq!(reply.header.status, RpcStatus::BadRequest as i32);
    let args = prost::Message::encode_to_vec(&common::AddRequest { a: 1, b: 2 });
    let reply = raw_call(&mut stream, "test", "add", 10, &args);
    assert_eq!(reply.header.status, RpcStatus::Ok as i32);
    let sum: common::AddReply = prost::Message::decode(reply.body.as_slice()).unwrap();
    assert_eq!(sum.sum, 3);
}

#[test]
fn panicking_handler_answers_handler_failed_and_serving_goes_on() {
    let server = start(ProviderConfig {
        workers: 1, // the one worker must survive the panic
        ..Default::default()
    });
    let mut stream = connect(server.local_addr());
    for call_id in 1..=3 {
        let reply = raw_call(&mut stream, "test", "panic", call_id, b"");
        assert_eq!(reply.header.status, RpcStatus::HandlerFailed as i32);
        assert!(String::from_utf8_lossy(&reply.header.error).contains("panicked"));
    }
    let reply = raw_call(&mut stream, "test", "echo", 4, b"alive");
    assert_eq!(reply.body, b"alive");
    assert_serving(server.local_addr());
}

#[test]
fn connections_beyond_the_cap_are_closed_at_once() {
    let server = start(ProviderConfig {
        max_connections: 2,
        ..Default::default()
    });
    let mut first = connect(server.local_addr());
    let mut second = connect(server.local_addr());
    // Make sure both are accepted (and counted) before the third arrives.
    assert_eq!(raw_call(&mut first, "test", "echo", 1, b"1").body, b"1");
    assert_eq!(raw_call(&mut second, "test", "echo", 1, b"2").body, b"2");
    let mut third = connect(server.local_addr());
    let _ = third.write_all(&request("test", "echo", 1, b"3"));
    assert_closed_by_peer(&mut third);
    // The first two are untouched; closing one makes room again.
    assert_eq!(raw_call(&mut first, "test", "echo", 2, b"1").body, b"1");
    drop(second);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let mut again = connect(server.local_addr());
        let _ = again.write_all(&request("test", "echo", 1, b"4"));
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read_response(&mut again))) {
            Ok(reply) => {
                assert_eq!(reply.body, b"4");
                break;
            }
            // The provider may not have seen the close yet.
            Err(_) => assert!(Instant::now() < deadline, "no room after a close"),
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn idle_connections_are_closed() {
    let server = start(ProviderConfig {
        idle_timeout: Duration::from_millis(200),
        ..Default::default()
    });
    let mut idle = connect(server.local_addr());
    assert_eq!(raw_call(&mut idle, "test", "echo", 1, b"hi").body, b"hi");
    let started = Instant::now();
    assert_closed_by_peer(&mut idle);
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "closed too early"
    );
    assert_serving(server.local_addr());
}

#[test]
fn a_connection_with_a_slow_handler_is_not_idle() {
    let server = start(ProviderConfig {
        idle_timeout: Duration::from_millis(100),
        ..Default::default()
    });
    let mut stream = connect(server.local_addr());
    // The call takes longer than the idle timeout; its reply still arrives.
    let reply = raw_call(&mut stream, "test", "sleep", 1, &common::sleep_args(400));
    assert_eq!(reply.header.status, RpcStatus::Ok as i32);
}

#[test]
fn many_frames_in_one_write_are_all_answered() {
    let server = start(ProviderConfig::default());
    let mut stream = connect(server.local_addr());
    let mut bytes = Vec::new();
    for id in 0..100u64 {
        bytes.extend_from_slice(&request("test", "echo", id, &id.to_le_bytes()));
    }
    stream.write_all(&bytes).unwrap();
    let mut seen = [false; 100];
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut answered = 0;
    while answered < 100 {
        while let Some((reply, used)) =
            rpc::frame::decode_response(&buf, rpc::frame::DEFAULT_MAX_FRAME_BYTES).unwrap()
        {
            buf.drain(..used);
            let id = reply.header.call_id;
            assert_eq!(reply.body, id.to_le_bytes());
            assert!(!seen[id as usize], "call {id} answered twice");
            seen[id as usize] = true;
            answered += 1;
        }
        if answered < 100 {
            let n = std::io::Read::read(&mut stream, &mut chunk).unwrap();
            assert!(n > 0);
            buf.extend_from_slice(&chunk[..n]);
        }
    }
}

#[test]
fn a_peer_that_never_reads_is_throttled_not_fatal() {
    // Tiny limits: the provider must stop reading this peer, not buffer
    // without bound, and still serve others.
    let server = start(ProviderConfig {
        max_in_flight_per_connection: 4,
        max_unsent_bytes_per_connection: 4096,
        ..Default::default()
    });
    let mut hog = connect(server.local_addr());
    hog.set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let frame = request("test", "echo", 1, &[7u8; 8192]);
    let started = Instant::now();
    // Keep writing until the kernel buffers on both sides are full.
    while hog.write_all(&frame).is_ok() {
        assert!(
            started.elapsed() < PATIENCE,
            "the provider read without bound"
        );
    }
    assert_serving(server.local_addr());
}
