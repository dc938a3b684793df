//! A [`raft::RaftPeer`] over a simulated client end: what the harness hands
//! each Raft node instead of the production `RpcPeer`.

use prost::Message;
use proto::raft::{
    AppendEntriesArgs, AppendEntriesReply, InstallSnapshotRequest, InstallSnapshotResponse,
    RequestVoteArgs, RequestVoteReply,
};
use raft::{PeerError, RaftPeer};

use super::ClientEnd;

/// The wire name of the Raft service (`service raftRpc` in raft.proto).
pub const RAFT_SERVICE: &str = "raftRpc";

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
}
