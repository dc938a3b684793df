//! The writes and fsyncs a [`FilePersister`](super::FilePersister) makes, in
//! one place, so tests can make any of them fail the way a full or dying
//! disk does (ENOSPC, EIO), and every fsync is timed. In a normal build it
//! is a pass-through to `std::fs` plus the fsync histograms.

use std::fs::File;
use std::io::{self, Write};
use std::sync::Arc;
use std::time::Instant;

use crate::metrics::FsyncMetrics;

/// How the persister reaches the disk. Clones share the same faults and
/// the same fsync histograms.
#[derive(Clone, Debug, Default)]
pub struct Disk {
    #[cfg(test)]
    faults: std::sync::Arc<super::faults::Faults>,
    fsyncs: Arc<FsyncMetrics>,
}

impl Disk {
    /// A disk whose writes and fsyncs fail when `faults` says so.
    #[cfg(test)]
    pub fn faulty(faults: std::sync::Arc<super::faults::Faults>) -> Disk {
        Disk {
            faults,
            fsyncs: Arc::default(),
        }
    }

    /// How long this disk's fsyncs have taken.
    pub fn fsync_metrics(&self) -> Arc<FsyncMetrics> {
        self.fsyncs.clone()
    }

    /// One `write(2)`: may write only part of `buf`.
    pub fn write(&self, file: &mut File, buf: &[u8]) -> io::Result<usize> {
        #[cfg(test)]
        if let Some(n) = self.faults.on_write(buf.len())? {
            return file.write(&buf[..n]);
        }
        file.write(buf)
    }

    /// Writes all of `buf`, as `write_all` does, through [`write`](Self::write).
    pub fn write_all(&self, file: &mut File, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.write(file, buf) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => buf = &buf[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// `fdatasync(2)`: the file's data and size, not its other metadata.
    pub fn sync_data(&self, file: &File) -> io::Result<()> {
        #[cfg(test)]
        self.faults.on_sync()?;
        let started = Instant::now();
        let synced = file.sync_data();
        self.fsyncs.fdatasync.observe(started.elapsed());
        synced
    }

    /// `fsync(2)`: the file (or directory) whole.
    pub fn sync_all(&self, file: &File) -> io::Result<()> {
        #[cfg(test)]
        self.faults.on_sync()?;
        let started = Instant::now();
        let synced = file.sync_all();
        self.fsyncs.fsync.observe(started.elapsed());
        synced
    }
}

/// The log file as the persister's buffered writer sees it: every write
/// goes through the [`Disk`].
#[derive(Debug)]
pub struct LogFile {
    pub file: File,
    disk: Disk,
    /// Set when the persister is poisoned: the writer's buffered bytes must
    /// not reach the file later (on drop) as if nothing had failed.
    refuse: bool,
}

impl LogFile {
    pub fn new(file: File, disk: Disk) -> LogFile {
        LogFile {
            file,
            disk,
            refuse: false,
        }
    }

    /// Fails every later write.
    pub fn refuse_writes(&mut self) {
        self.refuse = true;
    }
}

impl Write for LogFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.refuse {
            return Err(io::Error::other("the persister is poisoned"));
        }
        self.disk.write(&mut self.file, buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
