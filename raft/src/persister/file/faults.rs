//! Test-only faults for [`Disk`](super::disk::Disk): the next write or fsync
//! fails with a chosen OS error, as on a full (ENOSPC) or failing (EIO) disk.

use parking_lot::Mutex;
use std::io;

/// Which operation a fault hits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Write,
    Sync,
}

/// Armed faults, each firing once.
#[derive(Debug, Default)]
pub struct Faults {
    armed: Mutex<Vec<(Op, i32)>>,
    /// A failing write first writes part of its buffer, as a real one does
    /// when the disk fills up mid-way.
    partial_done: Mutex<bool>,
    /// Fsyncs still to succeed before one fails with the error.
    sync_countdown: Mutex<Option<(usize, i32)>>,
}

impl Faults {
    /// The next `op` fails with OS error `errno` (e.g. `libc::ENOSPC`).
    pub fn fail_next(&self, op: Op, errno: i32) {
        self.armed.lock().push((op, errno));
    }

    /// The fsync after the next `n` fails with OS error `errno`.
    pub fn fail_after_syncs(&self, n: usize, errno: i32) {
        *self.sync_countdown.lock() = Some((n, errno));
    }

    fn take(&self, op: Op) -> Option<i32> {
        let mut armed = self.armed.lock();
        let at = armed.iter().position(|(o, _)| *o == op)?;
        Some(armed.remove(at).1)
    }

    /// `Ok(Some(n))`: write only the first `n` bytes; `Err`: fail the write.
    pub fn on_write(&self, len: usize) -> io::Result<Option<usize>> {
        let mut partial = self.partial_done.lock();
        let armed = self.armed.lock().iter().any(|(o, _)| *o == Op::Write);
        if !armed {
            return Ok(None);
        }
        if !*partial && len > 1 {
            *partial = true;
            return Ok(Some(len / 2));
        }
        *partial = false;
        drop(partial);
        let errno = self.take(Op::Write).unwrap_or(libc::EIO);
        Err(io::Error::from_raw_os_error(errno))
    }

    pub fn on_sync(&self) -> io::Result<()> {
        let mut countdown = self.sync_countdown.lock();
        match &mut *countdown {
            Some((0, errno)) => {
                let errno = *errno;
                *countdown = None;
                return Err(io::Error::from_raw_os_error(errno));
            }
            Some((n, _)) => *n -= 1,
            None => {}
        }
        drop(countdown);
        match self.take(Op::Sync) {
            Some(errno) => Err(io::Error::from_raw_os_error(errno)),
            None => Ok(()),
        }
    }
}
