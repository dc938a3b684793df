//! The operator's view of a node (`adminRpc.Status`, for `kvctl status`).

use proto::admin::{AdminRpc, StatusArgs, StatusReply};
use rpc::Done;

use crate::KvServer;

impl AdminRpc for KvServer {
    fn status(&self, _args: StatusArgs, done: Done<StatusReply>) {
        let status = self.raft().status();
        done.reply(StatusReply {
            node_id: i32::try_from(status.me).unwrap_or(-1),
            role: status.role.to_string().into_bytes(),
            term: status.term,
            commit_index: status.commit_index,
            applied_index: self.last_applied(),
            last_log_index: status.last_log_index,
            snapshot_index: status.snapshot_index,
            leader_id: status
                .leader
                .and_then(|l| i32::try_from(l).ok())
                .unwrap_or(-1),
            raft_state_bytes: status.raft_state_bytes,
        });
    }
}
