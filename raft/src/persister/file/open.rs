//! Opening a node's directory: lock it, read everything back, drop an
//! unsynced log tail, and make what was read durable before any of it is
//! handed out.

use std::fs;
use std::io::BufWriter;
use std::path::Path;

use super::disk::{Disk, LogFile};
use super::lock::DirLock;
use super::recovery::{load, Loaded};
use super::segment::{self, Segment, DEFAULT_SEGMENT_BYTES};
use super::{
    durable, io_err, open_log, open_log_at, temp_files, FilePersister, HARD_STATE, LOCK,
    SINGLE_FILE_LOG, SNAPSHOT, WRITE_BUFFER,
};
use crate::persister::{PersistError, Recovered, SnapshotData, SnapshotSource};

impl FilePersister {
    /// [`open`](Self::open) on a chosen [`Disk`]: fault tests pass a failing one.
    pub(super) fn open_on(dir: &Path, disk: Disk) -> Result<FilePersister, PersistError> {
        let dir = dir.to_path_buf();
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let lock_path = dir.join(LOCK);
        let lock = DirLock::acquire(&lock_path).map_err(io_err(&lock_path))?;
        // Only after taking the lock: another node's temp files are not ours.
        for path in temp_files(&dir)? {
            if durable::remove_if_exists(&path).map_err(io_err(&path))? {
                tracing::warn!(path = %path.display(), "removed a temp file left by a crash");
            }
        }
        adopt_single_file_log(&dir)?;

        let mut loaded = load(&dir)?;
        drop_unsynced_tail(&dir, &loaded)?;
        if loaded.segments.is_empty() {
            let first_index = loaded
                .snapshot
                .as_ref()
                .map_or(1, |s| s.meta().last_included_index + 1);
            loaded.segments.push(Segment {
                first_index,
                len: 0,
            });
        }
        // What was read back may be page cache a crashed process never
        // synced: make it durable before anything counts on it. The
        // directory sync covers the files' names (a rename that was never
        // synced), the files removed above, and a new segment.
        for segment in &loaded.segments {
            let path = segment.path(&dir);
            let file = open_log(&path)?;
            disk.sync_all(&file).map_err(io_err(&path))?;
        }
        for name in [HARD_STATE, SNAPSHOT] {
            let path = dir.join(name);
            durable::sync_if_exists(&disk, &path).map_err(io_err(&path))?;
        }
        durable::sync_dir(&disk, &dir.join(LOCK)).map_err(io_err(&dir))?;

        let current = loaded
            .snapshot
            .map(|s| SnapshotData::new(std::sync::Arc::new(s)));
        let snapshot = current.as_ref().map(|s| s.meta()).unwrap_or_default();
        let synced_index = loaded
            .entries
            .last()
            .map_or(snapshot.last_included_index, |e| e.log_index);
        let active = loaded.segments.last().expect("pushed above");
        let file = open_log_at(&active.path(&dir), active.len)?;
        let mut persister = FilePersister {
            dir,
            reaper: super::reaper::Reaper::start(),
            _lock: lock,
            log: BufWriter::with_capacity(WRITE_BUFFER, LogFile::new(file, disk.clone())),
            disk,
            segments: loaded.segments,
            segment_bytes: DEFAULT_SEGMENT_BYTES,
            spare: Default::default(),
            spare_pending: false,
            active_syncs: 0,
            spares_pay: true,
            offsets: loaded.offsets,
            snapshot,
            current: current.clone(),
            hard_state: loaded.hard_state.unwrap_or_default(),
            hard_state_pending: false,
            has_hard_state: loaded.hard_state.is_some(),
            log_dirty: false,
            synced_index,
            poisoned: None,
            scratch: Vec::new(),
            recovered: None,
        };
        // A crash between a snapshot's install and the deletion of the
        // segments it covers leaves them behind: finish the job.
        persister.remove_covered_segments();
        persister.recovered = Some(Recovered {
            hard_state: persister.hard_state,
            snapshot: current,
            entries: loaded.entries,
        });
        Ok(persister)
    }
}

/// Cuts the never-synced records recovery found: the end of the last kept
/// segment, and the segments after it.
fn drop_unsynced_tail(dir: &Path, loaded: &Loaded) -> Result<(), PersistError> {
    let unsynced = &loaded.unsynced;
    if unsynced.bytes > 0 {
        let last = loaded.segments.last().expect("damage is inside a segment");
        let path = last.path(dir);
        tracing::warn!(
            path = %path.display(),
            unsynced_bytes = unsynced.bytes,
            "dropping the unsynced tail of the log (torn or written out of order by a crash)"
        );
        let file = open_log(&path)?;
        file.set_len(last.len).map_err(io_err(&path))?;
    }
    for &first in &unsynced.later_segments {
        let path = segment::path(dir, first);
        tracing::warn!(path = %path.display(), "dropping an unsynced log segment");
        fs::remove_file(&path).map_err(io_err(&path))?;
    }
    Ok(())
}

/// Earlier versions kept the log in one file, `log`: it becomes the first
/// segment (its records are the same; every entry in it is at least 1).
fn adopt_single_file_log(dir: &Path) -> Result<(), PersistError> {
    let old = dir.join(SINGLE_FILE_LOG);
    if !old.exists() {
        return Ok(());
    }
    let new = segment::path(dir, 1);
    if new.exists() {
        return Err(PersistError::Corrupt {
            path: old,
            offset: 0,
            reason: format!("both a single-file log and {} exist", new.display()),
        });
    }
    fs::rename(&old, &new).map_err(io_err(&old))?;
    tracing::info!(from = %old.display(), to = %new.display(), "adopted the single-file log as a segment");
    Ok(())
}
