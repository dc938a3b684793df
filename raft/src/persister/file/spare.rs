//! The next log segment, made ahead of time: a file of zeros as long as a
//! segment, written and synced by the reaper thread, renamed into place
//! when the active segment fills.
//!
//! Appends then overwrite blocks the file system has already allocated,
//! and `fdatasync` writes the data alone. Appending to the end of a file
//! also changes its size on every sync, which is metadata the sync has to
//! write too: measured on the 2-core VM with three processes syncing one
//! disk, 0.28 ms per `fdatasync` into preallocated blocks against 0.50 ms
//! for appends, and three times as many syncs a second in all. A Raft
//! write waits for two syncs (the leader's and a follower's), so this is
//! most of its latency on a busy disk.
//!
//! The zeros after the last record are not damage: recovery treats a log
//! that ends in zeros as ending at its last record (see `record.rs`). A
//! segment is cut to its records' length before the next one starts, so
//! only the last segment ever ends in zeros.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use super::writeback;

/// The spare's name: a temp file, deleted on open if a crash left it.
pub const SPARE: &str = "log-spare.tmp";

/// A spare costs one more write of a whole segment (its zeros) and saves
/// the size update of each sync that lands in it, so it pays only while
/// syncs are small and many. A segment filled by fewer syncs than this was
/// written in large pieces (large values): the next one grows as it is
/// written instead. Measured on the 2-core VM: 8 MiB of zeros take about
/// 18 ms of disk time and a sync into preallocated space saves about
/// 0.2 ms, so the break-even is near 90 syncs; a bit lower here, since the
/// time saved is a write's latency and the zeros are written off its path.
/// With 1 MB values a segment takes about 8 syncs, and the reaper writing
/// zeros cost 14% of the machine's time.
const MIN_SYNCS_PER_SEGMENT: u64 = 64;

/// Whether the next segment is worth preallocating, after the last one
/// took `syncs` syncs to fill.
pub fn pays_off(syncs: u64) -> bool {
    syncs >= MIN_SYNCS_PER_SEGMENT
}

/// Zeros are written this many at a time, each piece's write-out started
/// at once (see `writeback.rs`): 8 MiB synced in one go stalled the log's
/// syncs.
const ZEROS: usize = writeback::STEP;

/// Whether the spare is ready, shared by the persister (which takes it) and
/// the reaper (which makes it).
#[derive(Debug, Default)]
pub struct SpareSlot {
    ready: AtomicBool,
}

/// What [`SpareSlot::take`] found.
#[derive(Debug)]
pub enum Taken {
    /// No spare is ready: not asked for yet, or the reaper is still on it.
    NotReady,
    /// The spare, renamed into place and open for writing from its start.
    Ready(File),
    /// A spare was ready but could not be renamed or opened. It is used up
    /// all the same: the caller starts an empty file, as it would without
    /// spares, and may ask for the next.
    Unusable,
}

impl SpareSlot {
    /// Renames a ready spare to `path` and opens it.
    pub fn take(&self, spare: &Path, path: &Path) -> Taken {
        if !self.ready.swap(false, Ordering::Acquire) {
            return Taken::NotReady;
        }
        let renamed = fs::rename(spare, path)
            .and_then(|()| OpenOptions::new().read(true).write(true).open(path));
        match renamed {
            Ok(file) => Taken::Ready(file),
            Err(e) => {
                tracing::warn!(path = %spare.display(), error = %e, "cannot use the spare log segment");
                Taken::Unusable
            }
        }
    }
}

/// A request for a spare, carried out by the reaper.
#[derive(Debug)]
pub struct Preparation {
    pub path: PathBuf,
    pub bytes: u64,
    pub slot: std::sync::Arc<SpareSlot>,
}

impl Preparation {
    /// Writes the spare and marks it ready. A failure (a full disk) costs
    /// only the speed-up: the next segment starts empty instead.
    pub fn run(self) {
        match write_zeros(&self.path, self.bytes) {
            Ok(()) => self.slot.ready.store(true, Ordering::Release),
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot prepare a spare log segment");
                let _ = fs::remove_file(&self.path);
            }
        }
    }
}

fn write_zeros(path: &Path, bytes: u64) -> io::Result<()> {
    let mut file = File::create(path)?;
    let zeros = vec![0u8; ZEROS];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(ZEROS as u64) as usize;
        file.write_all(&zeros[..n])?;
        writeback::start(&file);
        left -= n as u64;
    }
    // Its size too: a spare renamed in after a crash has its blocks.
    file.sync_data()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_prepared_spare_is_taken_once_and_holds_zeros() {
        let dir = tempfile::tempdir().unwrap();
        let slot = Arc::new(SpareSlot::default());
        let (spare, segment) = (dir.path().join(SPARE), dir.path().join("log-1"));
        assert!(
            matches!(slot.take(&spare, &segment), Taken::NotReady),
            "nothing prepared yet"
        );
        Preparation {
            path: spare.clone(),
            bytes: 3 * ZEROS as u64 + 5,
            slot: slot.clone(),
        }
        .run();
        assert!(matches!(slot.take(&spare, &segment), Taken::Ready(_)));
        assert!(!spare.exists());
        let bytes = fs::read(&segment).unwrap();
        assert_eq!(bytes.len(), 3 * ZEROS + 5);
        assert!(bytes.iter().all(|&b| b == 0));
        assert!(matches!(
            slot.take(&spare, &dir.path().join("log-2")),
            Taken::NotReady
        ));
    }

    #[test]
    fn a_ready_spare_that_vanished_is_taken_as_unusable() {
        let dir = tempfile::tempdir().unwrap();
        let slot = Arc::new(SpareSlot::default());
        let spare = dir.path().join(SPARE);
        Preparation {
            path: spare.clone(),
            bytes: 10,
            slot: slot.clone(),
        }
        .run();
        fs::remove_file(&spare).unwrap();
        let segment = dir.path().join("log-1");
        assert!(matches!(slot.take(&spare, &segment), Taken::Unusable));
        assert!(matches!(slot.take(&spare, &segment), Taken::NotReady));
    }

    #[test]
    fn a_failed_preparation_leaves_no_spare() {
        let dir = tempfile::tempdir().unwrap();
        let slot = Arc::new(SpareSlot::default());
        let spare = dir.path().join("missing-dir").join(SPARE);
        Preparation {
            path: spare.clone(),
            bytes: 10,
            slot: slot.clone(),
        }
        .run();
        assert!(matches!(
            slot.take(&spare, &dir.path().join("log-1")),
            Taken::NotReady
        ));
    }
}
