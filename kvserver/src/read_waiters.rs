//! Gets on their way through the ReadIndex protocol (see raft's
//! `read_index.rs`): first waiting for the leader to confirm its read index,
//! then for the applier to reach it.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use proto::KvErr;

use crate::waiters::{Abandoned, Reply};

/// One Get waiting to be read.
pub struct ReadWaiter {
    pub key: Vec<u8>,
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
