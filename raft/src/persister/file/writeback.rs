//! Handing written data to the disk early, in small pieces, without waiting
//! for it: how the snapshot writer and the spare segment's zeros keep out
//! of the way of the log's syncs.
//!
//! All nodes of a cluster snapshot at about the same log index. A sync of
//! megabytes puts them in the disk's queue ahead of the log's small writes
//! and makes the disk flush them; measured with `perf trace` during the
//! mixed phase of `scale-bench` with snapshots back to back, the log's
//! `fdatasync` on every node took 5–40 ms at such moments instead of about
//! 0.2 ms. Started a quarter megabyte at a time, the same bytes reach the
//! disk as a trickle, and the log's frequent syncs flush them a little at
//! a time (half as many log syncs over 3 ms in that run).

use std::fs::File;

/// Bytes a writer lets pile up before it starts their write-out.
pub const STEP: usize = 256 << 10;

/// Starts writing `file`'s dirty pages to the disk and returns at once: no
/// wait for the write, no cache flush (`sync_file_range` with
/// `SYNC_FILE_RANGE_WRITE`). Only a hint: callers sync before they rely on
/// the data, and that sync reports any error, so this one ignores them.
pub fn start(file: &File) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: a plain system call on a descriptor `file` keeps open;
        // offset 0 and length 0 mean the whole file.
        unsafe {
            libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = file;
}
