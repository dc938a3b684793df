//! The `LOCK` file that keeps two nodes from sharing one directory.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

/// Holds an exclusive `flock` on `<dir>/LOCK` until dropped (closing the
/// descriptor releases it; so does the kernel when the process dies, so a
/// crash never leaves a stale lock behind).
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

impl DirLock {
    /// Takes the lock without waiting. Fails with `WouldBlock` and a message
    /// naming the directory when another persister holds it.
    pub fn acquire(path: &Path) -> io::Result<DirLock> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        // SAFETY: flock on a descriptor we own; it touches no memory.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::WouldBlock {
                return Err(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    "the directory is already in use by another raft node \
                     (another FilePersister holds its lock)",
                ));
            }
            return Err(err);
        }
        Ok(DirLock { _file: file })
    }
}
