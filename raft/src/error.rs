//! The errors a caller of the raft crate can see.

use crate::PersistError;

/// Why a Raft node could not be built or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum RaftError {
    /// A [`RaftConfig`](crate::RaftConfig) broke one of its constraints.
    #[error("invalid raft config: {0}")]
    InvalidConfig(String),
    /// `me` is not an index into `peers`.
    #[error("node id {me} is out of range for a cluster of {size}")]
    InvalidId { me: usize, size: usize },
    /// The persister failed; the node cannot go on without its state.
    #[error("persister failed: {0}")]
    Persist(#[from] PersistError),
    /// The recovered state does not hang together.
    #[error("recovered state is inconsistent: {0}")]
    Recovery(String),
    /// A thread of the node could not be started.
    #[error("cannot spawn thread: {0}")]
    Spawn(#[from] std::io::Error),
}

/// Why [`Raft::try_start`](crate::Raft::try_start) appended nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StartError {
    /// This node is not the leader (or has stopped).
    #[error("not the leader")]
    NotLeader,
    /// The command is over [`MAX_COMMAND_BYTES`](crate::limits::MAX_COMMAND_BYTES):
    /// no AppendEntries could carry it. Refused before it enters the log.
    #[error("command of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge { len: usize, max: usize },
    /// The leader is handing leadership over (thesis §3.10) and takes no
    /// new commands meanwhile; the next leader will. Treat as `NotLeader`.
    #[error("leadership is being transferred")]
    Transferring,
}

/// Why a leadership transfer did not complete.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    #[error("not the leader")]
    NotLeader,
    #[error("node {0} is not a voter of the configuration")]
    NotAVoter(usize),
    #[error("no other voter to hand leadership to")]
    NoTarget,
    #[error("another leadership transfer is under way")]
    Busy,
    /// The target did not take over within an election timeout (it lagged
    /// too far, died, or could not win); this node leads on.
    #[error("node {0} did not take over within {1:?}; the leader stays")]
    TimedOut(usize, std::time::Duration),
    /// Another node than the target won the election the transfer started.
    #[error("node {0} took over instead of the target")]
    OtherLeader(usize),
}
