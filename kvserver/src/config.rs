//! The KvServer's knobs, all in one place.

use std::time::Duration;

use raft::RaftConfig;

use crate::dedup::SessionLimits;
use crate::KvServerError;

/// How one KvServer behaves. `session_ttl` and `max_sessions` decide what
/// the replicated state machine forgets, so they must be equal on every
/// node of a cluster (and stay so across restarts); the rest is local.
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
    /// A client session idle this long in log time (the leaders' clocks,
    /// stamped into the log) is forgotten; a late copy of one of its
    /// writes is then refused with ErrSessionExpired. Default 1 h: far
    /// longer than any retry can be delayed. Must be equal on all nodes.
    pub session_ttl: Duration,
    /// At most this many client sessions are remembered; beyond it the
    /// least recently used is forgotten. Bounds the memory and snapshot
    /// size of dedup: a Clerk session (32-byte id) takes about 240 bytes
    /// of memory and 48 of snapshot, so the default of 100 000 costs about
    /// 24 MB and 4.8 MB. Must be equal on all nodes.
    pub max_sessions: usize,
    pub raft: RaftConfig,
}

impl Default for KvServerConfig {
    fn default() -> Self {
        KvServerConfig {
            max_raft_state: None,
            op_timeout: Duration::from_secs(2),
            sweep_interval: Duration::from_millis(50),
            session_ttl: SessionLimits::default().ttl,
            max_sessions: SessionLimits::default().max_sessions,
            raft: RaftConfig::default(),
        }
    }
}

impl KvServerConfig {
    /// The session expiry rules for the state machine.
    pub fn session_limits(&self) -> SessionLimits {
        SessionLimits {
            ttl: self.session_ttl,
            max_sessions: self.max_sessions,
        }
    }

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
        if self.session_ttl.is_zero() || self.max_sessions == 0 {
            return Err(KvServerError::InvalidConfig(
                "session_ttl and max_sessions must be positive".into(),
            ));
        }
        self.raft.validate().map_err(KvServerError::Raft)
    }
}
