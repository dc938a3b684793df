//! Requests waiting for their log entry to apply, keyed by log index (the
//! original's `waitApplyCh`, without a thread blocked per request: the
//! handler parks its `done` here and returns; whoever settles the entry
//! answers).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use proto::kv::{CasReply, DeleteReply, GetReply, KeyValue, PutAppendReply, ScanReply};
use proto::KvErr;
use rpc::Done;

use crate::dedup::Decision;
use crate::metrics::RequestTimer;
use crate::op::Op;
use crate::read_waiters::{Query, ReadWaiters};
use crate::scan::Page;
use crate::state_machine::Outcome;

/// How a waiting request is answered: its typed `done`, and the timer
/// that records its latency when it is.
pub struct Reply {
    done: Typed,
    timer: RequestTimer,
}

/// The typed `done` of a request.
enum Typed {
    Get(Done<GetReply>),
    PutAppend(Done<PutAppendReply>),
    Delete(Done<DeleteReply>),
    Cas(Done<CasReply>),
    Scan(Done<ScanReply>),
}

impl Reply {
    /// A Get's answer.
    pub fn get(done: Done<GetReply>, timer: RequestTimer) -> Reply {
        Reply::new(Typed::Get(done), timer)
    }

    /// A Put's or Append's answer.
    pub fn put_append(done: Done<PutAppendReply>, timer: RequestTimer) -> Reply {
        Reply::new(Typed::PutAppend(done), timer)
    }

    /// A Delete's answer.
    pub fn delete(done: Done<DeleteReply>, timer: RequestTimer) -> Reply {
        Reply::new(Typed::Delete(done), timer)
    }

    /// A Cas's answer.
    pub fn cas(done: Done<CasReply>, timer: RequestTimer) -> Reply {
        Reply::new(Typed::Cas(done), timer)
    }

    /// A Scan's answer.
    pub fn scan(done: Done<ScanReply>, timer: RequestTimer) -> Reply {
        Reply::new(Typed::Scan(done), timer)
    }

    fn new(done: Typed, timer: RequestTimer) -> Reply {
        Reply { done, timer }
    }

    /// Answers with what applying the request did: the value a Get read
    /// (`None`: no key), OK for a Put or Append, a Delete's or Cas's
    /// decision, or the error that refused it.
    pub fn settle(self, outcome: Outcome) {
        let Reply { done, timer } = self;
        match (done, outcome) {
            (done, Outcome::Refused) => Reply { done, timer }.failed(KvErr::SessionExpired, -1),
            (done, Outcome::TooLarge) => Reply { done, timer }.failed(KvErr::TooLarge, -1),
            (Typed::Get(done), Outcome::Read(value)) => {
                let err = if value.is_some() {
                    KvErr::Ok
                } else {
                    KvErr::NoKey
                };
                timer.finish(err);
                done.reply(GetReply {
                    err: err.to_wire(),
                    value: value.unwrap_or_default(),
                    leader_id: -1,
                })
            }
            (Typed::PutAppend(done), Outcome::Written | Outcome::Duplicate) => {
                timer.finish(KvErr::Ok);
                done.reply(PutAppendReply {
                    err: KvErr::Ok.to_wire(),
                    leader_id: -1,
                })
            }
            (Typed::Delete(done), Outcome::Decided(Decision::Deleted { existed })) => {
                let err = if existed { KvErr::Ok } else { KvErr::NoKey };
                timer.finish(err);
                done.reply(DeleteReply {
                    err: err.to_wire(),
                    leader_id: -1,
                })
            }
            (Typed::Cas(done), Outcome::Decided(Decision::Swapped)) => {
                timer.finish(KvErr::Ok);
                done.reply(CasReply {
                    err: KvErr::Ok.to_wire(),
                    swapped: true,
                    current: Vec::new(),
                    current_absent: false,
                    leader_id: -1,
                })
            }
            (Typed::Cas(done), Outcome::Decided(Decision::NotSwapped { current })) => {
                timer.finish(KvErr::Ok);
                done.reply(CasReply {
                    err: KvErr::Ok.to_wire(),
                    swapped: false,
                    current_absent: current.is_none(),
                    current: current.unwrap_or_default(),
                    leader_id: -1,
                })
            }
            (done, outcome) => {
                // The waiter's op matched its entry, so its kind matches the
                // outcome; should that ever break, the client retries.
                tracing::error!(?outcome, "an outcome that does not fit its request");
                Reply { done, timer }.failed(KvErr::WrongLeader, -1);
            }
        }
    }

    /// Answers a Scan with its page (ErrTooLarge if its first item alone
    /// would not fit a frame, NextKey naming it).
    pub fn scanned(self, page: Page) {
        let Reply { done, timer } = self;
        let Typed::Scan(done) = done else {
            tracing::error!("a page for a request that is not a Scan");
            Reply { done, timer }.failed(KvErr::WrongLeader, -1);
            return;
        };
        let err = if page.too_large {
            KvErr::TooLarge
        } else {
            KvErr::Ok
        };
        timer.finish(err);
        done.reply(ScanReply {
            err: err.to_wire(),
            items: page
                .items
                .into_iter()
                .map(|(key, value)| KeyValue { key, value })
                .collect(),
            next_key: page.next_key.unwrap_or_default(),
            leader_id: -1,
        });
    }

    /// Answers with an error (retryable or not) and this node's guess of the leader.
    pub fn failed(self, err: KvErr, leader_id: i32) {
        self.timer.finish(err);
        let err = err.to_wire();
        match self.done {
            Typed::Get(done) => done.reply(GetReply {
                err,
                value: Vec::new(),
                leader_id,
            }),
            Typed::PutAppend(done) => done.reply(PutAppendReply { err, leader_id }),
            Typed::Delete(done) => done.reply(DeleteReply { err, leader_id }),
            Typed::Cas(done) => done.reply(CasReply {
                err,
                leader_id,
                ..CasReply::default()
            }),
            Typed::Scan(done) => done.reply(ScanReply {
                err,
                leader_id,
                ..ScanReply::default()
            }),
        }
    }
}

/// One request whose entry has not applied yet.
pub struct Waiter {
    pub op: Op,
    /// A read put through the log (by a leader with no entry of its term
    /// committed yet): answered by running it on the state at its index.
    pub query: Option<Query>,
    /// The term in which the entry was proposed.
    pub term: u64,
    pub since: Instant,
    pub reply: Reply,
}

/// Why a waiter was given up on.
pub struct Abandoned {
    pub reply: Reply,
    pub err: KvErr,
}

#[derive(Default)]
pub struct Waiters {
    by_index: BTreeMap<u64, Waiter>,
    /// Gets served by ReadIndex, under the same lock.
    pub reads: ReadWaiters,
}

impl Waiters {
    /// Parks a request at the index its entry got. An older waiter at the
    /// same index lost its entry to a new leader: it is handed back.
    pub fn park(&mut self, index: u64, waiter: Waiter) -> Option<Waiter> {
        self.by_index.insert(index, waiter)
    }

    /// The request waiting on `index`, if any.
    pub fn take(&mut self, index: u64) -> Option<Waiter> {
        self.by_index.remove(&index)
    }

    /// Every request waiting on an index at or below `index`.
    pub fn take_through(&mut self, index: u64) -> Vec<Waiter> {
        let rest = self.by_index.split_off(&(index + 1));
        std::mem::replace(&mut self.by_index, rest)
            .into_values()
            .collect()
    }

    /// Removes and returns the requests that cannot succeed here any more:
    /// proposed in an older term or while leader no longer (ErrWrongLeader),
    /// or waiting longer than `timeout` (ErrTimeout); and likewise the reads
    /// (see [`ReadWaiters::expire`]).
    pub fn expire(&mut self, term: u64, is_leader: bool, timeout: Duration) -> Vec<Abandoned> {
        let mut gone = self.reads.expire(term, is_leader, timeout);
        let now = Instant::now();
        let doomed: Vec<u64> = self
            .by_index
            .iter()
            .filter(|(_, w)| !is_leader || w.term != term || now.duration_since(w.since) >= timeout)
            .map(|(index, _)| *index)
            .collect();
        gone.extend(
            doomed
                .into_iter()
                .filter_map(|index| self.by_index.remove(&index))
                .map(|w| Abandoned {
                    err: if !is_leader || w.term != term {
                        KvErr::WrongLeader
                    } else {
                        KvErr::Timeout
                    },
                    reply: w.reply,
                }),
        );
        gone
    }

    /// Every waiting request's reply, writes and reads, for shutdown.
    pub fn drain(&mut self) -> Vec<Reply> {
        let writes = std::mem::take(&mut self.by_index)
            .into_values()
            .map(|w| w.reply);
        let reads = self.reads.drain().into_iter().map(|r| r.reply);
        writes.chain(reads).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.by_index.is_empty() && self.reads.is_empty()
    }
}
