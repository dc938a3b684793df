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
    let header = [
        "id",
        "address",
        "reachable",
        "role",
        "term",
        "commit",
        "applied",
        "log_len",
        "snapshot",
    ];
    row(&mut out, header.map(String::from), None);
    for s in statuses {
        let (id, addr) = (s.id.to_string(), s.addr.to_string());
        match &s.status {
            Ok(r) => row(
                &mut out,
                [
                    id,
                    addr,
                    "yes".into(),
                    String::from_utf8_lossy(&r.role).into_owned(),
                    r.term.to_string(),
                    r.commit_index.to_string(),
                    r.applied_index.to_string(),
                    r.last_log_index
                        .saturating_sub(r.snapshot_index)
                        .to_string(),
                    r.snapshot_index.to_string(),
                ],
                None,
            ),
            Err(e) => {
                let mut cells: [String; 9] = std::array::from_fn(|_| "-".to_string());
                cells[0] = id;
                cells[1] = addr;
                cells[2] = "no".into();
                row(&mut out, cells, Some(e));
            }
        }
    }
    out
}

/// The configuration as the leader (or, with none, the first node that
/// answered) sees it: `voters: 0 1 2` and `learners: 3` lines.
pub fn render_members(statuses: &[NodeStatus]) -> String {
    let source = leader(statuses)
        .and_then(|id| statuses.iter().find(|s| s.id == id))
        .or_else(|| statuses.iter().find(|s| s.status.is_ok()));
    let Some(Ok(reply)) = source.map(|s| &s.status) else {
        return String::new();
    };
    let words = |ids: &[u64]| {
        if ids.is_empty() {
            " -".to_string()
        } else {
            ids.iter().map(|id| format!(" {id}")).collect()
        }
    };
    format!(
        "voters:{}\nlearners:{}\n",
        words(&reply.voters),
        words(&reply.learners)
    )
}

/// One line of the table: left-aligned words, right-aligned numbers.
fn row(out: &mut String, cells: [String; 9], note: Option<&str>) {
    let [id, addr, reachable, role, term, commit, applied, log_len, snapshot] = cells;
    let _ = write!(
        out,
        "{id:<4} {addr:<21} {reachable:<9} {role:<9} {term:>6} {commit:>8} {applied:>8} {log_len:>8} {snapshot:>9}"
    );
    if let Some(note) = note {
        let _ = write!(out, "  ({note})");
    }
    out.push('\n');
}
