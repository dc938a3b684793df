//! Leadership transfer (Raft thesis §3.10): the leader stops taking new
//! commands, brings the target's log up to date, and sends it TimeoutNow;
//! the target starts an election at once (no pre-vote, no waiting for its
//! timeout) and, its log being as up to date as anyone's, wins it. The
//! leader gives up after an election timeout and leads on.
//!
//! A planned restart of the leader (raft-node on SIGTERM) thus costs one
//! round of votes instead of an election timeout of silence.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use proto::raft::{TimeoutNowArgs, TimeoutNowReply};

use crate::election;
use crate::node::{Inner, Raft};
use crate::state::Role;
use crate::TransferError;

/// A transfer this leader has under way.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Handover {
    pub deadline: Instant,
}

/// How often the transferring leader looks at the target's progress.
const POLL: Duration = Duration::from_millis(2);

impl Raft {
    /// Hands leadership to voter `target` and returns once it leads (as
    /// far as this node has heard). New commands are refused meanwhile
    /// ([`StartError::Transferring`](crate::StartError)). Gives up after the
    /// maximum election timeout, after which this node takes commands again.
    pub fn transfer_leadership(&self, target: usize) -> Result<(), TransferError> {
        let inner = &self.inner;
        let timeout = inner.config.election_timeout_max;
        let term = {
            let mut st = inner.state.lock();
            if st.dead || st.role != Role::Leader {
                return Err(TransferError::NotLeader);
            }
            if target == inner.me {
                return Ok(());
            }
            if !st.config().is_voter(target) {
                return Err(TransferError::NotAVoter(target));
            }
            if st.handover.is_some() {
                return Err(TransferError::Busy);
            }
            let deadline = Instant::now() + timeout;
            st.handover = Some(Handover { deadline });
            tracing::info!(
                me = inner.me,
                target,
                term = st.current_term,
                "hands leadership over"
            );
            st.current_term
        };
        inner.wake_replicators();
        let mut sent = false;
        loop {
            let now = Instant::now();
            let send = {
                let mut st = inner.state.lock();
                if st.current_term != term || st.role != Role::Leader {
                    match st.leader {
                        Some(l) if l == target => return Ok(()),
                        Some(l) => return Err(TransferError::OtherLeader(l)),
                        None if now >= st.handover_deadline(now, timeout) => {
                            return Err(TransferError::TimedOut(target, timeout))
                        }
                        None => false,
                    }
                } else if st.handover.is_none_or(|h| now >= h.deadline) {
                    st.handover = None;
                    tracing::warn!(me = inner.me, target, "leadership transfer gave up");
                    return Err(TransferError::TimedOut(target, timeout));
                } else {
                    // §3.10: only once the target holds every entry.
                    let caught_up = st
                        .progress
                        .get(&target)
                        .is_some_and(|p| p.match_index >= st.log.last_index());
                    !sent && caught_up
                }
            };
            if send {
                sent = send_timeout_now(inner, target, term);
            }
            thread::sleep(POLL);
        }
    }

    /// Hands leadership to the voter with the most of the log (for a
    /// planned stop of the leader); returns who took over.
    pub fn step_aside(&self) -> Result<usize, TransferError> {
        let target = {
            let st = self.inner.state.lock();
            if st.dead || st.role != Role::Leader {
                return Err(TransferError::NotLeader);
            }
            st.config()
                .voters()
                .filter(|&v| v != self.inner.me)
                .max_by_key(|&v| st.match_index(v))
                .ok_or(TransferError::NoTarget)?
        };
        self.transfer_leadership(target).map(|()| target)
    }

    /// The TimeoutNow handler: the leader of our term asks us to start an
    /// election now.
    pub fn timeout_now(&self, args: TimeoutNowArgs) -> TimeoutNowReply {
        let inner = &self.inner;
        let st = inner.state.lock();
        let accepted =
            !st.dead && args.term == st.current_term && st.role == Role::Follower && st.is_voter();
        let term = st.current_term;
        drop(st);
        if accepted {
            tracing::info!(
                me = inner.me,
                term,
                from = args.leader_id,
                "told to take over"
            );
            let inner = inner.clone();
            let spawned = thread::Builder::new()
                .name(format!("raft{}-takeover", inner.me))
                .spawn(move || election::campaign_now(&inner, term));
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "cannot spawn a campaign thread");
            }
        }
        TimeoutNowReply { term, accepted }
    }
}

/// Sends TimeoutNow to `target`; whether it accepted.
fn send_timeout_now(inner: &Arc<Inner>, target: usize, term: u64) -> bool {
    let Some(link) = inner.link(target) else {
        return false;
    };
    let args = TimeoutNowArgs {
        term,
        leader_id: inner.me as i32,
    };
    match link.peer.timeout_now(&args) {
        Ok(reply) if reply.term > term => {
            inner.step_down(reply.term);
            false
        }
        Ok(reply) => reply.accepted,
        Err(_) => false,
    }
}
