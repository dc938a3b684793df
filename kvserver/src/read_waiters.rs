//! Reads (Gets and Scans) on their way through the ReadIndex protocol (see
//! raft's `read_index.rs`): first waiting for the leader to confirm its read
//! index, then for the applier to reach it.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use proto::KvErr;

use crate::scan::{Page, ScanQuery};
use crate::state_machine::{KvStateMachine, Outcome};
use crate::waiters::{Abandoned, Reply};

/// What a read asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Query {
    /// The value of one key.
    Get(Vec<u8>),
    /// One page of a key range.
    Scan(ScanQuery),
}

/// What a read found, detached from the state so the lock can go before
/// anyone is answered.
pub enum ReadResult {
    Value(Option<Vec<u8>>),
    Page(Page),
}

impl Query {
    /// Runs the read on `state`.
    pub fn run(&self, state: &KvStateMachine) -> ReadResult {
        match self {
            Query::Get(key) => ReadResult::Value(state.read(key).map(<[u8]>::to_vec)),
            Query::Scan(query) => ReadResult::Page(state.scan(query)),
        }
    }
}

impl ReadResult {
    /// Answers the read's client.
    pub fn answer(self, reply: Reply) {
        match self {
            ReadResult::Value(value) => reply.settle(Outcome::Read(value)),
            ReadResult::Page(page) => reply.scanned(page),
        }
    }
}

/// One read waiting to be answered.
pub struct ReadWaiter {
    pub query: Query,
    pub since: Instant,
    pub reply: Reply,
}

#[derive(Default)]
pub struct ReadWaiters {
    next_id: u64,
    /// Waiting for a majority to confirm the leader, by read id, with the
    /// term that leader was in.
    unconfirmed: HashMap<u64, (u64, ReadWaiter)>,
    /// Confirmed, waiting for the applier to reach their read index.
    by_index: BTreeMap<u64, Vec<ReadWaiter>>,
}

impl ReadWaiters {
    /// An id for a read about to be started.
    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub fn park_unconfirmed(&mut self, id: u64, term: u64, waiter: ReadWaiter) {
        self.unconfirmed.insert(id, (term, waiter));
    }

    /// The read `id`, now confirmed; `None` if it was given up on meanwhile.
    pub fn confirm(&mut self, id: u64) -> Option<ReadWaiter> {
        self.unconfirmed.remove(&id).map(|(_, waiter)| waiter)
    }

    pub fn park_confirmed(&mut self, index: u64, waiter: ReadWaiter) {
        self.by_index.entry(index).or_default().push(waiter);
    }

    /// The confirmed reads whose read index is at or below `index`.
    pub fn take_through(&mut self, index: u64) -> Vec<ReadWaiter> {
        if self
            .by_index
            .first_key_value()
            .is_none_or(|(&first, _)| first > index)
        {
            return Vec::new();
        }
        let rest = self.by_index.split_off(&(index + 1));
        std::mem::replace(&mut self.by_index, rest)
            .into_values()
            .flatten()
            .collect()
    }

    /// Removes and returns the reads that cannot succeed here any more: not
    /// yet confirmed while the leader of their term is gone
    /// (ErrWrongLeader), or waiting longer than `timeout` (ErrTimeout). A
    /// confirmed read stays valid after a step-down: its index was committed.
    pub fn expire(&mut self, term: u64, is_leader: bool, timeout: Duration) -> Vec<Abandoned> {
        let now = Instant::now();
        let too_old = |w: &ReadWaiter| now.duration_since(w.since) >= timeout;
        let mut gone = Vec::new();
        let doomed: Vec<u64> = self
            .unconfirmed
            .iter()
            .filter(|(_, (t, w))| !is_leader || *t != term || too_old(w))
            .map(|(&id, _)| id)
            .collect();
        for id in doomed {
            let (t, waiter) = self.unconfirmed.remove(&id).expect("listed above");
            let err = if !is_leader || t != term {
                KvErr::WrongLeader
            } else {
                KvErr::Timeout
            };
            gone.push(Abandoned {
                reply: waiter.reply,
                err,
            });
        }
        for waiters in self.by_index.values_mut() {
            let (old, fresh): (Vec<_>, Vec<_>) = waiters.drain(..).partition(|w| too_old(w));
            *waiters = fresh;
            gone.extend(old.into_iter().map(|w| Abandoned {
                reply: w.reply,
                err: KvErr::Timeout,
            }));
        }
        self.by_index.retain(|_, waiters| !waiters.is_empty());
        gone
    }

    /// Every read, for shutdown.
    pub fn drain(&mut self) -> Vec<ReadWaiter> {
        let unconfirmed = std::mem::take(&mut self.unconfirmed)
            .into_values()
            .map(|(_, w)| w);
        let confirmed = std::mem::take(&mut self.by_index).into_values().flatten();
        unconfirmed.chain(confirmed).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.unconfirmed.is_empty() && self.by_index.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rpc::{Done, Responder};

    /// A waiter for `key`, `age` old, whose answer nobody reads.
    fn read_of(key: &str, age: Duration) -> ReadWaiter {
        ReadWaiter {
            query: Query::Get(key.as_bytes().to_vec()),
            since: Instant::now() - age,
            reply: Reply::get(
                Done::new(Responder::new(|_| {})),
                std::sync::Arc::new(crate::metrics::KvMetrics::default())
                    .start(crate::metrics::RequestKind::Get),
            ),
        }
    }

    fn keys(reads: &[ReadWaiter]) -> Vec<String> {
        let mut keys: Vec<String> = reads
            .iter()
            .map(|r| match &r.query {
                Query::Get(key) => String::from_utf8_lossy(key).into_owned(),
                Query::Scan(_) => "scan".to_string(),
            })
            .collect();
        keys.sort();
        keys
    }

    #[test]
    fn confirmed_reads_are_taken_once_applied_through_their_index() {
        let mut reads = ReadWaiters::default();
        for (index, key) in [(3, "a"), (5, "b"), (5, "c"), (9, "d")] {
            reads.park_confirmed(index, read_of(key, Duration::ZERO));
        }
        assert!(reads.take_through(2).is_empty());
        assert_eq!(keys(&reads.take_through(5)), ["a", "b", "c"]);
        assert!(reads.take_through(5).is_empty(), "each read is taken once");
        assert_eq!(keys(&reads.take_through(100)), ["d"]);
        assert!(reads.is_empty());
    }

    #[test]
    fn a_read_is_confirmed_at_most_once() {
        let mut reads = ReadWaiters::default();
        let id = reads.next_id();
        assert_ne!(reads.next_id(), id, "ids are not reused");
        reads.park_unconfirmed(id, 4, read_of("k", Duration::ZERO));
        assert!(reads.confirm(id).is_some());
        assert!(reads.confirm(id).is_none());
    }

    #[test]
    fn leadership_lost_fails_unconfirmed_reads_only_and_age_fails_any() {
        let timeout = Duration::from_secs(2);
        let mut reads = ReadWaiters::default();
        let (old_term, fresh, stale) = (reads.next_id(), reads.next_id(), reads.next_id());
        reads.park_unconfirmed(old_term, 3, read_of("old-term", Duration::ZERO));
        reads.park_unconfirmed(fresh, 4, read_of("fresh", Duration::ZERO));
        reads.park_unconfirmed(stale, 4, read_of("stale", timeout * 2));
        reads.park_confirmed(7, read_of("confirmed", Duration::ZERO));
        reads.park_confirmed(7, read_of("confirmed-old", timeout * 2));

        let mut errs: Vec<KvErr> = reads
            .expire(4, true, timeout)
            .into_iter()
            .map(|a| a.err)
            .collect();
        errs.sort_by_key(|e| format!("{e:?}"));
        assert_eq!(
            errs,
            [KvErr::Timeout, KvErr::Timeout, KvErr::WrongLeader],
            "the older term's read, and the two too old"
        );
        assert!(
            reads.confirm(fresh).is_some(),
            "a fresh read of this term stays"
        );

        // Stepping down fails what is unconfirmed, not what was confirmed:
        // its index was committed, so it will apply here.
        let other = reads.next_id();
        reads.park_unconfirmed(other, 4, read_of("other", Duration::ZERO));
        let gone = reads.expire(5, false, timeout);
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].err, KvErr::WrongLeader);
        assert_eq!(keys(&reads.take_through(7)), ["confirmed"]);
    }
}
