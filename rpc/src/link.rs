//! One live TCP connection of an [`RpcChannel`](crate::RpcChannel): the calls
//! waiting on it, the shared write queue its callers flush in turn, and the
//! reader thread that routes each reply to its caller by call id.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::frame::{self, ResponseFrame};
use crate::{RpcError, RpcStatus};

/// A connection unused for this long may have been closed by the peer
/// without our reader noticing yet: check before writing on it.
/// (Under load flushes follow each other closer than this, so the extra
/// syscall is only paid by a link that has been quiet.)
const STALE_AFTER: Duration = Duration::from_millis(1);
/// A blocked write gives up the socket this often to look at its deadline.
const WRITE_TICK: Duration = Duration::from_millis(20);
const READ_CHUNK: usize = 64 * 1024;

/// How one call on a link ended, short of a reply.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The request certainly never reached the peer: safe to retry elsewhere.
    NotSent(String),
    Rpc(RpcError),
}

/// Where the reader thread leaves one call's reply.
struct Slot {
    result: Mutex<Option<Result<Vec<u8>, Failure>>>,
    ready: Condvar,
}

impl Slot {
    fn fill(&self, result: Result<Vec<u8>, Failure>) {
        *self.result.lock() = Some(result);
        self.ready.notify_one();
    }
}

struct Calls {
    pending: HashMap<u64, Arc<Slot>>,
    /// Why the link died; once set, no call is added.
    dead: Option<String>,
}

/// Encoded requests waiting for whichever caller holds the socket.
struct WriteQueue {
    buf: Vec<u8>,
    /// (call id, end offset in `buf`) of each queued frame, to know which
    /// calls never left if a write fails.
    frames: Vec<(u64, usize)>,
    /// A caller is writing; the others just queue and wait for replies.
    flushing: bool,
    last_flush: Instant,
    spare_buf: Vec<u8>,
    spare_frames: Vec<(u64, usize)>,
}

pub(crate) struct Link {
    stream: TcpStream,
    peer: SocketAddr,
    max_frame_bytes: usize,
    dead: AtomicBool,
    calls: Mutex<Calls>,
    queue: Mutex<WriteQueue>,
}

impl Link {
    /// Connects to `peer` within `timeout` and starts the reader thread.
    pub fn open(
        peer: SocketAddr,
        timeout: Duration,
        max_frame_bytes: usize,
    ) -> io::Result<Arc<Link>> {
        let stream = TcpStream::connect_timeout(&peer, timeout)?;
        stream.set_nodelay(true)?;
        stream.set_write_timeout(Some(WRITE_TICK))?;
        let reader = stream.try_clone()?;
        let link = Arc::new(Link {
            stream,
            peer,
            max_frame_bytes,
            dead: AtomicBool::new(false),
            calls: Mutex::new(Calls {
                pending: HashMap::new(),
                dead: None,
            }),
            queue: Mutex::new(WriteQueue {
                buf: Vec::new(),
                frames: Vec::new(),
                flushing: false,
                last_flush: Instant::now(),
                spare_buf: Vec::new(),
                spare_frames: Vec::new(),
            }),
        });
        let for_reader = link.clone();
        std::thread::Builder::new()
            .name(format!("rpc-reader-{peer}"))
            .spawn(move || for_reader.read_replies(reader))?;
        tracing::debug!(%peer, "rpc channel connected");
        Ok(link)
    }

    pub fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Acquire)
    }

    /// Closes the socket; the reader thread fails what is pending and exits.
    pub fn close(&self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }

    /// Sends one call and waits for its reply until `deadline`.
    pub fn call(
        &self,
        call_id: u64,
        service: &str,
        method: &str,
        args: &[u8],
        deadline: Instant,
    ) -> Result<Vec<u8>, Failure> {
        let slot = Arc::new(Slot {
            result: Mutex::new(None),
            ready: Condvar::new(),
        });
        {
            // Registered before a byte is written: the reply may come back
            // before `send` returns.
            let mut calls = self.calls.lock();
            if let Some(reason) = &calls.dead {
                return Err(Failure::NotSent(reason.clone()));
            }
            calls.pending.insert(call_id, slot.clone());
        }
        self.send(
            call_id,
            service.as_bytes(),
            method.as_bytes(),
            args,
            deadline,
        );
        let mut result = slot.result.lock();
        while result.is_none() {
            if slot.ready.wait_until(&mut result, deadline).timed_out() {
                break;
            }
        }
        if let Some(result) = result.take() {
            return result;
        }
        drop(result);
        self.calls.lock().pending.remove(&call_id);
        // The reader may have taken the slot just before we gave up.
        let late = slot.result.lock().take();
        late.unwrap_or(Err(Failure::Rpc(RpcError::Timeout)))
    }

    /// Queues the request; if no other caller is writing, writes the queue
    /// (this request and any that others add meanwhile) in as few syscalls
    /// as possible. Failures reach the caller through its slot.
    fn send(&self, call_id: u64, service: &[u8], method: &[u8], args: &[u8], deadline: Instant) {
        let check_stale = {
            let mut queue = self.queue.lock();
            frame::encode_request(&mut queue.buf, service, method, call_id, args);
            let end = queue.buf.len();
            queue.frames.push((call_id, end));
            if queue.flushing {
                return;
            }
            queue.flushing = true;
            queue.last_flush.elapsed() >= STALE_AFTER
        };
        if check_stale {
            if let Some(reason) = self.peer_closed() {
                self.die(&format!("stale connection: {reason}"), Vec::new());
                return;
            }
        }
        self.flush(deadline);
    }

    /// Writes queued requests until the queue is empty, the socket fails or
    /// the socket blocks past `deadline` (the next caller then takes over).
    fn flush(&self, deadline: Instant) {
        let (mut batch, mut frames) = {
            let mut queue = self.queue.lock();
            (
                std::mem::take(&mut queue.spare_buf),
                std::mem::take(&mut queue.spare_frames),
            )
        };
        loop {
            {
                let mut queue = self.queue.lock();
                queue.last_flush = Instant::now();
                if queue.buf.is_empty() || self.is_dead() {
                    queue.flushing = false;
                    queue.spare_buf = batch;
                    queue.spare_frames = frames;
                    return;
                }
                std::mem::swap(&mut batch, &mut queue.buf);
                std::mem::swap(&mut frames, &mut queue.frames);
            }
            let mut written = 0;
            while written < batch.len() {
                match (&self.stream).write(&batch[written..]) {
                    Ok(0) => {
                        self.die(
                            "the socket accepts no more bytes",
                            unsent_calls(&frames, written),
                        );
                        return;
                    }
                    Ok(n) => written += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                        ) =>
                    {
                        if Instant::now() >= deadline {
                            self.requeue(&batch[written..], &frames, written);
                            return;
                        }
                    }
                    Err(e) => {
                        // std writes with MSG_NOSIGNAL: a dead peer is EPIPE
                        // here, never a SIGPIPE.
                        self.die(
                            &format!("write failed: {e}"),
                            unsent_calls(&frames, written),
                        );
                        return;
                    }
                }
            }
            batch.clear();
            frames.clear();
        }
    }

    /// Puts back the unwritten tail of a batch in front of what others
    /// queued meanwhile, and hands the socket to the next caller.
    fn requeue(&self, rest: &[u8], frames: &[(u64, usize)], written: usize) {
        let mut queue = self.queue.lock();
        let mut buf = Vec::with_capacity(rest.len() + queue.buf.len());
        buf.extend_from_slice(rest);
        buf.extend_from_slice(&queue.buf);
        let shift = rest.len();
        let mut all: Vec<(u64, usize)> = frames
            .iter()
            .filter(|&&(_, end)| end > written)
            .map(|&(id, end)| (id, end - written))
            .collect();
        all.extend(queue.frames.iter().map(|&(id, end)| (id, end + shift)));
        queue.buf = buf;
        queue.frames = all;
        queue.flushing = false;
    }

    /// Whether the peer has already closed (a peek that does not block and
    /// does not consume).
    fn peer_closed(&self) -> Option<String> {
        let mut byte = 0u8;
        // SAFETY: recv into a valid one-byte buffer on a socket we own.
        let n = unsafe {
            libc::recv(
                self.stream.as_raw_fd(),
                (&mut byte as *mut u8).cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        match n {
            0 => Some("the peer closed the connection".to_string()),
            n if n > 0 => None,
            _ => {
                let e = io::Error::last_os_error();
                match e.kind() {
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => None,
                    _ => Some(e.to_string()),
                }
            }
        }
    }

    /// Marks the link dead and fails every pending call: with Closed if the
    /// kernel may have taken its request, as not sent if it was still queued
    /// or is in `unsent` (the calls of a failed write not fully written).
    fn die(&self, reason: &str, unsent: Vec<u64>) {
        let not_sent: Vec<u64> = {
            let mut queue = self.queue.lock();
            let mut ids: Vec<u64> = queue.frames.iter().map(|&(id, _)| id).collect();
            ids.extend(unsent);
            queue.buf.clear();
            queue.frames.clear();
            queue.flushing = false;
            ids
        };
        let pending = {
            let mut calls = self.calls.lock();
            if calls.dead.is_none() {
                calls.dead = Some(reason.to_string());
            }
            self.dead.store(true, Ordering::Release);
            std::mem::take(&mut calls.pending)
        };
        self.close();
        tracing::debug!(peer = %self.peer, "rpc channel connection lost: {reason}");
        for (id, slot) in pending {
            let failure = if not_sent.contains(&id) {
                Failure::NotSent(reason.to_string())
            } else {
                Failure::Rpc(RpcError::Closed(reason.to_string()))
            };
            slot.fill(Err(failure));
        }
    }

    /// The reader thread: decodes replies and hands each to its caller.
    fn read_replies(self: Arc<Self>, mut stream: TcpStream) {
        let mut buf = vec![0u8; READ_CHUNK];
        let (mut start, mut end) = (0, 0);
        let reason = loop {
            if end == buf.len() {
                if start > 0 {
                    buf.copy_within(start..end, 0);
                    end -= start;
                    start = 0;
                } else {
                    // Frame sizes were checked against the limit, so this
                    // growth is bounded.
                    let len = buf.len();
                    buf.resize(len * 2, 0);
                }
            }
            match stream.read(&mut buf[end..]) {
                Ok(0) => break "the peer closed the connection".to_string(),
                Ok(n) => end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => break format!("read failed: {e}"),
            }
            let failed = loop {
                match frame::decode_response(&buf[start..end], self.max_frame_bytes) {
                    Ok(Some((reply, used))) => {
                        start += used;
                        self.deliver(reply);
                    }
                    Ok(None) => break None,
                    Err(e) => break Some(format!("malformed reply: {e}")),
                }
            };
            if let Some(reason) = failed {
                tracing::warn!(peer = %self.peer, "{reason}");
                break reason;
            }
            if start == end {
                start = 0;
                end = 0;
            }
        };
        self.die(&reason, Vec::new());
    }

    fn deliver(&self, reply: ResponseFrame) {
        let ResponseFrame { header, body } = reply;
        // A reply for a call that timed out finds no slot and is dropped.
        let Some(slot) = self.calls.lock().pending.remove(&header.call_id) else {
            return;
        };
        let result = match RpcStatus::try_from(header.status) {
            Ok(RpcStatus::Ok) => Ok(body),
            Ok(status) => Err(Failure::Rpc(RpcError::Remote {
                status,
                message: String::from_utf8_lossy(&header.error).into_owned(),
            })),
            Err(_) => Err(Failure::Rpc(RpcError::Decode(format!(
                "unknown reply status {}",
                header.status
            )))),
        };
        slot.fill(result);
    }
}

/// The calls of a failed batch whose frames the kernel did not fully take:
/// the peer cannot have decoded, let alone run, any of them.
fn unsent_calls(frames: &[(u64, usize)], written: usize) -> Vec<u64> {
    frames
        .iter()
        .filter(|&&(_, end)| end > written)
        .map(|&(id, _)| id)
        .collect()
}
