//! One live TCP connection of an [`RpcChannel`](crate::RpcChannel): the calls
//! waiting on it, and the leader/follower scheme by which the callers
//! themselves read the replies, with no reader thread.
//!
//! A waiting caller that finds no one reading becomes the reader (the
//! leader): it reads the socket, hands each reply to its caller by call id,
//! and when its own reply is in, it steps down and wakes one caller still
//! waiting to take over. A lone caller thus reads its own reply, and a reply
//! costs one wake-up (the caller's), not two (a reader's, then the caller's).

use std::collections::HashMap;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, MutexGuard};

use crate::frame::ResponseFrame;
use crate::inbox::{Got, Inbox, Wait};
use crate::spin::Spinner;
use crate::write_queue::{Queued, WriteFailure, WriteQueue};
use crate::{ChannelConfig, RpcError, RpcStatus};

/// A blocked write gives up the socket this often to look at its deadline.
const WRITE_TICK: Duration = Duration::from_millis(20);

/// How one call on a link ended, short of a reply.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The request certainly never reached the peer: safe to retry elsewhere.
    NotSent(String),
    Rpc(RpcError),
}

type CallResult = Result<Vec<u8>, Failure>;

/// One caller waiting on the link.
struct Waiter {
    result: Option<CallResult>,
    /// The result is a reply counted in [`Link::unclaimed`].
    counted: bool,
    /// Signalled (with the `calls` lock) when the result is in or when the
    /// caller is asked to take over reading.
    wake: Arc<Condvar>,
}

struct Calls {
    pending: HashMap<u64, Waiter>,
    /// A caller is reading the socket for everyone.
    reading: bool,
    /// Why the link died; once set, no call is added.
    dead: Option<String>,
}

pub(crate) struct Link {
    stream: TcpStream,
    peer: SocketAddr,
    dead: AtomicBool,
    calls: Mutex<Calls>,
    writes: WriteQueue,
    /// Replies delivered whose callers have not picked them up yet (see
    /// [`WriteQueue::push`]). Changed under the `calls` lock.
    unclaimed: AtomicUsize,
    /// Only the reading caller touches it.
    inbox: Mutex<Inbox>,
    /// How the reading caller polls before it blocks.
    spinner: Spinner,
}

impl Link {
    /// Connects to `peer` within `timeout`.
    pub fn open(
        peer: SocketAddr,
        timeout: Duration,
        config: &ChannelConfig,
    ) -> std::io::Result<Arc<Link>> {
        let stream = TcpStream::connect_timeout(&peer, timeout)?;
        stream.set_nodelay(true)?;
        stream.set_write_timeout(Some(WRITE_TICK))?;
        tracing::debug!(%peer, "rpc channel connected");
        Ok(Arc::new(Link {
            stream,
            peer,
            dead: AtomicBool::new(false),
            calls: Mutex::new(Calls {
                pending: HashMap::new(),
                reading: false,
                dead: None,
            }),
            writes: WriteQueue::new(),
            unclaimed: AtomicUsize::new(0),
            inbox: Mutex::new(Inbox::new(config.max_frame_bytes)),
            spinner: Spinner::new(config.spin),
        }))
    }

    pub fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Acquire)
    }

    /// Closes the socket; a caller reading it fails what is pending.
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
    ) -> CallResult {
        let wake = Arc::new(Condvar::new());
        {
            // Registered before a byte is written: another caller may read
            // the reply before `send` returns.
            let mut calls = self.calls.lock();
            if let Some(reason) = &calls.dead {
                return Err(Failure::NotSent(reason.clone()));
            }
            let waiter = Waiter {
                result: None,
                counted: false,
                wake: wake.clone(),
            };
            calls.pending.insert(call_id, waiter);
        }
        self.send(
            call_id,
            service.as_bytes(),
            method.as_bytes(),
            args,
            deadline,
        );
        let (result, last_claimed) = self.wait(call_id, &wake, deadline);
        if last_claimed {
            // Requests others queued while replies were being picked up
            // were left for us: write them before returning.
            if let Some(stale) = self.writes.flush_if_idle() {
                self.flush(stale, deadline);
            }
        }
        result
    }

    /// Queues the request and, if no other caller is writing, writes the
    /// queue. Failures reach the caller through its waiter.
    fn send(&self, call_id: u64, service: &[u8], method: &[u8], args: &[u8], deadline: Instant) {
        let queued = self
            .writes
            .push(call_id, service, method, args, &self.unclaimed);
        if let Queued::Flush { stale } = queued {
            self.flush(stale, deadline);
        }
    }

    /// Writes the queue, as the caller told to; first checks that a quiet
    /// connection is still alive if `stale`.
    fn flush(&self, stale: bool, deadline: Instant) {
        if stale {
            if let Err(reason) = self.check_alive() {
                self.die(&format!("stale connection: {reason}"), Vec::new());
                return;
            }
        }
        if let Err(WriteFailure { reason, unsent }) = self.writes.flush(&self.stream, deadline) {
            self.die(&reason, unsent);
        }
    }

    /// Waits for call `call_id`'s reply, reading the socket when no other
    /// caller is. Also says whether this caller picked up the last
    /// unclaimed reply.
    fn wait(&self, call_id: u64, wake: &Condvar, deadline: Instant) -> (CallResult, bool) {
        let mut calls = self.calls.lock();
        loop {
            let Some(waiter) = calls.pending.get_mut(&call_id) else {
                // Unreachable: only this caller removes its waiter.
                return (Err(Failure::Rpc(RpcError::Timeout)), false);
            };
            if let Some(result) = waiter.result.take() {
                let last = waiter.counted && self.unclaimed.fetch_sub(1, Ordering::SeqCst) == 1;
                calls.pending.remove(&call_id);
                return (result, last);
            }
            if Instant::now() >= deadline {
                calls.pending.remove(&call_id);
                // We may have been asked to take over: pass it on.
                if !calls.reading {
                    promote(&calls);
                }
                return (Err(Failure::Rpc(RpcError::Timeout)), false);
            }
            if !calls.reading {
                calls.reading = true;
                let alone = calls.pending.len() == 1;
                MutexGuard::unlocked(&mut calls, || self.lead(call_id, alone, deadline));
                calls.reading = false;
                promote(&calls);
                continue;
            }
            wake.wait_until(&mut calls, deadline);
        }
    }

    /// Reads and delivers replies until call `call_id` has its own, the
    /// deadline passes or the link dies. A caller `alone` on the link
    /// polls for its reply before blocking (see the `spin` module); with
    /// others calling too, the cores have work, and the reader's wake-up is
    /// shared by all their replies anyway.
    fn lead(&self, call_id: u64, alone: bool, deadline: Instant) {
        let mut inbox = self.inbox.lock();
        let mut replies = Vec::new();
        loop {
            let polled = if alone {
                self.spinner
                    .poll(|| match inbox.read(&self.stream, Wait::No, &mut replies) {
                        Ok(Got::Nothing) => None,
                        read => Some(read),
                    })
            } else {
                None
            };
            let read = polled
                .unwrap_or_else(|| inbox.read(&self.stream, Wait::Until(deadline), &mut replies));
            match read {
                Err(reason) => {
                    drop(inbox);
                    self.die(&reason, Vec::new());
                    return;
                }
                Ok(Got::Nothing) => {
                    if Instant::now() >= deadline {
                        return;
                    }
                    self.flush_stranded();
                }
                Ok(Got::Bytes) => {
                    if !replies.is_empty() {
                        let mut calls = self.calls.lock();
                        for reply in replies.drain(..) {
                            self.deliver(&mut calls, reply);
                        }
                        let done = calls
                            .pending
                            .get(&call_id)
                            .is_none_or(|w| w.result.is_some());
                        if done {
                            return;
                        }
                    }
                    // Others' replies flowing in must not keep us past
                    // our own deadline.
                    if Instant::now() >= deadline {
                        return;
                    }
                }
            }
        }
    }

    /// A writer that found the socket full gives up at its own deadline
    /// and leaves the rest queued for the next caller to write; if none
    /// comes, the reading caller pushes it on each quiet tick, briefly, so
    /// it goes back to reading replies the peer may be blocked on.
    fn flush_stranded(&self) {
        if self.writes.flush_if_idle().is_some() {
            let until = Instant::now() + WRITE_TICK;
            if let Err(WriteFailure { reason, unsent }) = self.writes.flush(&self.stream, until) {
                self.die(&reason, unsent);
            }
        }
    }

    /// Before writing on a connection that was quiet: whether the peer has
    /// closed it meanwhile. Takes in what already arrived (late replies)
    /// without waiting; skipped when a caller is reading, since it would see
    /// a close itself.
    fn check_alive(&self) -> Result<(), String> {
        let mut calls = self.calls.lock();
        if calls.reading {
            return Ok(());
        }
        calls.reading = true;
        let result = MutexGuard::unlocked(&mut calls, || {
            let mut inbox = self.inbox.lock();
            let mut replies = Vec::new();
            let result = loop {
                match inbox.read(&self.stream, Wait::No, &mut replies) {
                    Ok(Got::Bytes) => continue,
                    Ok(Got::Nothing) => break Ok(()),
                    Err(reason) => break Err(reason),
                }
            };
            (result, replies)
        });
        let (result, replies) = result;
        for reply in replies {
            self.deliver(&mut calls, reply);
        }
        calls.reading = false;
        promote(&calls);
        result
    }

    /// Marks the link dead and fails every pending call: with Closed if the
    /// kernel may have taken its request, as not sent if it was still queued
    /// or is in `unsent` (the calls of a failed write not fully written).
    fn die(&self, reason: &str, unsent: Vec<u64>) {
        let mut not_sent = self.writes.abandon();
        not_sent.extend(unsent);
        let mut calls = self.calls.lock();
        if calls.dead.is_none() {
            calls.dead = Some(reason.to_string());
        }
        self.dead.store(true, Ordering::Release);
        self.close();
        for (id, waiter) in calls.pending.iter_mut() {
            if waiter.result.is_some() {
                continue;
            }
            let failure = if not_sent.contains(id) {
                Failure::NotSent(reason.to_string())
            } else {
                Failure::Rpc(RpcError::Closed(reason.to_string()))
            };
            waiter.result = Some(Err(failure));
            waiter.wake.notify_one();
        }
        drop(calls);
        tracing::debug!(peer = %self.peer, "rpc channel connection lost: {reason}");
    }

    /// Hands `reply` to its caller; a reply for a call that timed out finds no
    /// waiter and is dropped.
    fn deliver(&self, calls: &mut Calls, reply: ResponseFrame) {
        let ResponseFrame { header, body } = reply;
        let Some(waiter) = calls.pending.get_mut(&header.call_id) else {
            return;
        };
        if waiter.result.is_some() {
            return;
        }
        waiter.counted = true;
        self.unclaimed.fetch_add(1, Ordering::SeqCst);
        waiter.result = Some(match RpcStatus::try_from(header.status) {
            Ok(RpcStatus::Ok) => Ok(body),
            Ok(status) => Err(Failure::Rpc(RpcError::Remote {
                status,
                message: String::from_utf8_lossy(&header.error).into_owned(),
            })),
            Err(_) => Err(Failure::Rpc(RpcError::Decode(format!(
                "unknown reply status {}",
                header.status
            )))),
        });
        waiter.wake.notify_one();
    }
}

/// Nobody is reading: wakes one caller still waiting for its reply to take
/// over. (One not yet waiting will see that nobody reads when it gets there.)
fn promote(calls: &Calls) {
    if let Some(waiter) = calls.pending.values().find(|w| w.result.is_none()) {
        waiter.wake.notify_one();
    }
}
