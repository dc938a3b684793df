//! Polling the nodes' admin status until something holds, with a bound and
//! an ear for Ctrl-C.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use proto::admin::StatusReply;

use super::workload::Stop;
use crate::status::{self, NodeStatus};

/// How long one status call may take: a node busy recovering may be slow.
const STATUS_TIMEOUT: Duration = Duration::from_millis(500);

/// Every node's status, right now.
pub fn statuses(addrs: &[SocketAddr]) -> Vec<NodeStatus> {
    status::query_all(addrs, STATUS_TIMEOUT)
}

/// Node `id`'s status, if it answered.
pub fn reply(statuses: &[NodeStatus], id: usize) -> Option<&StatusReply> {
    statuses.get(id).and_then(|s| s.status.as_ref().ok())
}

/// The leader and its commit index, if a leader answered.
pub fn leader_commit(statuses: &[NodeStatus]) -> Option<(usize, u64)> {
    let leader = status::leader(statuses)?;
    Some((leader, reply(statuses, leader)?.commit_index))
}

/// Polls every `every` until `done` returns Some, for at most `within`.
/// Ok(None) means it gave up; Err means Ctrl-C.
pub fn until<T>(
    addrs: &[SocketAddr],
    every: Duration,
    within: Duration,
    stop: &Stop,
    mut done: impl FnMut(&[NodeStatus]) -> Option<T>,
) -> anyhow::Result<Option<T>> {
    let deadline = Instant::now() + within;
    loop {
        stop.check()?;
        if let Some(value) = done(&statuses(addrs)) {
            return Ok(Some(value));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(every);
    }
}

/// The leader's id, once there is one.
pub fn for_leader(addrs: &[SocketAddr], within: Duration, stop: &Stop) -> anyhow::Result<usize> {
    until(
        addrs,
        Duration::from_millis(100),
        within,
        stop,
        status::leader,
    )?
    .ok_or_else(|| anyhow::anyhow!("no leader elected within {within:?}; see the node logs"))
}
