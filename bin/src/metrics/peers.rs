//! Raft RPCs sent to each peer and how many got no reply, counted by a
//! [`RaftPeer`] wrapper around the real transport, so Raft itself needs no hook.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use proto::raft::{
    AppendEntriesArgs, AppendEntriesReply, InstallSnapshotRequest, InstallSnapshotResponse,
    RequestVoteArgs, RequestVoteReply, TimeoutNowArgs, TimeoutNowReply,
};
use raft::{PeerError, RaftPeer};

use super::encode::counter;

/// The Raft RPCs, as the `rpc` label names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RaftRpc {
    AppendEntries,
    /// Votes and pre-votes alike: both are RequestVote calls.
    RequestVote,
    InstallSnapshot,
    /// A leader handing over (thesis §3.10).
    TimeoutNow,
}

impl RaftRpc {
    pub const ALL: [RaftRpc; 4] = [
        RaftRpc::AppendEntries,
        RaftRpc::RequestVote,
        RaftRpc::InstallSnapshot,
        RaftRpc::TimeoutNow,
    ];

    pub fn label(self) -> &'static str {
        match self {
            RaftRpc::AppendEntries => "append_entries",
            RaftRpc::RequestVote => "request_vote",
            RaftRpc::InstallSnapshot => "install_snapshot",
            RaftRpc::TimeoutNow => "timeout_now",
        }
    }
}

#[derive(Default)]
struct Calls {
    sent: AtomicU64,
    failed: AtomicU64,
}

/// One peer's counters, `[rpc as usize]`.
type PeerCalls = [Calls; RaftRpc::ALL.len()];

/// Calls made to each peer of one node, by RPC: how many were sent and how
/// many got no reply (unreachable, dropped, timed out).
pub struct PeerRpcs {
    me: usize,
    /// Each peer's counters; a peer added by a membership change gets its
    /// own when its first link is made. Locked only to add or scrape: a
    /// link holds its peer's counters.
    calls: Mutex<BTreeMap<usize, Arc<PeerCalls>>>,
}

impl PeerRpcs {
    /// Counters for node `me`, starting with nodes `0..n` (the config file's).
    pub fn new(me: usize, n: usize) -> Arc<PeerRpcs> {
        let rpcs = PeerRpcs {
            me,
            calls: Mutex::new(BTreeMap::new()),
        };
        for peer in (0..n).filter(|&p| p != me) {
            rpcs.of(peer);
        }
        Arc::new(rpcs)
    }

    /// `transport` to peer `id`, counting every call it makes.
    pub fn wrap(&self, id: usize, transport: Arc<dyn RaftPeer>) -> Arc<dyn RaftPeer> {
        Arc::new(CountedPeer {
            calls: self.of(id),
            transport,
        })
    }

    /// Calls of `rpc` sent to `peer` so far.
    pub fn sent(&self, peer: usize, rpc: RaftRpc) -> u64 {
        self.read(peer, rpc, |c| &c.sent)
    }

    /// Calls of `rpc` to `peer` that got no reply so far.
    pub fn failed(&self, peer: usize, rpc: RaftRpc) -> u64 {
        self.read(peer, rpc, |c| &c.failed)
    }

    fn read(&self, peer: usize, rpc: RaftRpc, which: fn(&Calls) -> &AtomicU64) -> u64 {
        self.calls.lock().get(&peer).map_or(0, |calls| {
            which(&calls[rpc as usize]).load(Ordering::Relaxed)
        })
    }

    fn of(&self, peer: usize) -> Arc<PeerCalls> {
        self.calls.lock().entry(peer).or_default().clone()
    }

    /// The other nodes this node has counters for: never itself.
    fn peers(&self) -> Vec<usize> {
        let calls = self.calls.lock();
        calls.keys().copied().filter(|&p| p != self.me).collect()
    }
}

fn count<T>(calls: &PeerCalls, rpc: RaftRpc, reply: &Result<T, PeerError>) {
    let calls = &calls[rpc as usize];
    calls.sent.fetch_add(1, Ordering::Relaxed);
    if reply.is_err() {
        calls.failed.fetch_add(1, Ordering::Relaxed);
    }
}

impl fmt::Debug for PeerRpcs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerRpcs").field("me", &self.me).finish()
    }
}

/// A peer whose calls are counted in a [`PeerRpcs`].
struct CountedPeer {
    transport: Arc<dyn RaftPeer>,
    calls: Arc<PeerCalls>,
}

impl RaftPeer for CountedPeer {
    fn append_entries(&self, args: &AppendEntriesArgs) -> Result<AppendEntriesReply, PeerError> {
        let reply = self.transport.append_entries(args);
        count(&self.calls, RaftRpc::AppendEntries, &reply);
        reply
    }

    fn request_vote(&self, args: &RequestVoteArgs) -> Result<RequestVoteReply, PeerError> {
        let reply = self.transport.request_vote(args);
        count(&self.calls, RaftRpc::RequestVote, &reply);
        reply
    }

    fn install_snapshot(
        &self,
        args: &InstallSnapshotRequest,
    ) -> Result<InstallSnapshotResponse, PeerError> {
        let reply = self.transport.install_snapshot(args);
        count(&self.calls, RaftRpc::InstallSnapshot, &reply);
        reply
    }

    fn timeout_now(&self, args: &TimeoutNowArgs) -> Result<TimeoutNowReply, PeerError> {
        let reply = self.transport.timeout_now(args);
        count(&self.calls, RaftRpc::TimeoutNow, &reply);
        reply
    }
}

/// Writes the counters as `raftkv_raft_rpcs_sent_total{peer, rpc}` and
/// `raftkv_raft_rpcs_failed_total{peer, rpc}`.
#[derive(Debug)]
pub struct PeerCollector(pub Arc<PeerRpcs>);

impl Collector for PeerCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let rpcs = &self.0;
        let series = |value: fn(&PeerRpcs, usize, RaftRpc) -> u64| {
            rpcs.peers()
                .into_iter()
                .flat_map(move |peer| {
                    RaftRpc::ALL.map(|rpc| {
                        let labels = vec![("peer", peer.to_string()), ("rpc", rpc.label().into())];
                        (labels, value(rpcs, peer, rpc))
                    })
                })
                .collect::<Vec<_>>()
        };
        counter(
            &mut encoder,
            "raftkv_raft_rpcs_sent",
            "Raft RPCs this node sent, by peer and RPC (pre-votes count as request_vote)",
            &series(PeerRpcs::sent),
        )?;
        counter(
            &mut encoder,
            "raftkv_raft_rpcs_failed",
            "Raft RPCs this node sent that got no reply (unreachable, dropped, timed out)",
            &series(PeerRpcs::failed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Flaky {
        answers: bool,
    }

    impl RaftPeer for Flaky {
        fn append_entries(&self, _: &AppendEntriesArgs) -> Result<AppendEntriesReply, PeerError> {
            if self.answers {
                Ok(AppendEntriesReply::default())
            } else {
                Err(PeerError("down".into()))
            }
        }
        fn request_vote(&self, _: &RequestVoteArgs) -> Result<RequestVoteReply, PeerError> {
            Err(PeerError("down".into()))
        }
        fn install_snapshot(
            &self,
            _: &InstallSnapshotRequest,
        ) -> Result<InstallSnapshotResponse, PeerError> {
            Ok(InstallSnapshotResponse::default())
        }
    }

    #[test]
    fn calls_and_failures_are_counted_per_peer_and_rpc() {
        let rpcs = PeerRpcs::new(0, 3);
        let up = rpcs.wrap(1, Arc::new(Flaky { answers: true }));
        let down = rpcs.wrap(2, Arc::new(Flaky { answers: false }));
        let args = AppendEntriesArgs::default();
        for _ in 0..3 {
            up.append_entries(&args).unwrap();
            down.append_entries(&args).unwrap_err();
        }
        down.request_vote(&RequestVoteArgs::default()).unwrap_err();
        assert_eq!(rpcs.sent(1, RaftRpc::AppendEntries), 3);
        assert_eq!(rpcs.failed(1, RaftRpc::AppendEntries), 0);
        assert_eq!(rpcs.sent(2, RaftRpc::AppendEntries), 3);
        assert_eq!(rpcs.failed(2, RaftRpc::AppendEntries), 3);
        assert_eq!(rpcs.sent(2, RaftRpc::RequestVote), 1);
        assert_eq!(rpcs.failed(2, RaftRpc::RequestVote), 1);
        assert_eq!(rpcs.sent(1, RaftRpc::RequestVote), 0);
        assert_eq!(rpcs.peers(), vec![1, 2]);
        // A peer a membership change adds is counted from its first link.
        let added = rpcs.wrap(3, Arc::new(Flaky { answers: true }));
        added.timeout_now(&TimeoutNowArgs::default()).unwrap_err();
        assert_eq!(rpcs.sent(3, RaftRpc::TimeoutNow), 1);
        assert_eq!(rpcs.peers(), vec![1, 2, 3]);
    }
}
