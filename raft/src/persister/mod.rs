//! Where a Raft node keeps what must survive a crash (the original's
//! `Persister`): the hard state (term and vote), the log, and the latest
//! snapshot. A small trait so tests can use memory and production files.
//!
//! Unlike the original, which re-serialized the whole log on every persist,
//! the trait is incremental: appends, suffix truncations and snapshots are
//! separate calls, and [`Persister::sync`] makes everything written so far
//! durable at once, so many appends share one fsync (group commit).

pub(crate) mod closed;
mod file;
pub mod memory;
mod snapshot_data;

pub use file::FilePersister;
pub(crate) use snapshot_data::BufferWriter;
pub use snapshot_data::{
    SnapshotData, SnapshotReader, SnapshotSource, SnapshotWriter, WriteAdapter,
};

use proto::raft::LogEntry;

/// The vote-related state Figure 2 of the Raft paper calls persistent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HardState {
    pub current_term: u64,
    /// The candidate this node voted for in `current_term`, if any.
    pub voted_for: Option<u32>,
}

/// Where the snapshot ends in the log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SnapshotMeta {
    pub last_included_index: u64,
    pub last_included_term: u64,
}

/// Everything a restarting node reads back.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Recovered {
    pub hard_state: HardState,
    /// The latest snapshot, if one was ever saved (read on demand, never
    /// loaded whole).
    pub snapshot: Option<SnapshotData>,
    /// The log after the snapshot: contiguous, absolute indexes, starting at
    /// `last_included_index + 1` (or 1 without a snapshot).
    pub entries: Vec<LogEntry>,
}

/// Why persisting or recovering failed. A node that sees one stops: it
/// never carries on with state it could not save or read.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("I/O error on {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is corrupt at byte offset {offset}: {reason}")]
    Corrupt {
        path: std::path::PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("invalid persister call: {0}")]
    Misuse(String),
    /// An earlier write or fsync failed; the persister refuses every call
    /// since (a retried fsync could report data safe that the failed one
    /// dropped). Reopen to recover what was synced.
    #[error("persister refuses further use after an earlier failure: {0}")]
    Poisoned(String),
}

/// Durable storage for one Raft node.
///
/// Writes are buffered until [`sync`](Persister::sync); only synced state is
/// guaranteed to come back from [`recover`](Persister::recover) after a
/// crash. Raft syncs before it acknowledges anything (grants a vote, answers
/// an append with success, counts its own entry toward a commit).
pub trait Persister: Send + 'static {
    /// Reads back the state as a restarted node must see it.
    fn recover(&mut self) -> Result<Recovered, PersistError>;

    /// Replaces the hard state.
    fn save_hard_state(&mut self, hard_state: HardState) -> Result<(), PersistError>;

    /// Appends entries to the log. The first entry's index is one past the
    /// last stored entry (or one past the snapshot when the log is empty).
    fn append(&mut self, entries: &[LogEntry]) -> Result<(), PersistError>;

    /// Drops every log entry whose index is `>= from` (a conflict, §5.3).
    fn truncate_suffix(&mut self, from: u64) -> Result<(), PersistError>;

    /// Starts a new snapshot through `meta.last_included_index`. The writer
    /// is filled without any lock of the node; nothing changes here until
    /// [`install_snapshot`](Persister::install_snapshot).
    fn begin_snapshot(
        &mut self,
        meta: SnapshotMeta,
    ) -> Result<Box<dyn SnapshotWriter>, PersistError>;

    /// Makes a finished writer of this persister the stored snapshot and
    /// discards the log through its index (all of it when the snapshot
    /// reaches past the log's end). Durable when it returns: snapshots are
    /// rare and large, so they are not batched. Refuses a snapshot older
    /// than the stored one.
    fn install_snapshot(&mut self, snapshot: Box<dyn SnapshotWriter>) -> Result<(), PersistError>;

    /// The stored snapshot, if any.
    fn current_snapshot(&self) -> Option<SnapshotData>;

    /// Saves a snapshot held in memory: begin, write, install.
    fn save_snapshot(&mut self, meta: SnapshotMeta, data: &[u8]) -> Result<(), PersistError> {
        let mut writer = self.begin_snapshot(meta)?;
        writer.write(data)?;
        writer.finish()?;
        self.install_snapshot(writer)
    }

    /// Makes every earlier call durable (one fsync for many appends).
    fn sync(&mut self) -> Result<(), PersistError>;

    /// Bytes of Raft state (hard state and log) now stored; the KvServer
    /// compares it with `max_raft_state` to decide when to snapshot.
    fn raft_state_size(&self) -> u64;
}
