//! Requests waiting for their log entry to apply, keyed by log index (the
//! original's `waitApplyCh`, without a thread blocked per request: the
//! handler parks its `done` here and returns; whoever settles the entry
//! answers).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use proto::kv::{GetReply, PutAppendReply};
use proto::KvErr;
use rpc::Done;

use crate::metrics::RequestTimer;
use crate::op::Op;
use crate::read_waiters::ReadWaiters;

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
}

impl Reply {
    /// A Get's answer.
    pub fn get(done: Done<GetReply>, timer: RequestTimer) -> Reply {
        Reply {
            done: Typed::Get(done),
            timer,
        }
    }

    /// A Put's or Append's answer.
    pub fn put_append(done: Done<PutAppendReply>, timer: RequestTimer) -> Reply {
        Reply {
            done: Typed::PutAppend(done),
            timer,
        }
    }

    /// Answers success; for a Get, `value` is what it read (`None`: no key).
    pub fn applied(self, value: Option<Vec<u8>>) {
        match self.done {
            Typed::Get(done) => {
                let found = value.is_some();
                self.timer
                    .finish(if found { KvErr::Ok } else { KvErr::NoKey });
                done.reply(match value {
                    Some(value) => GetReply {
                        err: KvErr::Ok.to_wire(),
                        value,
                        leader_id: -1,
                    },
                    None => GetReply {
                        err: KvErr::NoKey.to_wire(),
                        value: Vec::new(),
                        leader_id: -1,
                    },
                })
            }
            Typed::PutAppend(done) => {
                self.timer.finish(KvErr::Ok);
                done.reply(PutAppendReply {
                    err: KvErr::Ok.to_wire(),
                    leader_id: -1,
                })
            }
        }
    }

    /// Answers with an error (retryable or not) and this node's guess of the leader.
    pub fn failed(self, err: KvErr, leader_id: i32) {
        self.timer.finish(err);
        match self.done {
            Typed::Get(done) => done.reply(GetReply {
                err: err.to_wire(),
                value: Vec::new(),
                leader_id,
            }),
            Typed::PutAppend(done) => done.reply(PutAppendReply {
                err: err.to_wire(),
                leader_id,
            }),
        }
    }
}

/// One request whose entry has not applied yet.
pub struct Waiter {
    pub op: Op,
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
