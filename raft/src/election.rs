//! Leader election (§5.2) with pre-vote (thesis §9.6) and check-quorum
//! (thesis §6.2): the election timeout ticker, campaigns, vote counting and
//! the RequestVote handler.

use std::sync::Arc;
use std::thread;
use std::time::Instant;

use proto::raft::{RequestVoteArgs, RequestVoteReply};

use crate::config::RaftConfig;
use crate::log::Log;
use crate::node::Inner;
use crate::state::{Role, State};
use crate::PeerError;

/// `RequestVoteReply::vote_state` values (informational, as in the original).
const VOTE_KILLED: i32 = 0;
const VOTE_REJECTED: i32 = 2;
const VOTE_GRANTED: i32 = 3;

/// Figure 2, RequestVote receiver rules 1–2, once the voter has adopted
/// `args.term` if it was newer: same term, no other vote this term (§5.2),
/// and the candidate's log at least as up-to-date as ours (§5.4.1).
pub(crate) fn grants_vote(
    current_term: u64,
    voted_for: Option<usize>,
    log: &Log,
    args: &RequestVoteArgs,
) -> bool {
    let candidate = args.candidate_id as usize;
    args.term == current_term
        && voted_for.is_none_or(|v| v == candidate)
        && log.is_up_to_date(args.last_log_term, args.last_log_index)
}

/// Thesis §9.6: would we vote for this candidate at `args.term`? Only if
/// that term is newer, its log is up to date, and we have not heard from a
/// live leader within the minimum election timeout (so a node back from a
/// partition cannot depose a healthy leader). Changes nothing.
pub(crate) fn grants_pre_vote(
    current_term: u64,
    log: &Log,
    leader_alive: bool,
    args: &RequestVoteArgs,
) -> bool {
    args.term > current_term
        && !leader_alive
        && log.is_up_to_date(args.last_log_term, args.last_log_index)
}

/// Whether this node heard from a leader recently enough to refuse pre-votes.
fn leader_alive(st: &State, config: &RaftConfig, now: Instant) -> bool {
    st.role == Role::Leader
        || st
            .last_leader_contact
            .is_some_and(|t| now.duration_since(t) < config.election_timeout_min)
}

/// Check-quorum: a leader counts itself (if it votes) and every voter that
/// answered within the last `window`; learners keep no one in office.
pub(crate) fn has_quorum(st: &State, now: Instant, window: std::time::Duration) -> bool {
    st.is_majority(|id| {
        id == st.me
            || st
                .progress
                .get(&id)
                .is_some_and(|p| now.duration_since(p.last_ack) <= window)
    })
}

/// The election timeout ticker: sleeps until the election deadline (or, on
/// a leader, the next quorum check) and starts a campaign when it passes.
pub(crate) fn election_timeout_ticker(inner: Arc<Inner>) {
    let config = &inner.config;
    let mut st = inner.state.lock();
    loop {
        if st.dead {
            return;
        }
        if st.links_stale {
            // A safety net: whoever changed the members normally refreshes
            // the links at once; this catches any path that did not.
            drop(st);
            inner.refresh_links();
            st = inner.state.lock();
            continue;
        }
        let now = Instant::now();
        if st.role == Role::Leader {
            if config.check_quorum && now >= st.quorum_check_at {
                let window = config.election_timeout_max;
                if has_quorum(&st, now, window) {
                    st.quorum_check_at = now + window;
                } else {
                    tracing::warn!(
                        me = inner.me,
                        term = st.current_term,
                        "lost contact with a majority; stepping down"
                    );
                    st.leader = None;
                    st.become_follower(config, now);
                }
                continue;
            }
            // Woken at least every minimum timeout to notice a step-down.
            let mut wake = now + config.election_timeout_min;
            if config.check_quorum {
                wake = wake.min(st.quorum_check_at);
            }
            inner.election_cv.wait_until(&mut st, wake);
            continue;
        }
        if now >= st.election_deadline && !st.is_voter() {
            // Learners (and removed or joining nodes) never campaign.
            st.reset_election_deadline(config, now);
            continue;
        }
        if now >= st.election_deadline {
            drop(st);
            start_campaign(&inner, config.pre_vote, Trigger::Timeout);
            st = inner.state.lock();
            continue;
        }
        let deadline = st.election_deadline;
        inner.election_cv.wait_until(&mut st, deadline);
    }
}

/// Starts a real election at once, without pre-vote: the leader of `term`
/// handed leadership to this node (TimeoutNow, thesis §3.10).
pub(crate) fn campaign_now(inner: &Arc<Inner>, term: u64) {
    start_campaign(inner, false, Trigger::TimeoutNow(term));
}

/// Why a campaign starts; rechecked under the lock, since a leader may
/// have been heard from since.
#[derive(Clone, Copy)]
enum Trigger {
    /// The election deadline passed.
    Timeout,
    /// The leader of this term told us to take over.
    TimeoutNow(u64),
    /// This pre-vote campaign won a majority.
    PreVoteWon(u64),
}

/// Starts a pre-vote round (term unchanged) or a real election (§5.2:
/// increment currentTerm, vote for self, send RequestVote to all).
fn start_campaign(inner: &Arc<Inner>, pre_vote: bool, trigger: Trigger) {
    let config = &inner.config;
    let now = Instant::now();
    let args;
    let campaign;
    let voters;
    {
        // A real election changes term and vote: persist before asking.
        let mut storage = (!pre_vote).then(|| inner.storage.lock());
        let mut st = inner.state.lock();
        let still_wanted = match trigger {
            Trigger::Timeout => {
                st.role != Role::Leader && now >= st.election_deadline && st.is_voter()
            }
            Trigger::PreVoteWon(id) => st.role == Role::PreCandidate && st.campaign == id,
            Trigger::TimeoutNow(term) => {
                st.role == Role::Follower && st.current_term == term && st.is_voter()
            }
        };
        if st.dead || !still_wanted {
            return;
        }
        st.campaign += 1;
        st.granted = [inner.me].into();
        st.leader = None;
        st.reset_election_deadline(config, now);
        if pre_vote {
            st.role = Role::PreCandidate;
            tracing::debug!(me = inner.me, term = st.current_term, "asks for pre-votes");
        } else {
            st.role = Role::Candidate;
            st.current_term += 1;
            st.voted_for = Some(inner.me);
            st.hard_dirty = true;
            inner.metrics.started_election();
            tracing::info!(me = inner.me, term = st.current_term, "starts an election");
            if let Some(storage) = storage.as_mut() {
                if !inner.persist(&mut st, &mut ***storage) {
                    return;
                }
            }
        }
        campaign = st.campaign;
        args = RequestVoteArgs {
            term: st.current_term + u64::from(pre_vote),
            candidate_id: inner.me as i32,
            last_log_index: st.log.last_index(),
            last_log_term: st.log.last_term(),
            pre_vote,
        };
        if st.is_majority(|id| st.granted.contains(&id)) {
            // A cluster of one voter.
            if pre_vote {
                drop(st);
                drop(storage);
                return start_campaign(inner, false, Trigger::PreVoteWon(campaign));
            }
            take_office(inner, &mut st);
            drop(st);
            drop(storage);
            inner.wake_replicators();
            return;
        }
        voters = st
            .config()
            .voters()
            .filter(|&v| v != inner.me)
            .collect::<Vec<_>>();
    }
    // Only voters are asked: no one else's answer counts.
    for link in voters.into_iter().filter_map(|v| inner.link(v)) {
        let inner = inner.clone();
        let spawned = thread::Builder::new()
            .name(format!("raft{}-vote", inner.me))
            .spawn(move || {
                if inner.is_dead() {
                    return;
                }
                let reply = link.peer.request_vote(&args);
                handle_vote_reply(&inner, link.id, &args, campaign, reply);
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot spawn a vote request thread");
        }
    }
}

/// Counts one vote (§5.2: majority → leader). Votes are counted per
/// campaign under the lock; replies to an older campaign or term are dropped.
fn handle_vote_reply(
    inner: &Arc<Inner>,
    voter: usize,
    args: &RequestVoteArgs,
    campaign: u64,
    reply: Result<RequestVoteReply, PeerError>,
) {
    let Ok(reply) = reply else { return };
    let mut st = inner.state.lock();
    if st.dead {
        return;
    }
    if reply.term > st.current_term && !reply.vote_granted {
        drop(st);
        inner.step_down(reply.term);
        return;
    }
    let expected = if args.pre_vote {
        (Role::PreCandidate, st.current_term + 1)
    } else {
        (Role::Candidate, st.current_term)
    };
    if !reply.vote_granted || st.campaign != campaign || (st.role, args.term) != expected {
        return;
    }
    let had_majority = st.is_majority(|id| st.granted.contains(&id));
    st.granted.insert(voter);
    if had_majority || !st.is_majority(|id| st.granted.contains(&id)) {
        return;
    }
    if args.pre_vote {
        tracing::debug!(me = inner.me, term = st.current_term, "won the pre-vote");
        drop(st);
        start_campaign(inner, false, Trigger::PreVoteWon(campaign));
    } else {
        take_office(inner, &mut st);
        drop(st);
        inner.wake_replicators();
        inner.election_cv.notify_one();
    }
}

/// Becomes the leader of the current term. A configuration left
/// uncommitted by the last leader is committed at once, by restating it in
/// this term: until then no change can start, and whoever asked for it is
/// waiting.
fn take_office(inner: &Inner, st: &mut State) {
    st.become_leader(&inner.config, Instant::now());
    inner.metrics.saw_leader(st.current_term);
    if st.membership.pending(st.commit_index).is_some() {
        let term = st.current_term;
        let same = st.config().to_proto();
        let index = st.log.append_config(term, same);
        st.track_configs(index, Instant::now());
        inner.writer_cv.notify_one();
    }
}

/// The RequestVote handler (Figure 2), answering pre-votes without changing
/// any state.
pub(crate) fn request_vote(inner: &Inner, args: RequestVoteArgs) -> RequestVoteReply {
    let now = Instant::now();
    if args.pre_vote {
        let st = inner.state.lock();
        if st.dead {
            return reply(st.current_term, false, VOTE_KILLED);
        }
        let alive = leader_alive(&st, &inner.config, now);
        let granted = grants_pre_vote(st.current_term, &st.log, alive, &args);
        return reply(
            st.current_term,
            granted,
            if granted { VOTE_GRANTED } else { VOTE_REJECTED },
        );
    }
    let mut storage = inner.storage.lock();
    let mut st = inner.state.lock();
    if st.dead {
        return reply(st.current_term, false, VOTE_KILLED);
    }
    st.observe_term(args.term, &inner.config, now);
    let granted = grants_vote(st.current_term, st.voted_for, &st.log, &args);
    if granted {
        st.voted_for = Some(args.candidate_id as usize);
        st.hard_dirty = true;
        // §5.2: granting a vote resets the election timer.
        st.reset_election_deadline(&inner.config, now);
        tracing::debug!(
            me = inner.me,
            term = st.current_term,
            candidate = args.candidate_id,
            "grants vote"
        );
    }
    // Nothing is acknowledged before it is durable.
    if Inner::needs_persist(&st) && !inner.persist(&mut st, &mut **storage) {
        return reply(st.current_term, false, VOTE_KILLED);
    }
    reply(
        st.current_term,
        granted,
        if granted { VOTE_GRANTED } else { VOTE_REJECTED },
    )
}

fn reply(term: u64, vote_granted: bool, vote_state: i32) -> RequestVoteReply {
    RequestVoteReply {
        term,
        vote_granted,
        vote_state,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::tests::log_of;
    use crate::membership::Configuration;
    use crate::HardState;

    fn ask(term: u64, candidate: i32, last_index: u64, last_term: u64) -> RequestVoteArgs {
        RequestVoteArgs {
            term,
            candidate_id: candidate,
            last_log_index: last_index,
            last_log_term: last_term,
            pre_vote: false,
        }
    }

    #[test]
    fn votes_at_most_once_per_term() {
        let log = log_of(&[1]);
        assert!(grants_vote(2, None, &log, &ask(2, 1, 1, 1)));
        assert!(grants_vote(2, Some(1), &log, &ask(2, 1, 1, 1)));
        assert!(!grants_vote(2, Some(2), &log, &ask(2, 1, 1, 1)));
    }

    #[test]
    fn refuses_stale_terms_and_stale_logs() {
        let log = log_of(&[1, 2]);
        assert!(!grants_vote(3, None, &log, &ask(2, 1, 5, 2)));
        assert!(!grants_vote(3, None, &log, &ask(3, 1, 1, 2)));
        assert!(!grants_vote(3, None, &log, &ask(3, 1, 9, 1)));
        assert!(grants_vote(3, None, &log, &ask(3, 1, 1, 3)));
    }

    #[test]
    fn pre_vote_needs_newer_term_and_no_live_leader() {
        let log = log_of(&[1, 2]);
        let a = ask(4, 1, 2, 2);
        assert!(grants_pre_vote(3, &log, false, &a));
        assert!(!grants_pre_vote(3, &log, true, &a));
        assert!(!grants_pre_vote(4, &log, false, &a));
        assert!(!grants_pre_vote(3, &log, false, &ask(4, 1, 1, 2)));
    }

    #[test]
    fn quorum_counts_recent_acks_and_self() {
        let now = Instant::now();
        let five = Configuration::voters_of((0..5).map(|i| (i, String::new())));
        let mut st = State::new(0, five, Log::new(), HardState::default(), now);
        let window = std::time::Duration::from_millis(100);
        assert!(has_quorum(&st, now, window));
        let later = now + std::time::Duration::from_millis(200);
        assert!(!has_quorum(&st, later, window));
        st.progress.get_mut(&3).unwrap().last_ack = later;
        st.progress.get_mut(&4).unwrap().last_ack = later;
        assert!(has_quorum(&st, later, window));
    }
}
