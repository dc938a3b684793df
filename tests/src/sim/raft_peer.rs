//! A [`raft::RaftPeer`] over a simulated client end: what the harness hands
//! each Raft node instead of the production `RpcPeer`.

use prost::Message;
use proto::raft::{
    AppendEntriesArgs, AppendEntriesReply, InstallSnapshotRequest, InstallSnapshotResponse,
    RequestVoteArgs, RequestVoteReply,
};
use raft::{PeerError, RaftPeer};

use std::sync::Arc;

use super::{ClientEnd, Network};

/// The wire name of the Raft service (`service raftRpc` in raft.proto).
pub const RAFT_SERVICE: &str = "raftRpc";

/// One fresh end per peer, `end_names[j]` connected to `server_name(j)`,
/// each wrapped as the [`RaftPeer`] a new Raft incarnation is given.
pub fn raft_peers_over(
    net: &Network,
    end_names: &[String],
    server_name: impl Fn(usize) -> String,
) -> Vec<Arc<dyn RaftPeer>> {
    end_names
        .iter()
        .enumerate()
        .map(|(j, name)| {
            let end = net.make_end(name);
            net.connect(name, &server_name(j));
            Arc::new(SimRaftPeer::new(end)) as Arc<dyn RaftPeer>
        })
        .collect()
}

/// Reaches one Raft peer through one end of the simulated network.
pub struct SimRaftPeer {
    end: ClientEnd,
}

impl SimRaftPeer {
    pub fn new(end: ClientEnd) -> Self {
        Self { end }
    }

    fn call<A: Message, R: Message + Default>(
        &self,
        method: &str,
        args: &A,
    ) -> Result<R, PeerError> {
        let reply = self
            .end
            .call(RAFT_SERVICE, method, &args.encode_to_vec())
            .map_err(|e| PeerError(format!("{method}: {e}")))?;
        R::decode(reply.as_slice()).map_err(|e| PeerError(format!("{method} reply: {e}")))
    }
}

impl RaftPeer for SimRaftPeer {
    fn append_entries(&self, args: &AppendEntriesArgs) -> Result<AppendEntriesReply, PeerError> {
        self.call("AppendEntries", args)
    }

    fn request_vote(&self, args: &RequestVoteArgs) -> Result<RequestVoteReply, PeerError> {
        self.call("RequestVote", args)
    }

    fn install_snapshot(
        &self,
        args: &InstallSnapshotRequest,
    ) -> Result<InstallSnapshotResponse, PeerError> {
        self.call("InstallSnapshot", args)
    }

    fn timeout_now(
        &self,
        args: &proto::raft::TimeoutNowArgs,
    ) -> Result<proto::raft::TimeoutNowReply, PeerError> {
        self.call("TimeoutNow", args)
    }
}
