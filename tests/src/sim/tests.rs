//! The network's own tests, with a toy echo service.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rpc::{Responder, Service};

use super::{CallError, Network, Server};

/// Answers `echo` with its arguments reversed, `slow` after 2 s.
struct Echo {
    handled: AtomicU64,
}

impl Service for Echo {
    fn name(&self) -> &str {
        "echo"
    }

    fn call(&self, method: &[u8], args: &[u8], done: Responder) {
        self.handled.fetch_add(1, Ordering::Relaxed);
        if method == b"slow" {
            thread::sleep(Duration::from_secs(2));
        }
        done.ok(args.iter().rev().copied().collect());
    }
}

fn echo_network() -> (Network, Arc<Echo>) {
    let net = Network::new();
    let echo = Arc::new(Echo {
        handled: AtomicU64::new(0),
    });
    let mut server = Server::new();
    server.add_service(echo.clone());
    net.add_server("s", server);
    (net, echo)
}

#[test]
fn reliable_call_is_delivered_and_counted() {
    let (net, echo) = echo_network();
    let end = net.make_end("e");
    net.connect("e", "s");
    assert_eq!(
        end.call("echo", "echo", b"abc"),
        Err(CallError::Unreachable)
    );
    net.enable("e", true);
    assert_eq!(end.call("echo", "echo", b"abc"), Ok(b"cba".to_vec()));
    assert_eq!(echo.handled.load(Ordering::Relaxed), 1);
    assert_eq!(net.rpc_total(), 2);
    assert_eq!(net.bytes_total(), 3 + 3 + 3);
    assert_eq!(net.server_rpc_count("s"), 1);
    assert!(matches!(
        end.call("nope", "echo", b""),
        Err(CallError::Remote(..))
    ));
}

#[test]
fn deleted_server_is_unreachable() {
    let (net, _) = echo_network();
    let end = net.make_end("e");
    net.connect("e", "s");
    net.enable("e", true);
    net.delete_server("s");
    let started = Instant::now();
    assert_eq!(end.call("echo", "echo", b"x"), Err(CallError::Unreachable));
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!(net.server_rpc_count("s"), 0);
}

#[test]
fn disabling_an_end_fails_its_call_in_progress() {
    let (net, echo) = echo_network();
    let end = net.make_end("e");
    net.connect("e", "s");
    net.enable("e", true);
    let caller = thread::spawn(move || {
        let started = Instant::now();
        (end.call("echo", "slow", b"x"), started.elapsed())
    });
    while echo.handled.load(Ordering::Relaxed) == 0 {
        thread::sleep(Duration::from_millis(5));
    }
    net.enable("e", false);
    let (result, took) = caller.join().unwrap();
    assert_eq!(result, Err(CallError::ServerDied));
    assert!(took < Duration::from_millis(1500), "took {took:?}");
}

#[test]
fn unreliable_network_loses_some_requests_and_replies() {
    let (net, echo) = echo_network();
    net.set_reliable(false);
    let end = net.make_end("e");
    net.connect("e", "s");
    net.enable("e", true);
    let calls = 200;
    let ok = (0..calls)
        .filter(|_| end.call("echo", "echo", b"x").is_ok())
        .count() as u64;
    let handled = echo.handled.load(Ordering::Relaxed);
    // ~81% succeed; handlers ran for ~90% (lost replies ran them too).
    assert!((120..=190).contains(&ok), "{ok} of {calls} succeeded");
    assert!(handled > ok, "handled {handled}, ok {ok}");
}

#[test]
fn long_reordering_delays_many_replies() {
    let (net, _) = echo_network();
    net.set_long_reordering(true);
    let end = net.make_end("e");
    net.connect("e", "s");
    net.enable("e", true);
    let callers: Vec<_> = (0..12)
        .map(|_| {
            let end = end.clone();
            thread::spawn(move || {
                let started = Instant::now();
                end.call("echo", "echo", b"x").unwrap();
                started.elapsed()
            })
        })
        .collect();
    let slow = callers
        .into_iter()
        .map(|c| c.join().unwrap())
        .filter(|took| *took >= Duration::from_millis(200))
        .count();
    // Each is delayed with probability 2/3: all fast is a 1-in-500000 event.
    assert!(slow >= 1, "no reply was delayed");
}

#[test]
fn reconnecting_cuts_a_long_timeout_short() {
    let (net, _) = echo_network();
    net.set_long_delays(true);
    let end = net.make_end("e");
    net.connect("e", "s");
    let mut took = Duration::ZERO;
    // A call to a disabled end waits 0–7 s; reconnecting ends the wait.
    for _ in 0..3 {
        let caller = {
            let end = end.clone();
            thread::spawn(move || {
                let started = Instant::now();
                (end.call("echo", "echo", b"x"), started.elapsed())
            })
        };
        thread::sleep(Duration::from_millis(20));
        net.enable("e", true);
        let (result, elapsed) = caller.join().unwrap();
        assert_eq!(result, Err(CallError::Unreachable));
        took = took.max(elapsed);
        net.enable("e", false);
    }
    assert!(took < Duration::from_secs(2), "took {took:?}");
}

#[test]
fn a_held_request_is_lost_to_its_caller_and_delivered_later() {
    let (net, echo) = echo_network();
    let end = net.make_end("e");
    net.connect("e", "s");
    net.enable("e", true);
    assert_eq!(net.take_held("e"), None);
    net.hold_next("e");
    assert_eq!(
        end.call("echo", "echo", b"abc"),
        Err(CallError::RequestLost)
    );
    assert_eq!(echo.handled.load(Ordering::Relaxed), 0);
    // Only one request is held; the next goes through.
    assert_eq!(end.call("echo", "echo", b"xy"), Ok(b"yx".to_vec()));
    let held = net.take_held("e").expect("the request was kept");
    assert_eq!(held.args, b"abc".to_vec());
    let other = net.make_end("other");
    net.connect("other", "s");
    net.enable("other", true);
    assert_eq!(held.deliver(&other), Ok(b"cba".to_vec()));
    assert_eq!(echo.handled.load(Ordering::Relaxed), 2);
    // A hold never used is cancelled by take_held.
    net.hold_next("e");
    assert_eq!(net.take_held("e"), None);
    assert_eq!(end.call("echo", "echo", b"z"), Ok(b"z".to_vec()));
}
