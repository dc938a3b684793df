//! How a Raft node reaches the other nodes: the [`RaftPeer`] seam, and
//! [`RpcPeer`], its production implementation over the rpc crate (the
//! original's `RaftRpcUtil`).

use std::time::Duration;

use proto::raft::{
    AppendEntriesArgs, AppendEntriesReply, InstallSnapshotRequest, InstallSnapshotResponse,
    RaftRpcClient, RequestVoteArgs, RequestVoteReply, TimeoutNowArgs, TimeoutNowReply,
};

/// "No reply": the peer was unreachable, the message was dropped, or the
/// call timed out. Raft treats every such failure the same way.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no reply from peer: {0}")]
pub struct PeerError(pub String);

/// One other node of the cluster, as the Raft node calls it. Calls block
/// until the reply or the failure; the node makes them off its state lock.
pub trait RaftPeer: Send + Sync + 'static {
    fn append_entries(&self, args: &AppendEntriesArgs) -> Result<AppendEntriesReply, PeerError>;
    fn request_vote(&self, args: &RequestVoteArgs) -> Result<RequestVoteReply, PeerError>;
    fn install_snapshot(
        &self,
        args: &InstallSnapshotRequest,
    ) -> Result<InstallSnapshotResponse, PeerError>;
    /// Leadership transfer's "start an election now" (thesis §3.10). A
    /// transport that cannot carry it fails the call, and the transfer
    /// gives up after its timeout.
    fn timeout_now(&self, _args: &TimeoutNowArgs) -> Result<TimeoutNowReply, PeerError> {
        Err(PeerError(
            "TimeoutNow is not supported by this transport".into(),
        ))
    }
}

/// A peer reached through the RPC framework.
pub struct RpcPeer {
    client: RaftRpcClient,
    rpc_timeout: Duration,
}

impl RpcPeer {
    pub fn new(channel: rpc::RpcChannel, rpc_timeout: Duration) -> Self {
        Self {
            client: RaftRpcClient::new(channel),
            rpc_timeout,
        }
    }
}

fn no_reply(e: rpc::RpcError) -> PeerError {
    PeerError(e.to_string())
}

impl RaftPeer for RpcPeer {
    fn append_entries(&self, args: &AppendEntriesArgs) -> Result<AppendEntriesReply, PeerError> {
        self.client
            .append_entries(args, self.rpc_timeout)
            .map_err(no_reply)
    }

    fn request_vote(&self, args: &RequestVoteArgs) -> Result<RequestVoteReply, PeerError> {
        self.client
            .request_vote(args, self.rpc_timeout)
            .map_err(no_reply)
    }

    fn install_snapshot(
        &self,
        args: &InstallSnapshotRequest,
    ) -> Result<InstallSnapshotResponse, PeerError> {
        self.client
            .install_snapshot(args, self.rpc_timeout)
            .map_err(no_reply)
    }

    fn timeout_now(&self, args: &TimeoutNowArgs) -> Result<TimeoutNowReply, PeerError> {
        self.client
            .timeout_now(args, self.rpc_timeout)
            .map_err(no_reply)
    }
}
