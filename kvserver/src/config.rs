//! The KvServer's knobs, all in one place.

use std::time::Duration;

use raft::RaftConfig;

use crate::KvServerError;

#[derive(Clone, Debug)]
pub struct KvServerConfig {
    /// Snapshot once Raft's stored state reaches this many bytes; `None`
    /// never snapshots (the original's `maxraftstate = -1`).
    pub max_raft_state: Option<u64>,
    /// How long a request may wait for its entry to apply before the client
    /// is told ErrTimeout (the original's CONSENSUS_TIMEOUT).
    pub op_timeout: Duration,
    /// How often waiting requests are checked for lost leadership.
    pub sweep_interval: Duration,
    pub raft: RaftConfig,
}

impl Default for KvServerConfig {
    fn default() -> Self {
        KvServerConfig {
            max_raft_state: None,
            op_timeout: Duration::from_secs(2),
            sweep_interval: Duration::from_millis(50),
            raft: RaftConfig::default(),
        }
    }
}

impl KvServerConfig {
    pub fn validate(&self) -> Result<(), KvServerError> {
        if self.max_raft_state == Some(0) {
            return Err(KvServerError::InvalidConfig(
                "max_raft_state must be positive (or unset to never snapshot)".into(),
            ));
        }
        if self.op_timeout.is_zero() || self.sweep_interval.is_zero() {
            return Err(KvServerError::InvalidConfig(
                "op_timeout and sweep_interval must be positive".into(),
            ));
        }
        self.raft.validate().map_err(KvServerError::Raft)
    }
}
