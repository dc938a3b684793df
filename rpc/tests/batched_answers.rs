//! Answers completed in a burst (`rpc::batch_answers`): held back while
//! the burst runs, then written, all of them, once it ends. What a
//! KvServer's applier does with the answers of a batch of entries.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::sync::{mpsc, Arc, Mutex};

use common::{connect, request, PATIENCE};
use rpc::frame;
use rpc::{ProviderConfig, Responder, RpcProvider, Service};

/// `parked.hold` answers nothing: it hands its args and its `done` to the
/// test.
struct Parked(Mutex<mpsc::Sender<(Vec<u8>, Responder)>>);

impl Service for Parked {
    fn name(&self) -> &str {
        "parked"
    }

    fn call(&self, _method: &[u8], args: &[u8], done: Responder) {
        let _ = self.0.lock().unwrap().send((args.to_vec(), done));
    }
}

/// Reads whole reply frames until `n` are in; returns their call ids and bodies.
fn read_replies(stream: &mut std::net::TcpStream, n: usize) -> Vec<(u64, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    while got.len() < n {
        while let Some((reply, used)) =
            frame::decode_response(&buf, frame::DEFAULT_MAX_FRAME_BYTES).unwrap()
        {
            got.push((reply.header.call_id, reply.body));
            buf.drain(..used);
        }
        if got.len() == n {
            break;
        }
        let read = stream.read(&mut chunk).expect("read the replies");
        assert!(
            read > 0,
            "connection closed with {} of {n} replies",
            got.len()
        );
        buf.extend_from_slice(&chunk[..read]);
    }
    got
}

#[test]
fn answers_of_a_burst_leave_only_when_it_ends_and_all_arrive() {
    const CALLS: u64 = 20;
    let (parked_tx, parked) = mpsc::channel();
    let mut provider = RpcProvider::new(ProviderConfig::default());
    provider.register(Arc::new(Parked(Mutex::new(parked_tx))));
    let handle = provider.start("127.0.0.1:0".parse().unwrap()).unwrap();
    let mut stream = connect(handle.local_addr());
    let mut requests = Vec::new();
    for call_id in 1..=CALLS {
        requests.extend(request("parked", "hold", call_id, &call_id.to_le_bytes()));
    }
    stream.write_all(&requests).unwrap();
    let held: Vec<(Vec<u8>, Responder)> = (0..CALLS)
        .map(|_| {
            parked
                .recv_timeout(PATIENCE)
                .expect("every call reaches the handler")
        })
        .collect();

    stream.set_nonblocking(true).unwrap();
    rpc::batch_answers(|| {
        for (args, done) in held {
            let id = u64::from_le_bytes(args.try_into().unwrap());
            done.ok(format!("answer {id}").into_bytes());
        }
        // Outside a burst each answer is written as it completes, and on
        // loopback it is readable as soon as the write returns.
        let mut probe = [0u8; 1];
        let early = stream.read(&mut probe);
        assert!(
            matches!(&early, Err(e) if e.kind() == ErrorKind::WouldBlock),
            "an answer left before the burst ended: {early:?}"
        );
    });
    stream.set_nonblocking(false).unwrap();
    let mut replies = read_replies(&mut stream, CALLS as usize);
    replies.sort();
    let want: Vec<(u64, Vec<u8>)> = (1..=CALLS)
        .map(|id| (id, format!("answer {id}").into_bytes()))
        .collect();
    assert_eq!(replies, want);
}
