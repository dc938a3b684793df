//! Serving a node's handlers over the rpc crate: `impl RaftRpc for Raft`,
//! so production registers `RaftRpcServer::new(Arc::new(raft.clone()))`.

use proto::raft::{
    AppendEntriesArgs, AppendEntriesReply, InstallSnapshotRequest, InstallSnapshotResponse,
    RaftRpc, RequestVoteArgs, RequestVoteReply, TimeoutNowArgs, TimeoutNowReply,
};
use rpc::Done;

use crate::Raft;

impl RaftRpc for Raft {
    fn append_entries(&self, args: AppendEntriesArgs, done: Done<AppendEntriesReply>) {
        done.reply(Raft::append_entries(self, args));
    }

    fn install_snapshot(&self, args: InstallSnapshotRequest, done: Done<InstallSnapshotResponse>) {
        done.reply(Raft::install_snapshot(self, args));
    }

    fn request_vote(&self, args: RequestVoteArgs, done: Done<RequestVoteReply>) {
        done.reply(Raft::request_vote(self, args));
    }

    fn timeout_now(&self, args: TimeoutNowArgs, done: Done<TimeoutNowReply>) {
        done.reply(Raft::timeout_now(self, args));
    }
}
