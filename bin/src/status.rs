//! Every node's status as a table, for `kvctl status` and the demo.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use proto::admin::{AdminRpcClient, StatusArgs, StatusReply};
use rpc::RpcChannel;

/// One node's row: its address and, if it answered, its status.
pub struct NodeStatus {
    pub id: usize,
    pub addr: SocketAddr,
    pub status: Result<StatusReply, String>,
}

impl NodeStatus {
    pub fn is_leader(&self) -> bool {
        self.status.as_ref().is_ok_and(|s| s.role == b"Leader")
    }
}

/// Asks every node for its status, each within `timeout`.
pub fn query_all(addrs: &[SocketAddr], timeout: Duration) -> Vec<NodeStatus> {
    let handles: Vec<_> = addrs
        .iter()
        .enumerate()
        .map(|(id, addr)| {
            let addr = *addr;
            std::thread::spawn(move || NodeStatus {
                id,
                addr,
                status: AdminRpcClient::new(RpcChannel::new(addr))
                    .status(&StatusArgs {}, timeout)
                    .map_err(|e| e.to_string()),
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("status thread panicked"))
        .collect()
}

/// The node that says it leads in the highest term, if any.
pub fn leader(statuses: &[NodeStatus]) -> Option<usize> {
    statuses
        .iter()
        .filter(|s| s.is_leader())
        .max_by_key(|s| s.status.as_ref().map(|r| r.term).unwrap_or(0))
        .map(|s| s.id)
}

/// Renders the table `kvctl status` prints.
pub fn render(statuses: &[NodeStatus]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<4} {:<21} {:<9} {:<9} {:>6} {:>8} {:>8} {:>8} {:>9}",
        "id", "address", "reachable", "role", "term", "commit", "applied", "log_len", "snapshot"
    );
    for s in statuses {
        match &s.status {
            Ok(r) => {
                let _ = writeln!(
                    out,
                    "{:<4} {:<21} {:<9} {:<9} {:>6} {:>8} {:>8} {:>8} {:>9}",
                    s.id,
                    s.addr.to_string(),
                    "yes",
                    String::from_utf8_lossy(&r.role),
                    r.term,
                    r.commit_index,
                    r.applied_index,
                    r.last_log_index.saturating_sub(r.snapshot_index),
                    r.snapshot_index
                );
            }
            Err(e) => {
                let _ = writeln!(
                    out,
                    "{:<4} {:<21} {:<9} {:<9} {:>6} {:>8} {:>8} {:>8} {:>9}  ({e})",
                    s.id,
                    s.addr.to_string(),
                    "no",
                    "-",
                    "-",
                    "-",
                    "-",
                    "-",
                    "-"
                );
            }
        }
    }
    out
}
