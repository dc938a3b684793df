//! `kvctl member …` and `kvctl transfer-leader`: find the leader among the
//! reachable nodes the config file lists, ask it for one membership change
//! (or a leadership transfer), and wait until it is done.
//!
//! A change whose answer was lost (the leader crashed, or was the member
//! removed and stopped before replying) is not blindly sent again: the
//! next attempt first asks the leader whether the cluster already is as
//! asked, so `remove` of the leader exits 0 once its removal committed.

use std::net::{SocketAddr, ToSocketAddrs};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use proto::admin::{
    AddLearnerArgs, AdminRpcClient, ChangeReply, MemberListArgs, MemberListReply, PromoteArgs,
    RemoveArgs, TransferLeaderArgs,
};
use rpc::RpcChannel;

use crate::status::{leader, query_all};

/// One membership change, as the operator typed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    AddLearner { id: u64, address: String },
    Promote { id: u64 },
    Remove { id: u64 },
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::AddLearner { id, address } => write!(f, "add-learner {id} {address}"),
            Change::Promote { id } => write!(f, "promote {id}"),
            Change::Remove { id } => write!(f, "remove {id}"),
        }
    }
}

/// How long one status round may take.
const STATUS_TIMEOUT: Duration = Duration::from_secs(1);
/// Between attempts while there is no leader or it asks to retry.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// The leader's address, found by asking every node the file lists; if
/// none of them leads (the leader joined after the file was written), the
/// address the configuration gives the leader they name.
fn find_leader(addrs: &[SocketAddr]) -> Option<SocketAddr> {
    let statuses = query_all(addrs, STATUS_TIMEOUT);
    if let Some(id) = leader(&statuses) {
        return Some(addrs[id]);
    }
    statuses.iter().find_map(|s| {
        let hint = u64::try_from(s.status.as_ref().ok()?.leader_id).ok()?;
        let members = client(s.addr)
            .member_list(&MemberListArgs {}, STATUS_TIMEOUT)
            .ok()?;
        let member = members.members.iter().find(|m| m.id == hint)?;
        member.address.to_socket_addrs().ok()?.next()
    })
}

fn client(addr: SocketAddr) -> AdminRpcClient {
    AdminRpcClient::new(RpcChannel::new(addr))
}

/// The members as the leader sees them (or, with no leader, any reachable
/// node), one `ID ADDRESS voter|learner` line each.
pub fn list(addrs: &[SocketAddr], timeout: Duration) -> anyhow::Result<String> {
    let reply = member_list(addrs, timeout)?;
    let mut out = String::new();
    for m in &reply.members {
        let role = if m.learner { "learner" } else { "voter" };
        out.push_str(&format!("{} {} {role}\n", m.id, m.address));
    }
    Ok(out)
}

fn member_list(addrs: &[SocketAddr], timeout: Duration) -> anyhow::Result<MemberListReply> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(addr) = find_leader(addrs) {
            if let Ok(reply) = client(addr).member_list(&MemberListArgs {}, STATUS_TIMEOUT) {
                if reply.is_leader {
                    return Ok(reply);
                }
            }
        }
        if Instant::now() >= deadline {
            // No leader: the view of any node is better than nothing.
            for &addr in addrs {
                if let Ok(reply) = client(addr).member_list(&MemberListArgs {}, STATUS_TIMEOUT) {
                    return Ok(reply);
                }
            }
            bail!("no node of the cluster answers");
        }
        thread::sleep(RETRY_PAUSE);
    }
}

/// Whether the leader's configuration in force already is what `change`
/// asks for (committed or not: see `reply.committed`).
fn holds(change: &Change, reply: &MemberListReply) -> bool {
    if !reply.is_leader {
        return false;
    }
    let member = |id: u64| reply.members.iter().find(|m| m.id == id);
    match change {
        Change::AddLearner { id, address } => member(*id).is_some_and(|m| &m.address == address),
        Change::Promote { id } => member(*id).is_some_and(|m| !m.learner),
        Change::Remove { id } => member(*id).is_none(),
    }
}

/// Makes `change` on the leader and waits until it is committed; errors
/// in one line (a refusal, or no leader within `timeout`).
pub fn change(addrs: &[SocketAddr], change: &Change, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    let mut unsure = false;
    let mut last_problem = String::from("no leader found");
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bail!("{change} not done within {timeout:?}: {last_problem}");
        }
        let Some(addr) = find_leader(addrs) else {
            thread::sleep(RETRY_PAUSE);
            continue;
        };
        let admin = client(addr);
        if unsure {
            // Our change may be in the log already: then wait for its
            // commit (a new leader commits it at once) rather than ask
            // again and be told the member is gone or present.
            if let Ok(reply) = admin.member_list(&MemberListArgs {}, STATUS_TIMEOUT) {
                if holds(change, &reply) {
                    if reply.committed {
                        return Ok(());
                    }
                    thread::sleep(RETRY_PAUSE);
                    continue;
                }
            }
        }
        // The leader answers once committed (or after its own 10 s).
        let call_timeout = left + Duration::from_secs(1);
        let reply = match change {
            Change::AddLearner { id, address } => admin.add_learner(
                &AddLearnerArgs {
                    id: *id,
                    address: address.clone(),
                },
                call_timeout,
            ),
            Change::Promote { id } => admin.promote(&PromoteArgs { id: *id }, call_timeout),
            Change::Remove { id } => admin.remove(&RemoveArgs { id: *id }, call_timeout),
        };
        match settle(reply) {
            Ok(()) => return Ok(()),
            Err(Retry::Soon(problem)) => last_problem = problem,
            Err(Retry::Unsure(problem)) => {
                unsure = true;
                last_problem = problem;
            }
            Err(Retry::Never(reason)) => return Err(anyhow!(reason)),
        }
        thread::sleep(RETRY_PAUSE);
    }
}

/// Makes voter `id` the leader; returns once it leads.
pub fn transfer(addrs: &[SocketAddr], id: u64, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    let mut last_problem = String::from("no leader found");
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bail!("node {id} does not lead within {timeout:?}: {last_problem}");
        }
        let statuses = query_all(addrs, STATUS_TIMEOUT);
        let Some(current) = leader(&statuses) else {
            thread::sleep(RETRY_PAUSE);
            continue;
        };
        let leader_id = statuses[current]
            .status
            .as_ref()
            .map_or(-1, |s| i64::from(s.node_id));
        if leader_id == id as i64 {
            return Ok(());
        }
        let reply = client(addrs[current])
            .transfer_leader(&TransferLeaderArgs { id }, left + Duration::from_secs(1));
        match settle(reply) {
            // It answered once `id` led; the status round above confirms.
            Ok(()) => {}
            Err(Retry::Soon(p) | Retry::Unsure(p)) => last_problem = p,
            Err(Retry::Never(reason)) => return Err(anyhow!(reason)),
        }
        thread::sleep(RETRY_PAUSE);
    }
}

/// What to do after a reply.
enum Retry {
    /// Ask again (another leader, a change pending).
    Soon(String),
    /// The outcome is unknown (no answer): look before asking again.
    Unsure(String),
    /// Refused for good: the reason, one line.
    Never(String),
}

fn settle(reply: Result<ChangeReply, rpc::RpcError>) -> Result<(), Retry> {
    match reply {
        Err(e) => Err(Retry::Unsure(e.to_string())),
        Ok(r) if r.err.is_empty() => Ok(()),
        Ok(r) => match r.err.as_str() {
            "ErrWrongLeader" => Err(Retry::Soon("the leader changed".into())),
            "ErrRetry" => Err(Retry::Soon("another change is pending".into())),
            "ErrTimeout" => Err(Retry::Unsure("the change did not commit in time".into())),
            other => Err(Retry::Never(other.to_string())),
        },
    }
}
