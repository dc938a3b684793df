//! The KvServer's read path: Gets served by ReadIndex (raft's
//! `read_index.rs`) with no log entry. A Get is parked unconfirmed, moved to
//! "confirmed at index I" when the leader's majority answers, and answered
//! from the skip list once the applier has applied through I.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::MutexGuard;
use proto::KvErr;
use raft::{ReadIndexError, ReadStart};

use super::{Inner, KvServer};
use crate::op::Op;
use crate::read_waiters::ReadWaiter;
use crate::waiters::{Reply, Waiters};

impl KvServer {
    /// Serves a Get by ReadIndex: no log entry; answered once the leader
    /// has confirmed its read index and applied through it.
    pub(super) fn read(&self, op: Op, reply: Reply) {
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
            key: op.key.clone(),
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
                self.propose(op, waiter.reply);
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
            let value = state.read(&waiter.key).map(<[u8]>::to_vec);
            drop(state);
            drop(waiters);
            waiter.reply.applied(value);
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
        let values: Vec<Option<Vec<u8>>> = {
            let state = self.state.lock();
            reads
                .iter()
                .map(|r| state.read(&r.key).map(<[u8]>::to_vec))
                .collect()
        };
        for (read, value) in reads.into_iter().zip(values) {
            read.reply.applied(value);
        }
    }
}
