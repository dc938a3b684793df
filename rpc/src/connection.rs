//! One accepted connection of the provider: its socket, the bytes read but
//! not yet decoded, and the reply bytes not yet taken by the peer.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;

use crate::frame::{self, RequestFrame};
use crate::{FrameError, Outcome};

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
    stream: TcpStream,
    pub peer: SocketAddr,
    /// Kept at full length (zeroed once) so a read never re-zeroes it.
    read_buf: Vec<u8>,
    /// The undecoded bytes are `read_buf[read_start..read_end]`.
    read_start: usize,
    read_end: usize,
    write_buf: Vec<u8>,
    /// Bytes of `write_buf` already written.
    write_pos: usize,
    /// Calls handed to workers and not answered yet.
    pub in_flight: usize,
    last_active: Instant,
    /// Reading stopped because the peer has too much outstanding; resume
    /// explicitly, since an edge-triggered poll will not say "readable" again.
    paused: bool,
    /// The peer sent EOF; close once every answer is written.
    read_closed: bool,
    /// Already on the loop's list of connections to flush.
    pub dirty: bool,
}

impl Connection {
    pub fn new(stream: TcpStream, peer: SocketAddr) -> Self {
        Self {
            stream,
            peer,
            read_buf: Vec::new(),
            read_start: 0,
            read_end: 0,
            write_buf: Vec::new(),
            write_pos: 0,
            in_flight: 0,
            last_active: Instant::now(),
            paused: false,
            read_closed: false,
            dirty: false,
        }
    }

    pub fn stream_mut(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    fn unsent(&self) -> usize {
        self.write_buf.len() - self.write_pos
    }

    fn over_limits(&self, limits: &Limits, decoded: usize) -> bool {
        self.in_flight + decoded >= limits.max_in_flight || self.unsent() >= limits.max_unsent_bytes
    }

    /// Whether reading was paused and the peer is back under its limits.
    pub fn should_resume(&self, limits: &Limits) -> bool {
        self.paused && !self.over_limits(limits, 0)
    }

    /// Reads until the socket is drained (or the peer is over its limits)
    /// and appends every complete request to `out`.
    pub fn read_requests(
        &mut self,
        limits: &Limits,
        out: &mut Vec<RequestFrame>,
    ) -> Result<(), Broken> {
        self.paused = false;
        let first = out.len();
        loop {
            // Decode what is buffered before reading more, so a peer over its
            // limits leaves its bytes in the kernel, not in our memory.
            loop {
                if self.over_limits(limits, out.len() - first) {
                    self.paused = true;
                    return Ok(());
                }
                let pending = &self.read_buf[self.read_start..self.read_end];
                match frame::decode_request(pending, limits.max_frame_bytes) {
                    Ok(Some((request, used))) => {
                        self.read_start += used;
                        out.push(request);
                    }
                    Ok(None) => break,
                    Err(e) => return Err(Broken::Frame(e)),
                }
            }
            if self.read_closed {
                return Ok(());
            }
            self.make_room();
            match self.stream.read(&mut self.read_buf[self.read_end..]) {
                Ok(0) => {
                    let partial = self.read_end - self.read_start;
                    if partial > 0 {
                        return Err(Broken::Truncated(partial));
                    }
                    self.read_closed = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.read_end += n;
                    self.last_active = Instant::now();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Broken::Io(e)),
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

    /// Appends the answer to call `call_id` to the bytes to send.
    pub fn queue_response(&mut self, call_id: u64, outcome: &Outcome) {
        frame::encode_response(&mut self.write_buf, call_id, outcome);
    }

    /// Writes as much as the socket takes; every queued answer goes out in
    /// as few syscalls as the kernel allows.
    pub fn flush(&mut self) -> Result<(), Broken> {
        while self.write_pos < self.write_buf.len() {
            match self.stream.write(&self.write_buf[self.write_pos..]) {
                Ok(0) => return Err(Broken::Io(io::ErrorKind::WriteZero.into())),
                Ok(n) => {
                    self.write_pos += n;
                    self.last_active = Instant::now();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Broken::Io(e)),
            }
        }
        self.write_buf.clear();
        self.write_pos = 0;
        if self.write_buf.capacity() > 4 * READ_CHUNK {
            self.write_buf.shrink_to(READ_CHUNK);
        }
        Ok(())
    }

    /// The peer said EOF and there is nothing left to tell it.
    pub fn is_finished(&self) -> bool {
        self.read_closed && self.in_flight == 0 && self.unsent() == 0
    }

    /// Nothing in flight, nothing to send, nothing heard for `timeout`.
    pub fn is_idle(&self, now: Instant, timeout: Duration) -> bool {
        self.in_flight == 0
            && self.unsent() == 0
            && now.saturating_duration_since(self.last_active) >= timeout
    }

    /// Every call answered and every answer written.
    pub fn is_drained(&self) -> bool {
        self.in_flight == 0 && self.unsent() == 0
    }
}
