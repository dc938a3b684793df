//! Every timing and batching constant of a Raft node, in one place.

use std::time::Duration;

use crate::{limits, RaftError};

/// At most this many RPCs to one peer are outstanding at once. Appends that
/// carry new entries go one at a time (the next batch waits for the reply);
/// heartbeats may overtake a slow call, so a peer behind a slow or lossy link
/// still hears from the leader, but not without bound.
pub(crate) const MAX_INFLIGHT_PER_PEER: usize = 8;

/// The applier hands at most this many commands over per lock acquisition,
/// so a long catch-up never holds the state lock for long.
pub(crate) const APPLY_BATCH: usize = 256;

/// The largest snapshot chunk: a quarter of the RPC frame limit (64 MiB),
/// so a chunk and its header always fit.
pub(crate) const MAX_SNAPSHOT_CHUNK: usize = crate::limits::MAX_FRAME_BYTES / 4;

/// A learner is promoted only if its log is within this many entries of
/// the leader's (see `membership::caught_up`): a voter further behind would
/// count toward majorities it cannot yet help form.
pub(crate) const PROMOTE_MAX_LAG: u64 = 1000;

/// How long [`Raft::shutdown`](crate::Raft::shutdown) waits for the node's
/// threads before giving up on joining them.
pub(crate) const SHUTDOWN_JOIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Timing and batching knobs of a Raft node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RaftConfig {
    /// How often a leader sends AppendEntries to an idle follower.
    pub heartbeat_interval: Duration,
    /// Election timeouts are drawn uniformly from `[min, max]` (§5.2).
    pub election_timeout_min: Duration,
    pub election_timeout_max: Duration,
    /// How long an RPC to a peer may take; used by [`RpcPeer`](crate::RpcPeer) users.
    pub rpc_timeout: Duration,
    /// At most this many entries go in one AppendEntries.
    pub max_entries_per_append: usize,
    /// At most about this many command bytes go in one AppendEntries
    /// (always at least one entry, however large).
    pub max_bytes_per_append: usize,
    /// Ask for pre-votes before starting an election (thesis §9.6).
    pub pre_vote: bool,
    /// A leader that has not heard from a majority within an election
    /// timeout steps down (thesis §6.2).
    pub check_quorum: bool,
    /// Bytes of snapshot data per InstallSnapshot chunk. Large enough that
    /// per-call costs vanish, small enough that a chunk is written in a few
    /// milliseconds and fits any frame limit with room to spare.
    pub snapshot_chunk_bytes: usize,
}

impl Default for RaftConfig {
    fn default() -> Self {
        Self {
            heartbeat_interval: Duration::from_millis(50),
            election_timeout_min: Duration::from_millis(300),
            election_timeout_max: Duration::from_millis(600),
            rpc_timeout: Duration::from_millis(500),
            max_entries_per_append: 512,
            max_bytes_per_append: 4 << 20,
            pre_vote: true,
            check_quorum: true,
            snapshot_chunk_bytes: 1 << 20,
        }
    }
}

impl RaftConfig {
    /// Checks the constraints the algorithm relies on.
    pub fn validate(&self) -> Result<(), RaftError> {
        let bad = |why: &str| Err(RaftError::InvalidConfig(why.to_string()));
        if self.heartbeat_interval.is_zero() {
            return bad("heartbeat_interval must be positive");
        }
        // §5.6: broadcastTime << electionTimeout, or leaders cannot hold on.
        if self.election_timeout_min <= self.heartbeat_interval {
            return bad("election_timeout_min must exceed heartbeat_interval");
        }
        if self.election_timeout_max < self.election_timeout_min {
            return bad("election_timeout_max must be >= election_timeout_min");
        }
        if self.rpc_timeout.is_zero() {
            return bad("rpc_timeout must be positive");
        }
        if self.max_entries_per_append == 0 {
            return bad("max_entries_per_append must be positive");
        }
        if self.max_bytes_per_append == 0 {
            return bad("max_bytes_per_append must be positive");
        }
        if self.snapshot_chunk_bytes == 0 || self.snapshot_chunk_bytes > MAX_SNAPSHOT_CHUNK {
            return bad("snapshot_chunk_bytes must be between 1 and 16 MiB");
        }
        // Whatever batch the replicator builds must fit in one RPC frame.
        let largest =
            limits::max_append_args_bytes(self.max_entries_per_append, self.max_bytes_per_append);
        if largest > limits::MAX_FRAME_BYTES {
            return bad(&format!(
                "max_entries_per_append and max_bytes_per_append allow an AppendEntries of \
                 {largest} bytes, over the {} byte frame limit",
                limits::MAX_FRAME_BYTES
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid() {
        RaftConfig::default().validate().unwrap();
    }

    #[test]
    fn rejects_bad_timings() {
        let c = RaftConfig {
            election_timeout_min: Duration::from_millis(10),
            ..RaftConfig::default()
        };
        assert!(matches!(c.validate(), Err(RaftError::InvalidConfig(_))));
        let c = RaftConfig {
            election_timeout_max: Duration::from_millis(100),
            ..RaftConfig::default()
        };
        assert!(c.validate().is_err());
        let c = RaftConfig {
            max_entries_per_append: 0,
            ..RaftConfig::default()
        };
        assert!(c.validate().is_err());
    }

    #[test]
    fn rejects_batches_over_the_frame_limit() {
        let c = RaftConfig {
            max_bytes_per_append: limits::MAX_FRAME_BYTES,
            ..RaftConfig::default()
        };
        assert!(matches!(c.validate(), Err(RaftError::InvalidConfig(_))));
        let c = RaftConfig {
            max_entries_per_append: limits::MAX_FRAME_BYTES,
            ..RaftConfig::default()
        };
        assert!(c.validate().is_err());
    }
}
