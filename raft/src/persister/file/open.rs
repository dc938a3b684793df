//! Opening a node's directory: lock it, read everything back, drop an
//! unsynced log tail, and make what was read durable before any of it is
//! handed out.

use std::fs;
use std::io::BufWriter;
use std::path::Path;

use super::disk::{Disk, LogFile};
use super::lock::DirLock;
use super::recovery::load;
use super::{
    durable, io_err, open_log, temp_files, FilePersister, HARD_STATE, LOCK, LOG, SNAPSHOT,
    WRITE_BUFFER,
};
use crate::persister::{PersistError, Recovered, SnapshotData};

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

        let loaded = load(&dir)?;
        let log_path = dir.join(LOG);
        let file = open_log(&log_path)?;
        if loaded.good_len < loaded.file_len {
            tracing::warn!(
                path = %log_path.display(),
                unsynced_bytes = loaded.file_len - loaded.good_len,
                "dropping the unsynced tail of the log (torn or written out of order by a crash)"
            );
            file.set_len(loaded.good_len).map_err(io_err(&log_path))?;
        }
        // What was read back may be page cache a crashed process never
        // synced: make it durable before anything counts on it. The
        // directory sync covers the files' names (a rename that was never
        // synced), the temp files removed above, and a new log.
        disk.sync_all(&file).map_err(io_err(&log_path))?;
        for name in [HARD_STATE, SNAPSHOT] {
            let path = dir.join(name);
            durable::sync_if_exists(&disk, &path).map_err(io_err(&path))?;
        }
        durable::sync_dir(&disk, &log_path).map_err(io_err(&dir))?;

        let current = loaded
            .snapshot
            .map(|s| SnapshotData::new(std::sync::Arc::new(s)));
        let snapshot = current.as_ref().map(|s| s.meta()).unwrap_or_default();
        let synced_index = loaded
            .entries
            .last()
            .map_or(snapshot.last_included_index, |e| e.log_index);
        let mut persister = FilePersister {
            dir,
            _lock: lock,
            log: BufWriter::with_capacity(WRITE_BUFFER, LogFile::new(file, disk.clone())),
            disk,
            log_len: loaded.good_len,
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
        // A crash between the snapshot rename and the log rewrite leaves
        // covered entries at the front of the log: finish the rewrite.
        persister.compact()?;
        persister.recovered = Some(Recovered {
            hard_state: persister.hard_state,
            snapshot: current,
            entries: loaded.entries,
        });
        Ok(persister)
    }
}
