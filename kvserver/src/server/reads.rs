//! The KvServer's read path: Gets and Scans served by ReadIndex (raft's
//! `read_index.rs`) with no log entry. A read is parked unconfirmed, moved
//! to "confirmed at index I" when the leader's majority answers, and
//! answered from the skip list once the applier has applied through I.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::MutexGuard;
use proto::KvErr;
use raft::{ReadIndexError, ReadStart};

use super::{Inner, KvServer};
use crate::op::Op;
use crate::read_waiters::{Query, ReadResult, ReadWaiter};
use crate::waiters::{Reply, Waiters};

impl KvServer {
    /// Serves a read by ReadIndex: no log entry; answered once the leader
    /// has confirmed its read index and applied through it. `op` is the Get
    /// that goes through the log instead when this leader has no entry of
    /// its term committed yet (for a Scan, a Get of its start key, whose
    /// only purpose is its place in the log).
    pub(super) fn read(&self, op: Op, query: Query, reply: Reply) {
        let inner = &self.inner;
        if inner.stopping.load(Ordering::SeqCst) {
            reply.failed(KvErr::WrongLeader, -1);
            return;
        }
        // Held across read_index, so the confirmation (on a Raft thread)
        // finds the read parked.
        let mut waiters = inner.waiters.lock();
        let id = waiters.reads.next_id();
        let server = Arc::downgrade(inner);
        let on_confirmed = Box::new(move |index| {
            if let Some(inner) = server.upgrade() {
                inner.read_confirmed(id, index);
            }
        });
        let started = inner.raft.read_index(on_confirmed);
        let waiter = ReadWaiter {
            query,
            since: Instant::now(),
            reply,
        };
        match started {
            Ok(ReadStart::Pending { term }) => waiters.reads.park_unconfirmed(id, term, waiter),
            Ok(ReadStart::Confirmed(index)) => inner.read_at(waiters, index, waiter),
            Err(ReadIndexError::NotLeader) => {
                drop(waiters);
                waiter.reply.failed(KvErr::WrongLeader, inner.leader_hint());
            }
            Err(ReadIndexError::NoCommitInTerm) => {
                drop(waiters);
                self.propose(op, Some(waiter.query), waiter.reply);
            }
        }
    }
}

impl Inner {
    /// The leader confirmed read `id` at `index` (called on a Raft thread).
    fn read_confirmed(&self, id: u64, index: u64) {
        let mut waiters = self.waiters.lock();
        if let Some(waiter) = waiters.reads.confirm(id) {
            self.read_at(waiters, index, waiter);
        }
    }

    /// Answers a confirmed read now if the state machine has applied
    /// through `index`; otherwise parks it for the applier.
    fn read_at(&self, mut waiters: MutexGuard<'_, Waiters>, index: u64, waiter: ReadWaiter) {
        let state = self.state.lock();
        if state.last_applied() >= index {
            let result = waiter.query.run(&state);
            drop(state);
            drop(waiters);
            result.answer(waiter.reply);
        } else {
            drop(state);
            waiters.reads.park_confirmed(index, waiter);
        }
    }

    /// Answers the reads waiting for the applier to reach `index`; called by
    /// the applier, so the state cannot move on meanwhile.
    pub(super) fn answer_reads(&self, reads: Vec<ReadWaiter>) {
        if reads.is_empty() {
            return;
        }
        let results: Vec<ReadResult> = {
            let state = self.state.lock();
            reads.iter().map(|r| r.query.run(&state)).collect()
        };
        for (read, result) in reads.into_iter().zip(results) {
            result.answer(read.reply);
        }
    }
}
