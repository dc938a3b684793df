//! The Raft node (the original's `src/raftCore`). Under construction: see issue 3.

pub mod persister;

pub use persister::FilePersister;
pub use persister::{HardState, PersistError, Persister, Recovered, SnapshotMeta};
