//! Shared by the integration tests: a test service, a provider on a free
//! port, and raw-socket helpers that speak the wire format by hand.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rpc::frame::{self, ResponseFrame};
use rpc::{ProviderConfig, ProviderHandle, Responder, RpcChannel, RpcProvider, RpcStatus, Service};

/// Generous: the machine is small and busy.
pub const PATIENCE: Duration = Duration::from_secs(10);

#[derive(Clone, PartialEq, prost::Message)]
pub struct AddRequest {
    #[prost(int64, tag = "1")]
    pub a: i64,
    #[prost(int64, tag = "2")]
    pub b: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct AddReply {
    #[prost(int64, tag = "1")]
    pub sum: i64,
}

/// `test.echo` returns its args; `test.sleep` sleeps (args: u64 LE
/// milliseconds) then returns them; `test.panic` panics; `test.add` adds a
/// protobuf `AddRequest`; `test.later` answers from another thread;
/// `test.tagged_sleep` (8 bytes of ms, then a tag) records that it started.
pub struct TestService;

impl Service for TestService {
    fn name(&self) -> &str {
        "test"
    }

    fn call(&self, method: &[u8], args: &[u8], done: Responder) {
        match method {
            b"echo" => done.ok(args.to_vec()),
            b"sleep" => {
                let ms = u64::from_le_bytes(args.try_into().unwrap_or([0; 8]));
                std::thread::sleep(Duration::from_millis(ms));
                done.ok(args.to_vec());
            }
            b"tagged_sleep" if args.len() >= 8 => {
                let (ms, tag) = args.split_at(8);
                STARTED.lock().unwrap().push(tag.to_vec());
                std::thread::sleep(Duration::from_millis(u64::from_le_bytes(
                    ms.try_into().unwrap(),
                )));
                done.ok(tag.to_vec());
            }
            b"panic" => panic!("the test handler panics on purpose"),
            b"add" => match <AddRequest as prost::Message>::decode(args) {
                Ok(req) => done.ok(prost::Message::encode_to_vec(&AddReply {
                    sum: req.a + req.b,
                })),
                Err(e) => done.fail(RpcStatus::BadRequest, format!("bad AddRequest: {e}")),
            },
            b"later" => {
                let args = args.to_vec();
                std::thread::spawn(move || done.ok(args));
            }
            _ => done.fail(RpcStatus::UnknownMethod, "no such method"),
        }
    }
}

/// Tags of the `tagged_sleep` calls whose handler has started.
static STARTED: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());

pub fn tagged_sleep_args(ms: u64, tag: &str) -> Vec<u8> {
    let mut args = ms.to_le_bytes().to_vec();
    args.extend_from_slice(tag.as_bytes());
    args
}

/// Waits until the `tagged_sleep` handler for `tag` is running.
pub fn wait_started(tag: &str) {
    let deadline = Instant::now() + PATIENCE;
    while !STARTED.lock().unwrap().iter().any(|t| t == tag.as_bytes()) {
        assert!(Instant::now() < deadline, "handler {tag} never started");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The [`TestService`] methods under the name `inline`, registered to run
/// on the event loop: `inline.echo`, `inline.panic`, `inline.later` (which
/// keeps `done` and answers from another thread, like the KV server)...
pub struct InlineTestService;

impl Service for InlineTestService {
    fn name(&self) -> &str {
        "inline"
    }

    fn call(&self, method: &[u8], args: &[u8], done: Responder) {
        TestService.call(method, args, done)
    }
}

/// A provider serving `test` on workers and `inline` on the loop.
pub fn start_mixed(config: ProviderConfig) -> ProviderHandle {
    let mut provider = RpcProvider::new(config);
    provider.register(Arc::new(TestService));
    provider.register_inline(Arc::new(InlineTestService));
    provider
        .start("127.0.0.1:0".parse().unwrap())
        .expect("start provider")
}

pub fn start_with(config: ProviderConfig, addr: SocketAddr) -> ProviderHandle {
    let mut provider = RpcProvider::new(config);
    provider.register(Arc::new(TestService));
    provider.start(addr).expect("start provider")
}

pub fn start(config: ProviderConfig) -> ProviderHandle {
    start_with(config, "127.0.0.1:0".parse().unwrap())
}

pub fn sleep_args(ms: u64) -> Vec<u8> {
    ms.to_le_bytes().to_vec()
}

/// A fresh client gets an answer: the provider is still serving.
pub fn assert_serving(addr: SocketAddr) {
    let channel = RpcChannel::new(addr);
    let reply = channel
        .call("test", "echo", b"still there?", PATIENCE)
        .expect("provider still answers a fresh client");
    assert_eq!(reply, b"still there?");
}

pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream
}

pub fn request(service: &str, method: &str, call_id: u64, args: &[u8]) -> Vec<u8> {
    let mut buf = Vec::new();
    frame::encode_request(
        &mut buf,
        service.as_bytes(),
        method.as_bytes(),
        call_id,
        args,
    );
    buf
}

/// Reads one response frame from a raw socket.
pub fn read_response(stream: &mut TcpStream) -> ResponseFrame {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some((reply, used)) =
            frame::decode_response(&buf, frame::DEFAULT_MAX_FRAME_BYTES).unwrap()
        {
            assert_eq!(used, buf.len(), "exactly one reply expected");
            return reply;
        }
        let n = stream.read(&mut chunk).expect("read a reply");
        assert!(n > 0, "connection closed before a full reply");
        buf.extend_from_slice(&chunk[..n]);
    }
}

pub fn raw_call(
    stream: &mut TcpStream,
    service: &str,
    method: &str,
    call_id: u64,
    args: &[u8],
) -> ResponseFrame {
    stream
        .write_all(&request(service, method, call_id, args))
        .unwrap();
    read_response(stream)
}

/// The provider closes `stream` (EOF or reset) well within the patience.
pub fn assert_closed_by_peer(stream: &mut TcpStream) {
    let deadline = Instant::now() + PATIENCE;
    let mut chunk = [0u8; 4096];
    loop {
        assert!(
            Instant::now() < deadline,
            "provider did not close the connection"
        );
        match stream.read(&mut chunk) {
            Ok(0) => return,
            Ok(_) => continue,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                panic!("provider did not close the connection: {e}")
            }
            Err(_) => return,
        }
    }
}
