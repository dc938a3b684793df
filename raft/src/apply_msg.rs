//! What Raft hands to the service above it (the original's `ApplyMsg`).

use crate::{Configuration, SnapshotData};

/// One step for the state machine, delivered in log order through the apply
/// queue. Unlike the original's struct of two halves with valid flags, each
/// kind is its own variant, so a half-filled message cannot exist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApplyMsg {
    /// A committed command, exactly once per node incarnation, in index order.
    Command {
        index: u64,
        term: u64,
        command: Vec<u8>,
    },
    /// Replace the state machine with this snapshot (through `index`); the
    /// next command delivered, if any, is `index + 1`.
    Snapshot {
        index: u64,
        term: u64,
        /// Read it as a stream: a snapshot may be larger than memory allows twice.
        data: SnapshotData,
    },
    /// A committed configuration entry (a membership change): nothing for
    /// the state machine to do, but the index counts as applied, so reads
    /// waiting for it and the next command's index line up.
    Membership {
        index: u64,
        term: u64,
        config: Configuration,
    },
}

impl ApplyMsg {
    /// The log index this message brings the state machine to.
    pub fn index(&self) -> u64 {
        match self {
            ApplyMsg::Command { index, .. }
            | ApplyMsg::Snapshot { index, .. }
            | ApplyMsg::Membership { index, .. } => *index,
        }
    }
}
