//! The write side of one accepted connection, shared by the event loop and
//! every thread that answers its calls: the socket, the reply bytes the peer
//! has not taken, and the counts the loop needs to pause and resume reading.
//!
//! An answer completed off the loop thread is written straight to the socket
//! when nothing is queued ahead of it: no hop through the loop, no wake-up.
//! Only when the socket would block (or bytes are already waiting) does the
//! answer stay queued; then the loop writes it on the socket's writable edge
//! or on the notice it was sent. Answers completed on the loop thread itself
//! (inline handlers, error replies) are queued and flushed together once the
//! loop has handled the whole read, so a batch of calls costs one write.
//! A thread answering a burst of calls off the loop may hold its answers
//! back until the burst ends, for the same reason (see `cork`).

use std::io::{self, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::Token;
use parking_lot::Mutex;

use crate::connection::Limits;
use crate::cork;
use crate::frame;
use crate::worker::Shared;
use crate::Outcome;

/// Reply buffers that grew past this are shrunk once drained.
const KEEP_CAPACITY: usize = 64 * 1024;

pub(crate) struct Outbox {
    pub token: Token,
    stream: TcpStream,
    shared: Arc<Shared>,
    state: Mutex<State>,
}

struct State {
    buf: Vec<u8>,
    /// Bytes of `buf` already written.
    pos: usize,
    /// Calls dispatched and not answered yet.
    in_flight: usize,
    /// Of those, calls waiting in the job queue for a worker.
    queued: usize,
    /// The loop has been told to flush and has not yet: whoever answers
    /// next just queues behind.
    flush_due: bool,
    /// A thread in a burst of answers (see `cork`) writes what is queued
    /// when its burst ends: whoever answers meanwhile queues behind.
    held: bool,
    /// The loop stopped reading this peer (over its limits) and must hear
    /// when an answer makes room.
    paused: bool,
    /// The peer sent EOF: the loop closes the connection once answered.
    read_closed: bool,
    /// The loop closed the connection: answers are dropped.
    closed: bool,
    /// A write off the loop thread failed: the loop closes the connection.
    write_error: Option<io::Error>,
    last_active: Instant,
}

impl Outbox {
    pub fn new(token: Token, stream: TcpStream, shared: Arc<Shared>) -> Self {
        Self {
            token,
            stream,
            shared,
            state: Mutex::new(State {
                buf: Vec::new(),
                pos: 0,
                in_flight: 0,
                queued: 0,
                flush_due: false,
                held: false,
                paused: false,
                read_closed: false,
                closed: false,
                write_error: None,
                last_active: Instant::now(),
            }),
        }
    }

    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// Counts a call about to be handled (`to_worker`: queued for a
    /// worker); its answer comes through [`complete`](Self::complete).
    pub fn dispatched(&self, to_worker: bool) {
        let mut state = self.state.lock();
        state.in_flight += 1;
        state.queued += usize::from(to_worker);
    }

    /// A worker took one of this connection's queued calls.
    pub fn started(&self) {
        let mut state = self.state.lock();
        state.queued = state.queued.saturating_sub(1);
    }

    /// Answers call `call_id`, from any thread. Never blocks on the socket.
    pub fn complete(self: &Arc<Self>, call_id: u64, outcome: &Outcome) {
        let on_loop = self.shared.on_loop_thread();
        let mut state = self.state.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
        if state.closed {
            return;
        }
        state.last_active = Instant::now();
        let nothing_queued = state.pos == state.buf.len() && !state.flush_due && !state.held;
        if state.write_error.is_none() {
            frame::encode_response(&mut state.buf, call_id, outcome);
        }
        let mut tell_loop = false;
        if on_loop || (state.queued > 0 && nothing_queued) {
            // The loop flushes after the whole read: one write for the
            // batch. Likewise while more of this peer's calls wait for
            // workers: their answers follow soon, and the loop (woken once)
            // writes whatever piled up by then in one go, rather than each
            // worker writing, and waking the peer, on its own.
            tell_loop = !state.flush_due;
            state.flush_due = true;
        } else if nothing_queued && state.write_error.is_none() {
            if cork::hold(self) {
                state.held = true;
            } else {
                tell_loop = self.write_direct(&mut state);
            }
        }
        // Otherwise bytes are already waiting, so the loop is due to write
        // (a notice is queued or the socket's writable edge will come) and
        // this answer goes out behind them.
        tell_loop |= state.loop_must_hear();
        drop(state);
        if tell_loop {
            self.shared.notify(self.token, !on_loop);
        }
    }

    /// The burst that held this connection's answers ended: writes them
    /// (unless the loop is due to), as `complete` would have.
    pub fn release(&self) {
        let mut state = self.state.lock();
        state.held = false;
        if state.closed {
            return;
        }
        let mut tell_loop = false;
        if !state.flush_due && state.write_error.is_none() {
            tell_loop = self.write_direct(&mut state);
        }
        tell_loop |= state.loop_must_hear();
        drop(state);
        if tell_loop {
            self.shared
                .notify(self.token, !self.shared.on_loop_thread());
        }
    }

    /// Writes what is queued off the loop thread; true if it failed, and
    /// the loop must hear of it (it closes the connection).
    fn write_direct(&self, state: &mut State) -> bool {
        match write_out(&self.stream, state) {
            Ok(()) => false,
            Err(e) => {
                state.write_error = Some(e);
                true
            }
        }
    }

    /// Writes what is queued, as far as the socket takes it (the loop's
    /// side: on a writable edge or a notice).
    pub fn flush(&self) -> io::Result<()> {
        let mut state = self.state.lock();
        state.flush_due = false;
        if let Some(e) = state.write_error.take() {
            return Err(e);
        }
        write_out(&self.stream, &mut state)
    }

    /// Whether reading must stop: too many calls in flight (counting
    /// `decoded` not yet dispatched) or too many bytes unsent. Records the
    /// pause under the same lock, so an answer that makes room cannot slip
    /// between the check and the pause without telling the loop.
    pub fn pause_if_over(&self, limits: &Limits, decoded: usize) -> bool {
        let mut state = self.state.lock();
        state.paused = state.in_flight + decoded >= limits.max_in_flight
            || state.buf.len() - state.pos >= limits.max_unsent_bytes;
        state.paused
    }

    /// Reading was paused and the peer is back under its limits.
    pub fn should_resume(&self, limits: &Limits) -> bool {
        let state = self.state.lock();
        state.paused
            && state.in_flight < limits.max_in_flight
            && state.buf.len() - state.pos < limits.max_unsent_bytes
    }

    /// Bytes arrived: the connection is not idle.
    pub fn touch(&self) {
        self.state.lock().last_active = Instant::now();
    }

    pub fn set_read_closed(&self) {
        self.state.lock().read_closed = true;
    }

    /// Stops the socket (the peer sees EOF at once, even while a slow
    /// handler still holds this outbox) and drops every later answer.
    pub fn close(&self) {
        let mut state = self.state.lock();
        state.closed = true;
        state.buf = Vec::new();
        state.pos = 0;
        drop(state);
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }

    /// The peer said EOF and there is nothing left to tell it.
    pub fn is_finished(&self) -> bool {
        let state = self.state.lock();
        state.read_closed && state.in_flight == 0 && state.pos == state.buf.len()
    }

    /// Nothing in flight, nothing to send, nothing heard or answered for `timeout`.
    pub fn is_idle(&self, now: Instant, timeout: Duration) -> bool {
        let state = self.state.lock();
        state.in_flight == 0
            && state.pos == state.buf.len()
            && now.saturating_duration_since(state.last_active) >= timeout
    }

    /// Every call answered and every answer written.
    pub fn is_drained(&self) -> bool {
        let state = self.state.lock();
        state.in_flight == 0 && state.pos == state.buf.len()
    }
}

impl State {
    /// Whether the loop must look at the connection after an answer: it
    /// paused reading and an answer made room, or the peer is gone and
    /// nothing is left to answer.
    fn loop_must_hear(&self) -> bool {
        self.paused || (self.read_closed && self.in_flight == 0)
    }
}

/// Writes `state.buf[pos..]` until done or the socket would block.
fn write_out(mut stream: &TcpStream, state: &mut State) -> io::Result<()> {
    while state.pos < state.buf.len() {
        match stream.write(&state.buf[state.pos..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => state.pos += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    state.buf.clear();
    state.pos = 0;
    if state.buf.capacity() > KEEP_CAPACITY {
        state.buf.shrink_to(KEEP_CAPACITY);
    }
    Ok(())
}
