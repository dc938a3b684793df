//! One accepted connection of the provider, as the event loop sees it: the
//! bytes read but not yet decoded, and the shared [`Outbox`] that answers.

use std::io::{self, Read};
use std::net::SocketAddr;
use std::sync::Arc;

use crate::frame::{self, RequestFrame};
use crate::outbox::Outbox;
use crate::FrameError;

/// The read buffer's initial size; it doubles while a frame does not fit.
const READ_CHUNK: usize = 16 * 1024;

/// The per-connection limits, copied from the provider's config.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub max_frame_bytes: usize,
    pub max_in_flight: usize,
    pub max_unsent_bytes: usize,
}

/// Why a connection must be closed.
#[derive(Debug)]
pub(crate) enum Broken {
    Io(io::Error),
    Frame(FrameError),
    /// The peer closed its side in the middle of a frame.
    Truncated(usize),
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Broken::Io(e) => write!(f, "i/o error: {e}"),
            Broken::Frame(e) => write!(f, "{e}"),
            Broken::Truncated(n) => write!(f, "peer closed with {n} bytes of a partial frame"),
        }
    }
}

pub(crate) struct Connection {
    /// The socket and everything about answering, shared with the threads
    /// that complete this connection's calls.
    pub outbox: Arc<Outbox>,
    pub peer: SocketAddr,
    /// Kept at full length (zeroed once) so a read never re-zeroes it.
    read_buf: Vec<u8>,
    /// The undecoded bytes are `read_buf[read_start..read_end]`.
    read_start: usize,
    read_end: usize,
    /// The peer sent EOF.
    read_closed: bool,
}

impl Connection {
    pub fn new(outbox: Arc<Outbox>, peer: SocketAddr) -> Self {
        Self {
            outbox,
            peer,
            read_buf: Vec::new(),
            read_start: 0,
            read_end: 0,
            read_closed: false,
        }
    }

    /// Reads until the socket is drained (or the peer is over its limits)
    /// and appends every complete request to `out`. Unless `to_the_end`, a
    /// short read is taken to mean drained: the edge-triggered poll reports
    /// any byte that arrives after it, so the read that would only say
    /// "would block" is skipped. (An EOF that came with the bytes raises no
    /// new edge: the loop asks for `to_the_end` when the event reports one.)
    pub fn read_requests(
        &mut self,
        limits: &Limits,
        out: &mut Vec<RequestFrame>,
        to_the_end: bool,
    ) -> Result<(), Broken> {
        let first = out.len();
        loop {
            // Decode what is buffered before reading more, so a peer over its
            // limits leaves its bytes in the kernel, not in our memory.
            if self.decode_buffered(limits, out, first)? || self.read_closed {
                return Ok(());
            }
            self.make_room();
            let room = self.read_buf.len() - self.read_end;
            match self
                .outbox
                .stream()
                .read(&mut self.read_buf[self.read_end..])
            {
                Ok(0) => {
                    let partial = self.read_end - self.read_start;
                    if partial > 0 {
                        return Err(Broken::Truncated(partial));
                    }
                    self.read_closed = true;
                    self.outbox.set_read_closed();
                    return Ok(());
                }
                Ok(n) => {
                    self.read_end += n;
                    self.outbox.touch();
                    if n < room && !to_the_end {
                        self.decode_buffered(limits, out, first)?;
                        return Ok(());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Broken::Io(e)),
            }
        }
    }

    /// Decodes buffered requests into `out` until the buffer holds no
    /// complete frame (`Ok(false)`) or the peer is over its limits, counting
    /// the `out[first..]` not yet dispatched (`Ok(true)`: reading paused).
    fn decode_buffered(
        &mut self,
        limits: &Limits,
        out: &mut Vec<RequestFrame>,
        first: usize,
    ) -> Result<bool, Broken> {
        loop {
            if self.outbox.pause_if_over(limits, out.len() - first) {
                return Ok(true);
            }
            let pending = &self.read_buf[self.read_start..self.read_end];
            match frame::decode_request(pending, limits.max_frame_bytes) {
                Ok(Some((request, used))) => {
                    self.read_start += used;
                    out.push(request);
                }
                Ok(None) => return Ok(false),
                Err(e) => return Err(Broken::Frame(e)),
            }
        }
    }

    /// Ensures free space after `read_end`: moves the undecoded bytes to
    /// the front, and doubles the buffer only when a frame needs it (the
    /// frame limit has been checked by then, so growth is bounded).
    fn make_room(&mut self) {
        if self.read_start == self.read_end {
            self.read_start = 0;
            self.read_end = 0;
            // A huge frame once should not pin its buffer forever.
            if self.read_buf.len() > 4 * READ_CHUNK {
                self.read_buf = Vec::new();
            }
        }
        if self.read_buf.is_empty() {
            self.read_buf = vec![0; READ_CHUNK];
        }
        if self.read_end < self.read_buf.len() {
            return;
        }
        if self.read_start > 0 {
            self.read_buf.copy_within(self.read_start..self.read_end, 0);
            self.read_end -= self.read_start;
            self.read_start = 0;
        }
        if self.read_end == self.read_buf.len() {
            let len = self.read_buf.len();
            self.read_buf.resize(len * 2, 0);
        }
    }
}
