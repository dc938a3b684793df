//! Where calls run and how answers leave: inline handlers on the event loop
//! (a panic, an answer from another thread, one connection among many), and
//! answers written straight from many workers at once, with nothing lost,
//! duplicated or mixed up.

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::time::Duration;

use common::{connect, request, start_mixed, PATIENCE};
use rpc::frame::{self, DEFAULT_MAX_FRAME_BYTES};
use rpc::{ProviderConfig, RpcChannel, RpcError, RpcStatus};

#[test]
fn a_panicking_inline_handler_answers_handler_failed_and_the_loop_lives_on() {
    let server = start_mixed(ProviderConfig::default());
    let channel = RpcChannel::new(server.local_addr());
    for _ in 0..3 {
        let result = channel.call("inline", "panic", b"", PATIENCE);
        assert!(
            matches!(
                result,
                Err(RpcError::Remote {
                    status: RpcStatus::HandlerFailed,
                    ..
                })
            ),
            "got {result:?}"
        );
        // The same connection and a fresh one are still served, inline and
        // on workers.
        assert_eq!(
            channel.call("inline", "echo", b"a", PATIENCE).unwrap(),
            b"a"
        );
        assert_eq!(channel.call("test", "echo", b"b", PATIENCE).unwrap(), b"b");
        common::assert_serving(server.local_addr());
    }
}

#[test]
fn an_inline_call_may_be_answered_later_from_another_thread() {
    let server = start_mixed(ProviderConfig::default());
    let channel = RpcChannel::new(server.local_addr());
    for i in 0..50u32 {
        let payload = format!("later {i}").into_bytes();
        assert_eq!(
            channel.call("inline", "later", &payload, PATIENCE).unwrap(),
            payload
        );
    }
}

#[test]
fn inline_and_worker_calls_on_many_connections_each_get_their_own_replies() {
    let server = start_mixed(ProviderConfig {
        workers: 4,
        ..Default::default()
    });
    std::thread::scope(|s| {
        for c in 0..6u32 {
            // One connection per channel, four callers on each.
            let channel = RpcChannel::new(server.local_addr());
            for t in 0..4u32 {
                let channel = channel.clone();
                s.spawn(move || {
                    for i in 0..150u32 {
                        let service = if (i + t) % 2 == 0 { "inline" } else { "test" };
                        let method = if i % 5 == 0 { "later" } else { "echo" };
                        let payload: Vec<u8> = format!("conn {c} caller {t} call {i} ")
                            .into_bytes()
                            .into_iter()
                            .cycle()
                            .take(20 + (i as usize * 131 + c as usize * 17) % 5000)
                            .collect();
                        let reply = channel.call(service, method, &payload, PATIENCE).unwrap();
                        assert_eq!(
                            reply, payload,
                            "conn {c} caller {t} call {i} got someone else's reply"
                        );
                    }
                });
            }
        }
    });
}

/// Many threads answer one connection at once while its peer does not read,
/// so answers go out directly until the socket is full, then queue behind
/// each other and wait for it to drain: every call is answered exactly once,
/// with its own body. Worker answers are batched while more calls are
/// queued; inline `later` answers come from threads of their own and are
/// written straight to the socket unless bytes are waiting.
#[test]
fn answers_completed_by_many_threads_at_once_are_all_delivered_intact() {
    flood_then_read(|id| match id % 3 {
        0 => ("inline", "later"),
        1 => ("test", "later"),
        _ => ("test", "echo"),
    });
}

/// Only answers written by threads other than the loop: the first to find
/// the socket full leaves its bytes queued, the rest queue behind them, and
/// the loop finishes the job on the socket's writable edge.
#[test]
fn direct_writes_that_find_the_socket_full_are_finished_by_the_loop() {
    flood_then_read(|_| ("inline", "later"));
}

fn flood_then_read(route: fn(u64) -> (&'static str, &'static str)) {
    const CALLS: u64 = 1500;
    let server = start_mixed(ProviderConfig {
        workers: 16,
        // Room for every answer (about 18 MB, more than the kernel buffers
        // hold), so the provider keeps reading while nobody takes them.
        max_unsent_bytes_per_connection: 64 << 20,
        ..Default::default()
    });
    let mut writer = connect(server.local_addr());
    let mut reader = writer.try_clone().unwrap();
    let body = |id: u64| -> Vec<u8> {
        let len = 100 + (id as usize * 977) % 24_000;
        id.to_le_bytes().iter().copied().cycle().take(len).collect()
    };
    let (all_sent_tx, all_sent_rx) = crossbeam_channel::bounded::<()>(1);
    let reading = std::thread::spawn(move || {
        // Start reading only once every call is out, so the answers pile
        // up and fill the socket.
        all_sent_rx.recv_timeout(PATIENCE).expect("writer stalled");
        let mut answers: HashMap<u64, frame::ResponseFrame> = HashMap::new();
        let mut buf = Vec::new();
        let mut chunk = vec![0u8; 1500];
        while (answers.len() as u64) < CALLS {
            let n = reader.read(&mut chunk).expect("read answers");
            assert!(n > 0, "connection closed with {} answers", answers.len());
            buf.extend_from_slice(&chunk[..n]);
            let mut used_total = 0;
            while let Some((reply, used)) =
                frame::decode_response(&buf[used_total..], DEFAULT_MAX_FRAME_BYTES).unwrap()
            {
                used_total += used;
                let id = reply.header.call_id;
                assert!(
                    answers.insert(id, reply).is_none(),
                    "call {id} answered twice"
                );
            }
            buf.drain(..used_total);
        }
        answers
    });
    for id in 0..CALLS {
        let (service, method) = route(id);
        writer
            .write_all(&request(service, method, id, &body(id)))
            .unwrap();
    }
    all_sent_tx.send(()).unwrap();
    let answers = reading.join().unwrap();
    for id in 0..CALLS {
        let reply = &answers[&id];
        assert_eq!(reply.header.status, RpcStatus::Ok as i32, "call {id}");
        assert!(reply.body == body(id), "call {id} got a wrong body");
    }
}

/// The caller reading the socket for everyone gives up at its deadline: a
/// caller still waiting must take over, or its reply would never be read.
#[test]
fn a_reading_caller_that_times_out_hands_reading_over() {
    let server = start_mixed(ProviderConfig::default());
    let channel = RpcChannel::new(server.local_addr());
    let leader = {
        let channel = channel.clone();
        std::thread::spawn(move || {
            let started = std::time::Instant::now();
            let result = channel.call(
                "test",
                "tagged_sleep",
                &common::tagged_sleep_args(3000, "leader"),
                Duration::from_millis(300),
            );
            (result, started.elapsed())
        })
    };
    common::wait_started("leader");
    let follower = channel.call(
        "test",
        "tagged_sleep",
        &common::tagged_sleep_args(800, "follower"),
        PATIENCE,
    );
    assert_eq!(follower.unwrap(), b"follower");
    let (result, took) = leader.join().unwrap();
    assert!(matches!(result, Err(RpcError::Timeout)), "got {result:?}");
    assert!(
        took < Duration::from_millis(2500),
        "timeout came late: {took:?}"
    );
}

/// Callers timing out all the time among callers that do not: reading
/// passes from caller to caller and every patient call is answered.
#[test]
fn callers_timing_out_among_patient_ones_never_strand_a_reply() {
    let server = start_mixed(ProviderConfig::default());
    let channel = RpcChannel::new(server.local_addr());
    std::thread::scope(|s| {
        for t in 0..8u32 {
            let channel = channel.clone();
            s.spawn(move || {
                for i in 0..40u32 {
                    if (i + t) % 4 == 0 {
                        let result = channel.call(
                            "test",
                            "sleep",
                            &common::sleep_args(30),
                            Duration::from_millis(5),
                        );
                        // On a busy machine the caller may only get to look
                        // after the reply came in: then it is the reply.
                        match result {
                            Err(RpcError::Timeout) => {}
                            Ok(reply) => assert_eq!(reply, common::sleep_args(30)),
                            Err(e) => panic!("got {e:?}"),
                        }
                    } else {
                        let payload = format!("{t}/{i}").into_bytes();
                        let service = if i % 2 == 0 { "inline" } else { "test" };
                        let reply = channel.call(service, "echo", &payload, PATIENCE).unwrap();
                        assert_eq!(reply, payload);
                    }
                }
            });
        }
    });
}
