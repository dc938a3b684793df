//! Raft RPCs sent to each peer and how many got no reply, counted by a
//! [`RaftPeer`] wrapper around the real transport, so Raft itself needs no hook.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use proto::raft::{
    AppendEntriesArgs, AppendEntriesReply, InstallSnapshotRequest, InstallSnapshotResponse,
    RequestVoteArgs, RequestVoteReply,
};
use raft::{PeerError, RaftPeer};

use super::encode::counter;

/// The three Raft RPCs, as the `rpc` label names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RaftRpc {
    AppendEntries,
    /// Votes and pre-votes alike: both are RequestVote calls.
    RequestVote,
    InstallSnapshot,
}

impl RaftRpc {
    pub const ALL: [RaftRpc; 3] = [
        RaftRpc::AppendEntries,
        RaftRpc::RequestVote,
        RaftRpc::InstallSnapshot,
    ];

    pub fn label(self) -> &'static str {
        match self {
            RaftRpc::AppendEntries => "append_entries",
            RaftRpc::RequestVote => "request_vote",
            RaftRpc::InstallSnapshot => "install_snapshot",
        }
    }
}

#[derive(Default)]
struct Calls {
    sent: AtomicU64,
    failed: AtomicU64,
}

/// Calls made to each peer of one node, by RPC: how many were sent and how
/// many got no reply (unreachable, dropped, timed out).
pub struct PeerRpcs {
    me: usize,
    /// `calls[peer][rpc as usize]`.
    calls: Vec<[Calls; 3]>,
}

impl PeerRpcs {
    /// Counters for node `me` of a cluster of `n`.
    pub fn new(me: usize, n: usize) -> Arc<PeerRpcs> {
        Arc::new(PeerRpcs {
            me,
            calls: (0..n).map(|_| Default::default()).collect(),
        })
    }

    /// `transport` to peer `id`, counting every call it makes.
    pub fn wrap(self: &Arc<Self>, id: usize, transport: Arc<dyn RaftPeer>) -> Arc<dyn RaftPeer> {
        Arc::new(CountedPeer {
            id,
            transport,
            rpcs: self.clone(),
        })
    }

    /// Calls of `rpc` sent to `peer` so far.
    pub fn sent(&self, peer: usize, rpc: RaftRpc) -> u64 {
        self.calls[peer][rpc as usize].sent.load(Ordering::Relaxed)
    }

    /// Calls of `rpc` to `peer` that got no reply so far.
    pub fn failed(&self, peer: usize, rpc: RaftRpc) -> u64 {
        self.calls[peer][rpc as usize]
            .failed
            .load(Ordering::Relaxed)
    }

    fn count<T>(&self, peer: usize, rpc: RaftRpc, reply: &Result<T, PeerError>) {
        let calls = &self.calls[peer][rpc as usize];
        calls.sent.fetch_add(1, Ordering::Relaxed);
        if reply.is_err() {
            calls.failed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The other nodes: a node never calls itself.
    fn peers(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.calls.len()).filter(move |&p| p != self.me)
    }
}

impl fmt::Debug for PeerRpcs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerRpcs").field("me", &self.me).finish()
    }
}

/// A peer whose calls are counted in a [`PeerRpcs`].
struct CountedPeer {
    id: usize,
    transport: Arc<dyn RaftPeer>,
    rpcs: Arc<PeerRpcs>,
}

impl RaftPeer for CountedPeer {
    fn append_entries(&self, args: &AppendEntriesArgs) -> Result<AppendEntriesReply, PeerError> {
        let reply = self.transport.append_entries(args);
        self.rpcs.count(self.id, RaftRpc::AppendEntries, &reply);
        reply
    }

    fn request_vote(&self, args: &RequestVoteArgs) -> Result<RequestVoteReply, PeerError> {
        let reply = self.transport.request_vote(args);
        self.rpcs.count(self.id, RaftRpc::RequestVote, &reply);
        reply
    }

    fn install_snapshot(
        &self,
        args: &InstallSnapshotRequest,
    ) -> Result<InstallSnapshotResponse, PeerError> {
        let reply = self.transport.install_snapshot(args);
        self.rpcs.count(self.id, RaftRpc::InstallSnapshot, &reply);
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
        assert_eq!(rpcs.peers().collect::<Vec<_>>(), vec![1, 2]);
    }
}
