//! The Raft node's gauges, read from `Raft::status` at scrape time, and the
//! events it counts (`Raft::metrics`).

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use raft::{Raft, Role};

use super::encode::{counter_one, gauge, gauge_one, gauge_signed};

/// Every role, for the `raftkv_raft_role` state set.
const ROLES: [Role; 4] = [
    Role::Follower,
    Role::PreCandidate,
    Role::Candidate,
    Role::Leader,
];

/// Writes one node's Raft metrics.
pub struct RaftCollector(pub Raft);

impl fmt::Debug for RaftCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RaftCollector")
    }
}

impl Collector for RaftCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let e = &mut encoder;
        let status = self.0.status();
        let roles: Vec<_> = ROLES
            .iter()
            .map(|role| {
                let labels = vec![("role", role.to_string())];
                (labels, i64::from(*role == status.role))
            })
            .collect();
        gauge(
            e,
            "raftkv_raft_role",
            "1 for the role this node has now, 0 for the others",
            &roles,
        )?;
        gauge_one(e, "raftkv_raft_term", "Current term", status.term)?;
        let leader = status
            .leader
            .and_then(|l| i64::try_from(l).ok())
            .unwrap_or(-1);
        gauge_signed(
            e,
            "raftkv_raft_leader_id",
            "The node this one believes leads, -1 if it knows none",
            leader,
        )?;
        gauge_one(
            e,
            "raftkv_raft_commit_index",
            "Highest log index known committed",
            status.commit_index,
        )?;
        gauge_one(
            e,
            "raftkv_raft_last_log_index",
            "Index of the last log entry",
            status.last_log_index,
        )?;
        gauge_one(
            e,
            "raftkv_raft_log_entries",
            "Entries in the log after the snapshot (what kvctl status calls log_len)",
            status.last_log_index.saturating_sub(status.snapshot_index),
        )?;
        gauge_one(
            e,
            "raftkv_raft_snapshot_index",
            "Last log index the snapshot covers",
            status.snapshot_index,
        )?;
        gauge_one(
            e,
            "raftkv_raft_state_bytes",
            "Bytes of Raft state (log and hard state) the persister holds",
            status.raft_state_bytes,
        )?;
        let metrics = self.0.metrics();
        counter_one(
            e,
            "raftkv_raft_leader_changes",
            "Leaders this node learned of: one per term whose leader it heard from or was",
            metrics.leader_changes(),
        )?;
        counter_one(
            e,
            "raftkv_raft_elections",
            "Elections this node started as a candidate (pre-votes not counted)",
            metrics.elections(),
        )
    }
}
