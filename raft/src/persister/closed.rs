//! The persister a node holds once it is shut down: every call fails, and
//! the real persister (its files, its directory lock) is already released.

use proto::raft::LogEntry;

use super::{
    HardState, PersistError, Persister, Recovered, SnapshotData, SnapshotMeta, SnapshotWriter,
};

/// What a shut-down node holds instead of its persister: nothing works.
pub(crate) struct Closed;

impl Closed {
    fn err<T>() -> Result<T, PersistError> {
        Err(PersistError::Misuse("the node is shut down".into()))
    }
}

impl Persister for Closed {
    fn recover(&mut self) -> Result<Recovered, PersistError> {
        Closed::err()
    }
    fn save_hard_state(&mut self, _: HardState) -> Result<(), PersistError> {
        Closed::err()
    }
    fn append(&mut self, _: &[LogEntry]) -> Result<(), PersistError> {
        Closed::err()
    }
    fn truncate_suffix(&mut self, _: u64) -> Result<(), PersistError> {
        Closed::err()
    }
    fn begin_snapshot(&mut self, _: SnapshotMeta) -> Result<Box<dyn SnapshotWriter>, PersistError> {
        Closed::err()
    }
    fn install_snapshot(&mut self, _: Box<dyn SnapshotWriter>) -> Result<(), PersistError> {
        Closed::err()
    }
    fn current_snapshot(&self) -> Option<SnapshotData> {
        None
    }
    fn sync(&mut self) -> Result<(), PersistError> {
        Closed::err()
    }
    fn raft_state_size(&self) -> u64 {
        0
    }
}
