//! The reply bytes of one channel connection read but not yet decoded, and
//! the single read that the caller currently reading for everyone makes.

use std::io;
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use crate::frame::{self, ResponseFrame};

const READ_CHUNK: usize = 64 * 1024;
/// A reading caller looks at its deadline at least this often.
const READ_TICK: Duration = Duration::from_millis(20);
/// The shortest receive timeout set: a zero timeout would mean "forever".
const MIN_TIMEOUT: Duration = Duration::from_millis(1);

/// How long one read may wait.
#[derive(Clone, Copy)]
pub(crate) enum Wait {
    /// Not at all: only take what already arrived.
    No,
    /// Until bytes arrive, the deadline passes, or a tick.
    Until(Instant),
}

/// What one read brought.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Got {
    /// Bytes (maybe not a whole reply yet).
    Bytes,
    /// Nothing before the wait ran out.
    Nothing,
}

pub(crate) struct Inbox {
    buf: Vec<u8>,
    /// The undecoded bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    max_frame_bytes: usize,
    /// The socket's receive timeout as last set.
    timeout: Option<Duration>,
}

impl Inbox {
    pub fn new(max_frame_bytes: usize) -> Self {
        Self {
            buf: Vec::new(),
            start: 0,
            end: 0,
            max_frame_bytes,
            timeout: None,
        }
    }

    /// Reads once from `stream` and appends every complete reply to `out`.
    /// `Err` carries why the connection is beyond use (EOF, an error, bytes
    /// that are not a reply).
    pub fn read(
        &mut self,
        stream: &TcpStream,
        wait: Wait,
        out: &mut Vec<ResponseFrame>,
    ) -> Result<Got, String> {
        self.make_room();
        let flags = match wait {
            Wait::No => libc::MSG_DONTWAIT,
            Wait::Until(deadline) => {
                self.set_timeout(stream, deadline)?;
                0
            }
        };
        let room = &mut self.buf[self.end..];
        // SAFETY: recv writes at most `room.len()` bytes into `room`, a
        // valid buffer we own, on a socket we own.
        let n = unsafe {
            libc::recv(
                stream.as_raw_fd(),
                room.as_mut_ptr().cast(),
                room.len(),
                flags,
            )
        };
        match n {
            0 => return Err("the peer closed the connection".into()),
            n if n > 0 => self.end += n as usize,
            _ => {
                let e = io::Error::last_os_error();
                return match e.kind() {
                    io::ErrorKind::WouldBlock
                    | io::ErrorKind::TimedOut
                    | io::ErrorKind::Interrupted => Ok(Got::Nothing),
                    _ => Err(format!("read failed: {e}")),
                };
            }
        }
        loop {
            match frame::decode_response(&self.buf[self.start..self.end], self.max_frame_bytes) {
                Ok(Some((reply, used))) => {
                    self.start += used;
                    out.push(reply);
                }
                Ok(None) => return Ok(Got::Bytes),
                Err(e) => return Err(format!("malformed reply: {e}")),
            }
        }
    }

    /// Sets the receive timeout to a tick, or to what is left before
    /// `deadline` when that is less; a syscall only when it changes.
    fn set_timeout(&mut self, stream: &TcpStream, deadline: Instant) -> Result<(), String> {
        let left = deadline.saturating_duration_since(Instant::now());
        let wanted = left.clamp(MIN_TIMEOUT, READ_TICK);
        let wanted = if wanted == READ_TICK {
            wanted
        } else {
            // Round up to whole milliseconds so nearby deadlines share a setting.
            Duration::from_millis(wanted.as_millis() as u64 + 1)
        };
        if self.timeout != Some(wanted) {
            stream
                .set_read_timeout(Some(wanted))
                .map_err(|e| format!("cannot set a read timeout: {e}"))?;
            self.timeout = Some(wanted);
        }
        Ok(())
    }

    /// Ensures free space after `end`; grows only for a frame that needs
    /// it, whose size was checked against the limit, so growth is bounded.
    fn make_room(&mut self) {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            if self.buf.len() > 4 * READ_CHUNK {
                self.buf = Vec::new();
            }
        }
        if self.buf.is_empty() {
            self.buf = vec![0; READ_CHUNK];
        }
        if self.end < self.buf.len() {
            return;
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        } else {
            let len = self.buf.len();
            self.buf.resize(len * 2, 0);
        }
    }
}
