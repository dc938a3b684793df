//! The operator's view and control of a node (`adminRpc`, for `kvctl`):
//! status, the member list, membership changes and leadership transfer.
//! A change is answered once committed, so it runs on a thread of its own
//! rather than holding an RPC worker for seconds.

use std::time::Duration;

use proto::admin::{
    AddLearnerArgs, AdminRpc, ChangeReply, MemberInfo, MemberListArgs, MemberListReply,
    PromoteArgs, RemoveArgs, StatusArgs, StatusReply, TransferLeaderArgs,
};
use raft::{ChangeError, ConfChange, MemberRole, Raft};
use rpc::Done;

use crate::KvServer;

/// How long a change may take to commit before the answer is ErrTimeout.
const CHANGE_TIMEOUT: Duration = Duration::from_secs(10);

impl AdminRpc for KvServer {
    fn status(&self, _args: StatusArgs, done: Done<StatusReply>) {
        let status = self.raft().status();
        let ids = |role| {
            status
                .configuration
                .members()
                .filter(|m| m.role == role)
                .map(|m| m.id as u64)
                .collect()
        };
        done.reply(StatusReply {
            node_id: i32::try_from(status.me).unwrap_or(-1),
            role: status.role.to_string().into_bytes(),
            term: status.term,
            commit_index: status.commit_index,
            applied_index: self.last_applied(),
            last_log_index: status.last_log_index,
            snapshot_index: status.snapshot_index,
            leader_id: hint(status.leader),
            raft_state_bytes: status.raft_state_bytes,
            voters: ids(MemberRole::Voter),
            learners: ids(MemberRole::Learner),
        });
    }

    fn member_list(&self, _args: MemberListArgs, done: Done<MemberListReply>) {
        let raft = self.raft();
        let (config, committed) = raft.configuration();
        let (_, is_leader) = raft.get_state();
        done.reply(MemberListReply {
            members: config
                .members()
                .map(|m| MemberInfo {
                    id: m.id as u64,
                    address: m.address,
                    learner: m.role == MemberRole::Learner,
                })
                .collect(),
            committed,
            node_id: i32::try_from(self.me()).unwrap_or(-1),
            leader_id: hint(raft.leader_hint()),
            is_leader,
        });
    }

    fn add_learner(&self, args: AddLearnerArgs, done: Done<ChangeReply>) {
        let change = ConfChange::AddLearner {
            id: args.id as usize,
            address: args.address,
        };
        change_in_background(self.raft().clone(), change, done);
    }

    fn promote(&self, args: PromoteArgs, done: Done<ChangeReply>) {
        let change = ConfChange::Promote {
            id: args.id as usize,
        };
        change_in_background(self.raft().clone(), change, done);
    }

    fn remove(&self, args: RemoveArgs, done: Done<ChangeReply>) {
        let change = ConfChange::Remove {
            id: args.id as usize,
        };
        change_in_background(self.raft().clone(), change, done);
    }

    fn transfer_leader(&self, args: TransferLeaderArgs, done: Done<ChangeReply>) {
        let raft = self.raft().clone();
        let spawned = std::thread::Builder::new()
            .name("admin-transfer".into())
            .spawn(move || {
                let result = raft.transfer_leadership(args.id as usize);
                let err = match result {
                    Ok(()) => String::new(),
                    Err(raft::TransferError::NotLeader) => "ErrWrongLeader".into(),
                    Err(e) => e.to_string(),
                };
                done.reply(ChangeReply {
                    err,
                    leader_id: hint(raft.leader_hint()),
                    index: 0,
                });
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot spawn a transfer thread");
        }
    }
}

/// Runs `change` to its commit on a thread of its own, then answers.
fn change_in_background(raft: Raft, change: ConfChange, done: Done<ChangeReply>) {
    let spawned = std::thread::Builder::new()
        .name("admin-change".into())
        .spawn(move || {
            let result = raft.change_membership(&change, CHANGE_TIMEOUT);
            let (err, index) = match result {
                Ok(index) => (String::new(), index),
                Err(e) => (wire_err(&e), 0),
            };
            done.reply(ChangeReply {
                err,
                leader_id: hint(raft.leader_hint()),
                index,
            });
        });
    if let Err(e) = spawned {
        // `done` went with the closure: dropped, it answers HANDLER_FAILED.
        tracing::warn!(error = %e, "cannot spawn a membership change thread");
    }
}

/// The wire's Err value for a refused change (see admin.proto).
fn wire_err(e: &ChangeError) -> String {
    match e {
        ChangeError::NotLeader => "ErrWrongLeader".into(),
        ChangeError::Pending(_) | ChangeError::NotReady => "ErrRetry".into(),
        ChangeError::Timeout(_) => "ErrTimeout".into(),
        other => other.to_string(),
    }
}

fn hint(leader: Option<usize>) -> i32 {
    leader.and_then(|l| i32::try_from(l).ok()).unwrap_or(-1)
}
