//! A [`Persister`] that keeps one node's state in files under one directory.
//!
//! # On-disk layout (one directory per node)
//!
//! ```text
//! <dir>/LOCK        empty; flock'ed while a FilePersister has the directory open
//! <dir>/hard_state  24 bytes: current term and vote        (see file/hard_state.rs)
//! <dir>/snapshot    36-byte header + snapshot data          (see file/snapshot.rs)
//! <dir>/log         the entries after the snapshot, one checksummed record each
//! <dir>/*.tmp       a replacement or a snapshot being written; deleted on open
//! ```
//!
//! Missing files mean "nothing saved yet": a fresh directory recovers as the
//! empty state. The log is a sequence of records, each holding one
//! `LogEntry` encoded with prost:
//!
//! ```text
//!  +-----------+--------------+--------------+-------------------+
//!  | len: u32  | body_crc: u32| head_crc: u32| body (len bytes)  |  ... next record
//!  +-----------+--------------+--------------+-------------------+
//!   little-endian; body_crc = crc32(body); head_crc = crc32(len, body_crc)
//!   len <= 64 MiB
//! ```
//!
//! # What a call costs
//!
//! - [`append`](Persister::append) encodes the new entries and writes them
//!   to a buffered writer at the end of `log`: no fsync, no rewrite.
//! - [`sync`](Persister::sync) is the group commit: one `fdatasync` of the
//!   log for everything appended or truncated since the last sync, plus the
//!   hard state if it changed. With nothing pending it makes no system call.
//! - [`truncate_suffix`](Persister::truncate_suffix) cuts the file at the
//!   record offset of the first dropped entry, found in an in-memory
//!   index → offset table, and syncs at once (rare; see the method for why).
//! - [`save_hard_state`](Persister::save_hard_state) only remembers the new
//!   value; `sync` replaces the file atomically (temp file, fsync, rename,
//!   fsync the directory), so it is never half-written.
//! - [`begin_snapshot`](Persister::begin_snapshot) creates `snapshot-N.tmp`,
//!   which its writer fills and syncs without any lock of the node;
//!   [`install_snapshot`](Persister::install_snapshot) renames it over
//!   `snapshot`, fsyncs the directory, then rewrites `log` with only the
//!   records after the snapshot (the record bytes are copied, not
//!   re-encoded), again temp + fsync + rename.
//!
//! We rewrite one log file rather than keep segment files: a snapshot is
//! taken near the commit index, so the kept tail is short and the copy is
//! cheap, and one file keeps recovery, truncation and the layout an operator
//! reads simple (no manifest, no segment naming, no partial-segment rules).
//!
//! # Crash safety
//!
//! A crash at any point leaves a state recovery accepts:
//! - mid-append: the log ends in a torn record (short header or body, a bad
//!   checksum on a record that reaches end of file, or zeros). Recovery drops
//!   it and truncates the file to the last good record. Only unsynced
//!   entries can be torn, and Raft never acknowledged those.
//! - mid-replacement of `hard_state` or `snapshot`: the old file is intact and
//!   the leftover `.tmp` is deleted.
//! - after the snapshot rename, before the log rewrite: the old log still
//!   holds entries the snapshot covers. Recovery skips entries at or below
//!   the snapshot index and finishes the rewrite.
//!
//! Anything else — a bad checksum with more records after it, indexes that
//! are not contiguous, a log starting beyond snapshot + 1, an undecodable
//! `hard_state` or `snapshot` — is [`PersistError::Corrupt`] naming the file
//! and byte offset. Recovery never resets to empty on damage.
//!
//! After any error the in-memory view may no longer match the files: the
//! node must stop and reopen, which recovers from the files.

mod durable;
mod hard_state;
mod lock;
mod record;
mod recovery;
mod snapshot;
mod snapshot_file;

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use proto::raft::LogEntry;

use super::{
    HardState, PersistError, Persister, Recovered, SnapshotData, SnapshotMeta, SnapshotWriter,
};
use lock::DirLock;
use recovery::load;
use snapshot_file::FileSnapshotWriter;

const LOCK: &str = "LOCK";
const HARD_STATE: &str = "hard_state";
const SNAPSHOT: &str = "snapshot";
const LOG: &str = "log";
const HARD_STATE_TMP: &str = "hard_state.tmp";
const SNAPSHOT_TMP: &str = "snapshot.tmp";
const LOG_TMP: &str = "log.tmp";

/// Appends accumulate here between system calls.
const WRITE_BUFFER: usize = 64 << 10;

/// Durable storage for one Raft node in one directory; see the module docs.
#[derive(Debug)]
pub struct FilePersister {
    dir: PathBuf,
    _lock: DirLock,
    /// `log`, opened for append: after a truncation, writes land at the new end.
    log: BufWriter<File>,
    /// Bytes of `log`, buffered ones included.
    log_len: u64,
    /// `offsets[i]` is where the record of entry `first_index() + i` starts.
    offsets: Vec<u64>,
    snapshot: SnapshotMeta,
    /// The stored snapshot, open for reading.
    current: Option<SnapshotData>,
    hard_state: HardState,
    /// `hard_state` changed since the last sync.
    hard_state_pending: bool,
    /// A hard state was ever saved (it counts toward `raft_state_size`).
    has_hard_state: bool,
    /// The log was written or truncated since the last sync.
    log_dirty: bool,
    /// Reused encode buffer, so appends do not allocate.
    scratch: Vec<u8>,
    /// What `open` read, handed out by the first `recover`.
    recovered: Option<Recovered>,
}

impl FilePersister {
    /// Opens (creating it if missing) the directory `dir`, locks it against
    /// other persisters, and recovers its state, repairing a torn log tail
    /// and finishing an interrupted log compaction. Fails with
    /// [`PersistError::Io`] on `<dir>/LOCK` if another persister has `dir`
    /// open, and with [`PersistError::Corrupt`] on damage a crash cannot
    /// explain.
    pub fn open(dir: impl AsRef<Path>) -> Result<FilePersister, PersistError> {
        let dir = dir.as_ref().to_path_buf();
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
        let existed = log_path.exists();
        let file = open_log(&log_path)?;
        if !existed {
            durable::sync_dir(&log_path).map_err(io_err(&dir))?;
        }
        if loaded.good_len < loaded.file_len {
            tracing::warn!(
                path = %log_path.display(),
                torn_bytes = loaded.file_len - loaded.good_len,
                "dropping a torn record at the end of the log"
            );
            file.set_len(loaded.good_len).map_err(io_err(&log_path))?;
            file.sync_data().map_err(io_err(&log_path))?;
        }

        let current = loaded
            .snapshot
            .map(|s| SnapshotData::new(std::sync::Arc::new(s)));
        let snapshot = current.as_ref().map(|s| s.meta()).unwrap_or_default();
        let mut persister = FilePersister {
            dir,
            _lock: lock,
            log: BufWriter::with_capacity(WRITE_BUFFER, file),
            log_len: loaded.good_len,
            offsets: loaded.offsets,
            snapshot,
            current: current.clone(),
            hard_state: loaded.hard_state.unwrap_or_default(),
            hard_state_pending: false,
            has_hard_state: loaded.hard_state.is_some(),
            log_dirty: false,
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

    /// The directory this persister owns.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The index of the first entry in the log (stored or not).
    fn first_index(&self) -> u64 {
        self.snapshot.last_included_index.saturating_add(1)
    }

    fn next_index(&self) -> u64 {
        self.first_index() + self.offsets.len() as u64
    }

    /// Rewrites `log` so it starts at the record of `first_index()`, by
    /// copying the kept records' bytes into a replacement file.
    fn compact(&mut self) -> Result<(), PersistError> {
        let start = self.offsets.first().copied().unwrap_or(self.log_len);
        if start == 0 {
            return Ok(());
        }
        let (log_path, tmp_path) = (self.path(LOG), self.path(LOG_TMP));
        self.log.flush().map_err(io_err(&log_path))?;
        let mut tail = vec![0u8; (self.log_len - start) as usize];
        self.log
            .get_ref()
            .read_exact_at(&mut tail, start)
            .map_err(io_err(&log_path))?;
        durable::replace(&log_path, &tmp_path, &[&tail]).map_err(io_err(&log_path))?;
        self.log = BufWriter::with_capacity(WRITE_BUFFER, open_log(&log_path)?);
        for offset in &mut self.offsets {
            *offset -= start;
        }
        self.log_len -= start;
        // The replacement was fsynced whole, unsynced appends included.
        self.log_dirty = false;
        Ok(())
    }
}

impl Persister for FilePersister {
    fn recover(&mut self) -> Result<Recovered, PersistError> {
        if let Some(recovered) = self.recovered.take() {
            return Ok(recovered);
        }
        // Called again: read the files back, after flushing buffered appends.
        self.log.flush().map_err(io_err(&self.path(LOG)))?;
        let loaded = load(&self.dir)?;
        Ok(Recovered {
            hard_state: self.hard_state,
            snapshot: loaded
                .snapshot
                .map(|s| SnapshotData::new(std::sync::Arc::new(s))),
            entries: loaded.entries,
        })
    }

    fn save_hard_state(&mut self, hard_state: HardState) -> Result<(), PersistError> {
        self.hard_state = hard_state;
        self.hard_state_pending = true;
        self.has_hard_state = true;
        Ok(())
    }

    fn append(&mut self, entries: &[LogEntry]) -> Result<(), PersistError> {
        let Some(first) = entries.first() else {
            return Ok(());
        };
        if first.log_index != self.next_index() {
            return Err(PersistError::Misuse(format!(
                "append starts at index {} but the log's next index is {}",
                first.log_index,
                self.next_index()
            )));
        }
        // Encode everything before writing anything, so a bad entry leaves
        // the log untouched.
        self.scratch.clear();
        let mut offsets = Vec::with_capacity(entries.len());
        for (expected, entry) in (first.log_index..).zip(entries) {
            if entry.log_index != expected {
                return Err(PersistError::Misuse(format!(
                    "appended entries skip from index {} to {}",
                    expected - 1,
                    entry.log_index
                )));
            }
            offsets.push(self.log_len + self.scratch.len() as u64);
            record::encode(entry, &mut self.scratch).ok_or_else(|| {
                PersistError::Misuse(format!(
                    "entry {} is larger than the {} byte record limit",
                    entry.log_index,
                    record::MAX_BODY_LEN
                ))
            })?;
        }
        self.log
            .write_all(&self.scratch)
            .map_err(io_err(&self.dir.join(LOG)))?;
        self.offsets.extend(offsets);
        self.log_len += self.scratch.len() as u64;
        self.log_dirty = true;
        Ok(())
    }

    fn truncate_suffix(&mut self, from: u64) -> Result<(), PersistError> {
        // Entries below the first stored one are in the snapshot: already gone.
        let keep = from.saturating_sub(self.first_index()) as usize;
        let Some(&cut) = self.offsets.get(keep) else {
            return Ok(());
        };
        let log_path = self.path(LOG);
        self.log.flush().map_err(io_err(&log_path))?;
        self.log.get_ref().set_len(cut).map_err(io_err(&log_path))?;
        // Synced at once, unlike appends: were the new size to reach disk
        // after later appends' data, a crash could leave new records followed
        // by stale ones, which recovery would have to call corrupt.
        // Truncations are rare (a conflict, §5.3), so the fsync is cheap.
        self.log.get_ref().sync_data().map_err(io_err(&log_path))?;
        self.offsets.truncate(keep);
        self.log_len = cut;
        self.log_dirty = false;
        Ok(())
    }

    fn begin_snapshot(
        &mut self,
        meta: SnapshotMeta,
    ) -> Result<Box<dyn SnapshotWriter>, PersistError> {
        // Unique in the process, not just in this persister: a writer of a
        // node that was shut down may still be dropped (deleting its file)
        // after a successor opened the same directory.
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!("snapshot-{}.tmp", NEXT.fetch_add(1, Ordering::Relaxed));
        Ok(Box::new(FileSnapshotWriter::create(
            self.path(&name),
            meta,
        )?))
    }

    fn install_snapshot(&mut self, snapshot: Box<dyn SnapshotWriter>) -> Result<(), PersistError> {
        let mut writer = snapshot
            .into_any()
            .downcast::<FileSnapshotWriter>()
            .map_err(|_| PersistError::Misuse("a snapshot from another persister".into()))?;
        let meta = SnapshotWriter::meta(&*writer);
        if meta.last_included_index < self.snapshot.last_included_index {
            return Err(PersistError::Misuse(format!(
                "snapshot through index {} is older than the stored one through {}",
                meta.last_included_index, self.snapshot.last_included_index
            )));
        }
        if !writer.is_finished() {
            writer.finish()?;
        }
        let covered = meta.last_included_index - self.snapshot.last_included_index;
        let covered =
            usize::try_from(covered).map_or(self.offsets.len(), |c| c.min(self.offsets.len()));
        // The snapshot becomes durable before the log loses anything: a crash
        // in between leaves covered entries that recovery skips.
        let path = self.path(SNAPSHOT);
        fs::rename(writer.path(), &path).map_err(io_err(&path))?;
        let installed = (*writer).into_installed()?;
        durable::sync_dir(&path).map_err(io_err(&self.dir))?;
        self.snapshot = meta;
        self.current = Some(SnapshotData::new(std::sync::Arc::new(installed)));
        self.offsets.drain(..covered);
        self.compact()
    }

    fn current_snapshot(&self) -> Option<SnapshotData> {
        self.current.clone()
    }

    fn sync(&mut self) -> Result<(), PersistError> {
        // Raft acknowledges nothing until both are durable, so their order
        // does not matter; the hard state (rarely pending) goes first.
        if self.hard_state_pending {
            let path = self.path(HARD_STATE);
            let bytes = hard_state::encode(self.hard_state);
            durable::replace(&path, &self.path(HARD_STATE_TMP), &[&bytes])
                .map_err(io_err(&path))?;
            self.hard_state_pending = false;
        }
        if self.log_dirty {
            let path = self.path(LOG);
            self.log.flush().map_err(io_err(&path))?;
            self.log.get_ref().sync_data().map_err(io_err(&path))?;
            self.log_dirty = false;
        }
        Ok(())
    }

    fn raft_state_size(&self) -> u64 {
        let hard_state = if self.has_hard_state {
            hard_state::LEN as u64
        } else {
            0
        };
        self.log_len + hard_state
    }
}

/// The temp files a crash may have left: fixed names, and snapshots in the
/// making (`snapshot-N.tmp`).
fn temp_files(dir: &Path) -> Result<Vec<PathBuf>, PersistError> {
    let mut found: Vec<PathBuf> = [HARD_STATE_TMP, SNAPSHOT_TMP, LOG_TMP]
        .iter()
        .map(|name| dir.join(name))
        .collect();
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let name = entry.map_err(io_err(dir))?.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snapshot-") && name.ends_with(".tmp") {
            found.push(dir.join(&*name));
        }
    }
    Ok(found)
}

fn open_log(path: &Path) -> Result<File, PersistError> {
    OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(io_err(path))
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> PersistError + '_ {
    move |source| PersistError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn corrupt(path: &Path) -> impl FnOnce((u64, String)) -> PersistError + '_ {
    move |(offset, reason)| PersistError::Corrupt {
        path: path.to_path_buf(),
        offset,
        reason,
    }
}
