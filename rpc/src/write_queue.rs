//! The requests of one channel connection waiting to be written: callers
//! queue their frames, and whichever caller finds no one writing writes the
//! whole queue, its own frame and everyone else's, in as few syscalls as the
//! kernel allows.

use std::io::{self, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::frame;

/// A connection unused for this long may have been closed by the peer
/// without anyone noticing yet: check before writing on it. Zero: any gap
/// will do (a server restarted within a millisecond of our last write left
/// a call failing as Closed instead of going out on a new connection). The
/// check is one non-blocking read, and is skipped while a caller is
/// reading, which under load is nearly always.
const STALE_AFTER: Duration = Duration::ZERO;

/// What the caller that queued a request must do next.
pub(crate) enum Queued {
    /// Another caller is writing and will take this request along, or
    /// callers with fresh replies are about to queue theirs and the last of
    /// them will write (see [`WriteQueue::push`]).
    Taken,
    /// Nobody is writing: call [`WriteQueue::flush`]; first check the
    /// connection is still alive if `stale`.
    Flush { stale: bool },
}

/// A write failed: the link is dead.
pub(crate) struct WriteFailure {
    pub reason: String,
    /// Calls whose frames the kernel did not fully take: the peer cannot
    /// have decoded, let alone run, any of them.
    pub unsent: Vec<u64>,
}

pub(crate) struct WriteQueue {
    state: Mutex<State>,
}

struct State {
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

impl WriteQueue {
    pub fn new() -> Self {
        Self {
            state: Mutex::new(State {
                buf: Vec::new(),
                frames: Vec::new(),
                flushing: false,
                last_flush: Instant::now(),
                spare_buf: Vec::new(),
                spare_frames: Vec::new(),
            }),
        }
    }

    /// Queues one request frame. `unclaimed` counts replies handed to
    /// callers who have not picked them up yet: each of them is about to
    /// return and, likely, to call again, so while it is not zero the write
    /// is left to the last of them ([`flush_if_idle`](Self::flush_if_idle)),
    /// and a burst of callers costs one write instead of one each.
    pub fn push(
        &self,
        call_id: u64,
        service: &[u8],
        method: &[u8],
        args: &[u8],
        unclaimed: &AtomicUsize,
    ) -> Queued {
        let mut state = self.state.lock();
        frame::encode_request(&mut state.buf, service, method, call_id, args);
        let end = state.buf.len();
        state.frames.push((call_id, end));
        // Read under the queue lock, which pairs with the decrement before
        // `flush_if_idle` takes it: either we see zero, or that caller sees
        // our frame.
        if state.flushing || unclaimed.load(Ordering::SeqCst) > 0 {
            return Queued::Taken;
        }
        state.flushing = true;
        Queued::Flush {
            stale: state.last_flush.elapsed() >= STALE_AFTER,
        }
    }

    /// Called by the caller that picked up the last unclaimed reply: if
    /// requests were left queued for it and nobody is writing, it becomes
    /// the writer (`Some(stale)`, as for [`Queued::Flush`]).
    pub fn flush_if_idle(&self) -> Option<bool> {
        let mut state = self.state.lock();
        if state.flushing || state.buf.is_empty() {
            return None;
        }
        state.flushing = true;
        Some(state.last_flush.elapsed() >= STALE_AFTER)
    }

    /// Writes queued requests until the queue is empty, the socket fails or
    /// the socket blocks past `deadline` (the next caller then takes over).
    /// Only the caller told to [`Flush`](Queued::Flush) calls this.
    pub fn flush(&self, mut stream: &TcpStream, deadline: Instant) -> Result<(), WriteFailure> {
        let (mut batch, mut frames) = {
            let mut state = self.state.lock();
            (
                std::mem::take(&mut state.spare_buf),
                std::mem::take(&mut state.spare_frames),
            )
        };
        loop {
            {
                let mut state = self.state.lock();
                state.last_flush = Instant::now();
                if state.buf.is_empty() || !state.flushing {
                    // Empty, or abandoned by a dying link.
                    state.flushing = false;
                    state.spare_buf = batch;
                    state.spare_frames = frames;
                    return Ok(());
                }
                std::mem::swap(&mut batch, &mut state.buf);
                std::mem::swap(&mut frames, &mut state.frames);
            }
            let mut written = 0;
            while written < batch.len() {
                match stream.write(&batch[written..]) {
                    Ok(0) => {
                        return Err(WriteFailure {
                            reason: "the socket accepts no more bytes".into(),
                            unsent: unsent_calls(&frames, written),
                        })
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
                            return Ok(());
                        }
                    }
                    // std writes with MSG_NOSIGNAL: a dead peer is EPIPE
                    // here, never a SIGPIPE.
                    Err(e) => {
                        return Err(WriteFailure {
                            reason: format!("write failed: {e}"),
                            unsent: unsent_calls(&frames, written),
                        })
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
        let mut state = self.state.lock();
        let mut buf = Vec::with_capacity(rest.len() + state.buf.len());
        buf.extend_from_slice(rest);
        buf.extend_from_slice(&state.buf);
        let shift = rest.len();
        let mut all: Vec<(u64, usize)> = frames
            .iter()
            .filter(|&&(_, end)| end > written)
            .map(|&(id, end)| (id, end - written))
            .collect();
        all.extend(state.frames.iter().map(|&(id, end)| (id, end + shift)));
        state.buf = buf;
        state.frames = all;
        state.flushing = false;
    }

    /// Empties the queue of a dying link: the ids of the calls that never left.
    pub fn abandon(&self) -> Vec<u64> {
        let mut state = self.state.lock();
        let ids = state.frames.iter().map(|&(id, _)| id).collect();
        state.buf.clear();
        state.frames.clear();
        state.flushing = false;
        ids
    }
}

fn unsent_calls(frames: &[(u64, usize)], written: usize) -> Vec<u64> {
    frames
        .iter()
        .filter(|&&(_, end)| end > written)
        .map(|&(id, _)| id)
        .collect()
}
