//! Linearizable reads without a log entry: the ReadIndex protocol of
//! Ongaro's thesis (§6.4). The original put every Get through the log, so
//! each read cost an append, an fsync on a majority and a commit.
//!
//! A read asks the leader for its commit index (the read index), then the
//! leader makes sure it is still the leader: it counts a read as confirmed
//! once a majority has answered an AppendEntries sent *after* the read was
//! asked. No leader of a later term can have committed anything the read
//! index misses, since that majority had not yet heard of a newer term. The
//! service answers the read once it has applied through the read index.
//!
//! Rounds: each read bumps `ReadQueue::round`; every RPC a replicator sends
//! carries the round current when it left, and each peer remembers the
//! highest round it answered. A read of round `r` is confirmed when a
//! majority (the leader included) answered round `r` or later. Reads that
//! arrive while a confirmation heartbeat is out share the next one, so a
//! burst of reads costs one round trip, not one each.
//!
//! Two preconditions (thesis §6.4 step 1): the leader must have committed an
//! entry of its own term (otherwise its commit index may lag behind the
//! previous leader's, and the caller should put the read through the log),
//! and it must still be leader when confirmed (a read whose leader stepped
//! down is dropped unanswered; the caller notices the term change).
//!
//! Clocks play no part (no leases): a leader paused and resumed, or cut off,
//! can never confirm a read on its own.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::membership::quorum;
use crate::node::Raft;
use crate::replication;
use crate::state::{Role, State};

/// Raft-side bound on a read waiting for confirmation (its caller has its
/// own, shorter timeout); keeps a leader that cannot reach a majority and
/// runs without check-quorum from collecting reads forever.
const PENDING_READ_LIMIT: Duration = Duration::from_secs(10);

/// Called with the read index once the read is confirmed.
pub type OnConfirmed = Box<dyn FnOnce(u64) + Send>;

/// How a read index request started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadStart {
    /// Confirmed at once (a single-node cluster): read once applied
    /// through this index. The callback is dropped uncalled.
    Confirmed(u64),
    /// Waiting for a majority; the callback gets the index. If leadership
    /// is lost first, the callback is dropped uncalled: the caller should
    /// give up on the read when the term moves past `term`.
    Pending { term: u64 },
}

/// Why no read index can be had here now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadIndexError {
    /// Not the leader (or shut down): ask the leader.
    NotLeader,
    /// A new leader that has not yet committed an entry of its term: its
    /// commit index may be stale. Put the read through the log instead.
    NoCommitInTerm,
}

struct PendingRead {
    round: u64,
    index: u64,
    since: Instant,
    on_confirmed: OnConfirmed,
}

/// A leader's reads waiting for their confirmation.
#[derive(Default)]
pub(crate) struct ReadQueue {
    /// The round the next RPCs carry. Never goes back, across terms too.
    pub round: u64,
    pending: VecDeque<PendingRead>,
}

impl ReadQueue {
    /// Drops every pending read (leadership is gone).
    pub fn abandon(&mut self) {
        self.pending.clear();
    }

    pub fn is_waiting(&self) -> bool {
        !self.pending.is_empty()
    }
}

/// The highest round a majority of the voters has answered (the leader,
/// if it votes, has answered every round; learners count for nothing).
fn confirmed_round(st: &State) -> u64 {
    quorum::quorum_value(st.config(), |id| {
        if id == st.me {
            st.reads.round
        } else {
            st.progress.get(&id).map_or(0, |p| p.round_acked)
        }
    })
}

/// Takes the reads a majority has confirmed, with their read indexes, to be
/// answered once the state lock is released.
pub(crate) fn take_confirmed(st: &mut State) -> Vec<(OnConfirmed, u64)> {
    if st.role != Role::Leader || !st.reads.is_waiting() {
        return Vec::new();
    }
    let confirmed = confirmed_round(st);
    let mut ready = Vec::new();
    while let Some(read) = st.reads.pending.front() {
        if read.round > confirmed {
            break;
        }
        let read = st.reads.pending.pop_front().expect("front exists");
        ready.push((read.on_confirmed, read.index));
    }
    ready
}

/// Hands confirmed reads their index; call with no lock held.
pub(crate) fn answer(ready: Vec<(OnConfirmed, u64)>) {
    for (on_confirmed, index) in ready {
        on_confirmed(index);
    }
}

impl Raft {
    /// Starts a linearizable read (see the module doc). `on_confirmed` runs
    /// on a Raft thread with no Raft lock held; it must not block.
    pub fn read_index(&self, on_confirmed: OnConfirmed) -> Result<ReadStart, ReadIndexError> {
        let inner = &self.inner;
        let mut st = inner.state.lock();
        if st.dead || st.role != Role::Leader {
            return Err(ReadIndexError::NotLeader);
        }
        let index = st.commit_index;
        if st.log.term(index) != Some(st.current_term) {
            return Err(ReadIndexError::NoCommitInTerm);
        }
        if st.is_voter() && st.config().voter_count() == 1 {
            return Ok(ReadStart::Confirmed(index));
        }
        let now = Instant::now();
        while st
            .reads
            .pending
            .front()
            .is_some_and(|r| now.duration_since(r.since) > PENDING_READ_LIMIT)
        {
            st.reads.pending.pop_front();
        }
        st.reads.round += 1;
        let round = st.reads.round;
        st.reads.pending.push_back(PendingRead {
            round,
            index,
            since: now,
            on_confirmed,
        });
        let peers: Vec<usize> = st.progress.keys().copied().collect();
        for peer in peers {
            replication::send_if_due(inner, &mut st, peer, now);
        }
        Ok(ReadStart::Pending {
            term: st.current_term,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::Log;
    use crate::membership::Configuration;
    use crate::HardState;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    fn leader_of(n: usize) -> State {
        let config = Configuration::voters_of((0..n).map(|i| (i, String::new())));
        let mut st = State::new(0, config, Log::new(), HardState::default(), Instant::now());
        st.role = Role::Leader;
        st
    }

    /// Queues a read of `index` at a fresh round; the returned cell gets the
    /// index when it is answered.
    fn ask(st: &mut State, index: u64) -> Arc<AtomicU64> {
        let got = Arc::new(AtomicU64::new(0));
        let cell = got.clone();
        st.reads.round += 1;
        st.reads.pending.push_back(PendingRead {
            round: st.reads.round,
            index,
            since: Instant::now(),
            on_confirmed: Box::new(move |i| cell.store(i, Ordering::SeqCst)),
        });
        got
    }

    #[test]
    fn a_read_needs_a_majority_to_answer_a_later_round() {
        let mut st = leader_of(5);
        let read = ask(&mut st, 7);
        // Answers to rounds sent before the read do not count.
        for p in st.progress.values_mut() {
            p.round_acked = 0;
        }
        assert!(take_confirmed(&mut st).is_empty());
        // The leader and one peer: two of five.
        st.progress.get_mut(&1).unwrap().round_acked = 1;
        assert!(take_confirmed(&mut st).is_empty());
        // A third: a majority.
        st.progress.get_mut(&4).unwrap().round_acked = 1;
        let ready = take_confirmed(&mut st);
        assert_eq!(ready.len(), 1);
        answer(ready);
        assert_eq!(read.load(Ordering::SeqCst), 7);
        assert!(!st.reads.is_waiting());
    }

    #[test]
    fn reads_are_confirmed_in_order_and_only_up_to_the_confirmed_round() {
        let mut st = leader_of(3);
        let first = ask(&mut st, 3);
        let second = ask(&mut st, 5);
        st.progress.get_mut(&2).unwrap().round_acked = 1;
        answer(take_confirmed(&mut st));
        assert_eq!(first.load(Ordering::SeqCst), 3);
        assert_eq!(second.load(Ordering::SeqCst), 0, "round 2 is not confirmed");
        assert!(st.reads.is_waiting());
        st.progress.get_mut(&1).unwrap().round_acked = 2;
        answer(take_confirmed(&mut st));
        assert_eq!(second.load(Ordering::SeqCst), 5);
    }

    #[test]
    fn a_leader_that_steps_down_drops_its_reads_unanswered() {
        let mut st = leader_of(3);
        let read = ask(&mut st, 3);
        st.become_follower(&crate::RaftConfig::default(), Instant::now());
        st.progress.get_mut(&1).unwrap().round_acked = 1;
        st.progress.get_mut(&2).unwrap().round_acked = 1;
        assert!(take_confirmed(&mut st).is_empty());
        assert!(!st.reads.is_waiting());
        assert_eq!(read.load(Ordering::SeqCst), 0);
    }
}
