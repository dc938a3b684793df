//! Why a KvServer could not start.

#[derive(Debug, thiserror::Error)]
pub enum KvServerError {
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    #[error(transparent)]
    Raft(#[from] raft::RaftError),
}
