//! A [`Persister`] that keeps one node's state in files under one directory.
//!
//! # On-disk layout (one directory per node)
//!
//! ```text
//! <dir>/LOCK        empty; flock'ed while a FilePersister has the directory open
//! <dir>/hard_state  24 bytes: current term and vote        (see file/hard_state.rs)
//! <dir>/snapshot    36-byte header + snapshot data          (see file/snapshot.rs)
//! <dir>/log-<first index, 20 digits>
//!                   a log segment: entries from that index on, one
//!                   checksummed record each                 (see file/segment.rs)
//! <dir>/log-spare.tmp
//!                   the next segment, preallocated (see file/spare.rs)
//! <dir>/*.tmp       a replacement or a snapshot being written; deleted on open
//! ```
//!
//! Missing files mean "nothing saved yet": a fresh directory recovers as the
//! empty state. The log is a sequence of segments, each a sequence of
//! records holding one `LogEntry` encoded with prost:
//!
//! ```text
//!  +-----------+--------------+--------------+--------------+-------------------+
//!  | len: u32  | synced: u64  | body_crc: u32| head_crc: u32| body (len bytes)  |  ... next record
//!  +-----------+--------------+--------------+--------------+-------------------+
//!   little-endian; body_crc = crc32(body); head_crc = crc32(len, synced, body_crc)
//!   len <= MAX_BODY_LEN (file/record.rs); synced = the highest log index
//!   known durable when the record was written (always below its own index)
//! ```
//!
//! # What a call costs
//!
//! - [`append`](Persister::append) encodes the new entries and writes them
//!   to a buffered writer after the last record of the last segment: no
//!   fsync, no rewrite. Once that segment holds 8 MiB, it is cut to its
//!   records and synced, and a new one started (its name made durable with
//!   a directory fsync). The new one is the spare the reaper thread made
//!   ahead of time, 8 MiB of zeros, so that syncing an append does not
//!   have to write a new file size too (see `file/spare.rs`); after a
//!   segment filled by a few large syncs, none is made, since its zeros
//!   would cost more than they save.
//! - [`sync`](Persister::sync) is the group commit: one `fdatasync` of the
//!   log for everything appended or truncated since the last sync, plus the
//!   hard state if it changed. With nothing pending it makes no system call.
//! - [`truncate_suffix`](Persister::truncate_suffix) cuts the segment
//!   holding the first dropped entry at its record offset (from an in-memory
//!   index → offset table), deletes the segments after it, and syncs at once
//!   (rare; see the method for why).
//! - [`save_hard_state`](Persister::save_hard_state) only remembers the new
//!   value; `sync` replaces the file atomically (temp file, fsync, rename,
//!   fsync the directory), so it is never half-written.
//! - [`install_snapshot`](Persister::install_snapshot) renames the finished
//!   snapshot file over `snapshot`, then deletes the segments it covers
//!   whole. Covered records in the segment where the snapshot ends stay
//!   until that segment is deleted too; recovery skips them.
//!
//! Segments rather than one log file: compaction then deletes files and
//! copies nothing. An earlier version rewrote one file without the covered
//! records; behind a store of gigabytes the kept tail (everything appended
//! while the snapshot was being written) was tens of megabytes, copied and
//! synced under the persister's lock while the leader's writes waited.
//!
//! # Crash safety
//!
//! Durable means synced. [`open`](FilePersister::open) fsyncs everything it
//! read back (log, `hard_state`, `snapshot`, the directory) before handing
//! any of it out: after a `kill -9` the files may hold page-cache data that
//! was never synced, and a restarted node must not act on it (acknowledge
//! entries, keep a vote) until it is durable.
//!
//! A crash or power loss at any point leaves a state recovery accepts:
//! - mid-append, or with unsynced appends in flight: the log ends in records
//!   that were never synced. A power loss may have written any subset of
//!   their pages, so the tail can hold torn records, zeros, and valid
//!   records after a hole. Each record's `synced` field tells them apart
//!   from damage: the first damaged record, at index `i`, is an unsynced tail
//!   when no readable record anywhere claims `synced >= i`; recovery then
//!   cuts the file there, dropping it and everything after it. Raft never
//!   acknowledged an unsynced entry, so nothing acknowledged is lost.
//! - mid-replacement of `hard_state` or `snapshot`: the old file is intact and
//!   the leftover `.tmp` is deleted.
//! - after the snapshot rename, before covered segments are deleted:
//!   recovery skips entries at or below the snapshot index and deletes them.
//! - when a segment is started, the one before it is cut to its records
//!   and synced whole: only the last segment can end in unsynced records,
//!   or in zeros. Zeros after the last record are the unused part of a
//!   preallocated segment, and recovery keeps them (appends overwrite
//!   them); anything else there is an unsynced tail, cut as above.
//!
//! Anything else — a damaged record that a later record (in any segment)
//! claims was synced, indexes that are not contiguous, a log starting beyond
//! snapshot + 1, an entry below its segment's name, an
//! undecodable `hard_state` or `snapshot` — is [`PersistError::Corrupt`]
//! naming the file and byte offset. Recovery never resets to empty on damage.
//! One blind spot: damage to the last synced batch before any later record
//! was written (nothing claims it yet) looks like an unsynced tail.
//!
//! # Errors
//!
//! After a failed write or fsync (ENOSPC, EIO, ...) the persister is
//! poisoned: every later call fails with [`PersistError::Poisoned`]. A
//! failed fsync may have dropped the dirty pages it was to write, so a retry
//! that succeeds would claim durability for data that is gone; and the
//! in-memory view may no longer match the files. The node must stop; a
//! reopen recovers what was synced.

mod disk;
mod durable;
#[cfg(test)]
mod fault_tests;
#[cfg(test)]
mod faults;
mod hard_state;
mod lock;
mod open;
mod reaper;
mod record;
mod recovery;
mod segment;
mod snapshot;
mod snapshot_file;
mod spare;
mod writeback;

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use proto::raft::LogEntry;

use super::{
    HardState, PersistError, Persister, Recovered, SnapshotData, SnapshotMeta, SnapshotWriter,
};
use disk::{Disk, LogFile};
use lock::DirLock;
use reaper::Reaper;
use recovery::load;
use segment::Segment;
use snapshot_file::FileSnapshotWriter;
use spare::{SpareSlot, SPARE};

const LOCK: &str = "LOCK";
const HARD_STATE: &str = "hard_state";
const SNAPSHOT: &str = "snapshot";
/// The single log file of earlier versions, adopted as a segment on open.
const SINGLE_FILE_LOG: &str = "log";
const HARD_STATE_TMP: &str = "hard_state.tmp";
const SNAPSHOT_TMP: &str = "snapshot.tmp";
/// Left by earlier versions, which rewrote the log through it.
const LOG_TMP: &str = "log.tmp";

/// Appends accumulate here between system calls.
const WRITE_BUFFER: usize = 64 << 10;

/// Durable storage for one Raft node in one directory; see the module docs.
#[derive(Debug)]
pub struct FilePersister {
    dir: PathBuf,
    /// Deletes covered segments and closes replaced snapshots off the
    /// lock. Declared before `_lock`: dropped first, it finishes its work
    /// while the directory is still ours.
    reaper: Reaper,
    _lock: DirLock,
    /// Every write and fsync goes through it (a seam for fault tests).
    disk: Disk,
    /// The last segment, positioned at the end of its records (the file may
    /// run on in preallocated zeros; see `spare.rs`).
    log: BufWriter<LogFile>,
    /// The segment files in order; the last one is `log`'s. Never empty.
    segments: Vec<Segment>,
    /// When the last segment reaches this many bytes, appends start a new one.
    segment_bytes: u64,
    /// The next segment's file, once the reaper has made it.
    spare: Arc<SpareSlot>,
    /// A spare was asked for and not yet taken. The first is asked for at
    /// the first append, not on open: a persister that is only read makes
    /// none, and tests set their segment size first. After a failed
    /// preparation (a full disk) it stays set: segments then start empty.
    spare_pending: bool,
    /// Syncs that wrote to the last segment so far.
    active_syncs: u64,
    /// Whether spares are worth making: the segment closed last was
    /// written by enough syncs (see `spare::pays_off`).
    spares_pay: bool,
    /// `offsets[i]` is where the record of entry `first_index() + i` starts
    /// in its segment.
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
    /// Every entry through this index is durable: the claim each new
    /// record carries (see `record.rs`).
    synced_index: u64,
    /// Why the persister refuses every call: an earlier write or fsync failed.
    poisoned: Option<String>,
    /// Reused encode buffer, so appends do not allocate.
    scratch: Vec<u8>,
    /// What `open` read, handed out by the first `recover`.
    recovered: Option<Recovered>,
}

impl FilePersister {
    /// Opens (creating it if missing) the directory `dir`, locks it against
    /// other persisters, and recovers its state, repairing a torn log tail
    /// and removing log segments a snapshot covers. Fails with
    /// [`PersistError::Io`] on `<dir>/LOCK` if another persister has `dir`
    /// open, and with [`PersistError::Corrupt`] on damage a crash cannot
    /// explain.
    pub fn open(dir: impl AsRef<Path>) -> Result<FilePersister, PersistError> {
        Self::open_on(dir.as_ref(), Disk::default())
    }

    /// How long this persister's fsyncs take, observed from now on by
    /// every sync it makes (keep the handle: the persister is usually
    /// boxed and handed to Raft).
    pub fn fsync_metrics(&self) -> Arc<crate::metrics::FsyncMetrics> {
        self.disk.fsync_metrics()
    }

    /// The directory this persister owns.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Starts a new log segment once the current one holds `bytes` (default
    /// 8 MiB). Smaller segments let compaction free
    /// space sooner at the cost of more files; tests use tiny ones.
    pub fn set_segment_bytes(&mut self, bytes: u64) {
        self.segment_bytes = bytes.max(1);
    }

    /// Waits until the segments a snapshot covered are deleted and the
    /// replaced snapshots closed (that work is done off the lock, on a
    /// thread of the persister's own).
    pub fn wait_for_deletions(&self) {
        self.reaper.wait();
    }

    /// The log segment files, in order (for operators and tests).
    pub fn segment_paths(&self) -> Vec<PathBuf> {
        self.segments.iter().map(|s| s.path(&self.dir)).collect()
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
}

impl FilePersister {
    /// Fails once the persister is poisoned.
    fn usable(&self) -> Result<(), PersistError> {
        match &self.poisoned {
            Some(why) => Err(PersistError::Poisoned(why.clone())),
            None => Ok(()),
        }
    }

    /// Runs one call; a failure that may have touched the files (anything
    /// but a rejected call) poisons the persister.
    fn guarded<T>(
        &mut self,
        call: impl FnOnce(&mut Self) -> Result<T, PersistError>,
    ) -> Result<T, PersistError> {
        self.usable()?;
        let result = call(self);
        if let Err(e) = &result {
            if !matches!(e, PersistError::Misuse(_)) {
                self.poisoned = Some(e.to_string());
                self.log.get_mut().refuse_writes();
            }
        }
        result
    }

    fn reread(&mut self) -> Result<Recovered, PersistError> {
        // Read the files back, after flushing buffered appends.
        self.log.flush().map_err(io_err(&self.active_path()))?;
        let loaded = load(&self.dir)?;
        Ok(Recovered {
            hard_state: self.hard_state,
            snapshot: loaded.snapshot.map(|s| SnapshotData::new(Arc::new(s))),
            entries: loaded.entries,
        })
    }

    fn append_records(&mut self, entries: &[LogEntry]) -> Result<(), PersistError> {
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
        if self.active().len >= self.segment_bytes {
            self.start_segment(first.log_index)?;
        } else {
            self.prepare_spare();
        }
        // Encode everything before writing anything, so a bad entry leaves
        // the log untouched.
        let start = self.active().len;
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
            offsets.push(start + self.scratch.len() as u64);
            record::encode(entry, self.synced_index, &mut self.scratch).ok_or_else(|| {
                PersistError::Misuse(format!(
                    "entry {} is larger than the {} byte record limit",
                    entry.log_index,
                    record::MAX_BODY_LEN
                ))
            })?;
        }
        self.log
            .write_all(&self.scratch)
            .map_err(io_err(&self.active_path()))?;
        self.offsets.extend(offsets);
        self.active().len += self.scratch.len() as u64;
        self.log_dirty = true;
        Ok(())
    }

    fn new_snapshot_file(
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

    fn install_snapshot_file(
        &mut self,
        writer: Box<dyn SnapshotWriter>,
    ) -> Result<(), PersistError> {
        let mut writer = writer
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
        durable::sync_dir(&self.disk, &path).map_err(io_err(&self.dir))?;
        self.snapshot = meta;
        if let Some(old) = self.current.replace(SnapshotData::new(Arc::new(installed))) {
            self.reaper.close(old);
        }
        // Entries the snapshot covers are durable in it.
        self.synced_index = self.synced_index.max(meta.last_included_index);
        self.offsets.drain(..covered);
        self.remove_covered_segments();
        Ok(())
    }

    fn sync_all_pending(&mut self) -> Result<(), PersistError> {
        // Raft acknowledges nothing until both are durable, so their order
        // does not matter; the hard state (rarely pending) goes first.
        if self.hard_state_pending {
            let path = self.path(HARD_STATE);
            let bytes = hard_state::encode(self.hard_state);
            durable::replace(&self.disk, &path, &self.path(HARD_STATE_TMP), &[&bytes])
                .map_err(io_err(&path))?;
            self.hard_state_pending = false;
        }
        self.sync_log()
    }

    fn sync_log(&mut self) -> Result<(), PersistError> {
        if self.log_dirty {
            let path = self.active_path();
            self.log.flush().map_err(io_err(&path))?;
            self.disk
                .sync_data(&self.log.get_ref().file)
                .map_err(io_err(&path))?;
            self.log_dirty = false;
            self.active_syncs += 1;
            // Only now, after the fsync returned OK: the next record may
            // claim these entries synced.
            self.synced_index = self.next_index() - 1;
        }
        Ok(())
    }
}

impl Persister for FilePersister {
    fn recover(&mut self) -> Result<Recovered, PersistError> {
        self.usable()?;
        if let Some(recovered) = self.recovered.take() {
            return Ok(recovered);
        }
        self.guarded(Self::reread)
    }

    fn save_hard_state(&mut self, hard_state: HardState) -> Result<(), PersistError> {
        self.usable()?;
        self.hard_state = hard_state;
        self.hard_state_pending = true;
        self.has_hard_state = true;
        Ok(())
    }

    fn append(&mut self, entries: &[LogEntry]) -> Result<(), PersistError> {
        self.guarded(|p| p.append_records(entries))
    }

    fn truncate_suffix(&mut self, from: u64) -> Result<(), PersistError> {
        self.guarded(|p| p.truncate_records(from))
    }

    fn begin_snapshot(
        &mut self,
        meta: SnapshotMeta,
    ) -> Result<Box<dyn SnapshotWriter>, PersistError> {
        self.guarded(|p| p.new_snapshot_file(meta))
    }

    fn install_snapshot(&mut self, snapshot: Box<dyn SnapshotWriter>) -> Result<(), PersistError> {
        self.guarded(|p| p.install_snapshot_file(snapshot))
    }

    fn current_snapshot(&self) -> Option<SnapshotData> {
        self.current.clone()
    }

    fn sync(&mut self) -> Result<(), PersistError> {
        self.guarded(Self::sync_all_pending)
    }

    fn raft_state_size(&self) -> u64 {
        let hard_state = if self.has_hard_state {
            hard_state::LEN as u64
        } else {
            0
        };
        self.live_log_bytes() + hard_state
    }
}

/// The temp files a crash may have left: fixed names, and snapshots in the
/// making (`snapshot-N.tmp`).
fn temp_files(dir: &Path) -> Result<Vec<PathBuf>, PersistError> {
    let mut found: Vec<PathBuf> = [HARD_STATE_TMP, SNAPSHOT_TMP, LOG_TMP, SPARE]
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
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io_err(path))
}

/// Opens a segment for the persister's writes, from `offset` on: the end of
/// its records, which may be before the end of the file.
fn open_log_at(path: &Path, offset: u64) -> Result<File, PersistError> {
    let mut file = open_log(path)?;
    file.seek(io::SeekFrom::Start(offset))
        .map_err(io_err(path))?;
    Ok(file)
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
