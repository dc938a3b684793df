//! The KvServer: turns writes into log entries, applies committed entries
//! to the state machine, and answers each write when its entry applies and
//! each read (Get, Scan) when its read index is confirmed and applied (the
//! original's `KvServer` in kvServer.cpp). The RPC handlers are in
//! `server/handlers.rs`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use proto::KvErr;
use raft::{ApplyMsg, LockQueue, Persister, Raft, RaftPeer, StartError};

use crate::codec;
use crate::metrics::{KvMetrics, KvStats};
use crate::op::{Command, Op};
use crate::read_waiters::Query;
use crate::state_machine::KvStateMachine;
use crate::waiters::{Reply, Waiter, Waiters};
use crate::{KvServerConfig, KvServerError};

/// At most this many applied messages, and this much time, share one burst
/// of answers: the first answer of a burst waits for the rest, so a burst
/// stays short even when applies are slow (the copies a store makes of
/// its chunks right after a snapshot froze it).
const APPLY_BURST: usize = 16;
const APPLY_BURST_TIME: Duration = Duration::from_micros(200);

mod handlers;
mod reads;
mod snapshots;
#[cfg(test)]
mod tests;

/// One replica of the store. A cheap handle: clones share the server.
#[derive(Clone)]
pub struct KvServer {
    inner: Arc<Inner>,
}

struct Inner {
    me: usize,
    raft: Raft,
    apply_queue: Arc<LockQueue<ApplyMsg>>,
    state: Mutex<KvStateMachine>,
    waiters: Mutex<Waiters>,
    config: KvServerConfig,
    stopping: AtomicBool,
    snapshots: snapshots::Snapshots,
    metrics: Arc<KvMetrics>,
    /// Wakes the sweeper early at shutdown.
    sweeper_bell: (Mutex<()>, Condvar),
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl KvServer {
    /// Starts node `me`: recovers Raft from `persister`, then the applier
    /// and the sweeper. Serve it only after this returns (the original
    /// served RPCs before its Raft node existed, and a restarted node crashed).
    pub fn start(
        me: usize,
        peers: Vec<Arc<dyn RaftPeer>>,
        persister: Box<dyn Persister>,
        config: KvServerConfig,
    ) -> Result<KvServer, KvServerError> {
        Self::start_member(me, raft::Cluster::of_peers(peers), persister, config)
    }

    /// Like [`start`](Self::start), for a cluster whose membership changes
    /// (see `raft::Raft::make_member`).
    pub fn start_member(
        me: usize,
        cluster: raft::Cluster,
        persister: Box<dyn Persister>,
        config: KvServerConfig,
    ) -> Result<KvServer, KvServerError> {
        config.validate()?;
        let apply_queue = Arc::new(LockQueue::new());
        let raft = Raft::make_member(
            me,
            cluster,
            persister,
            apply_queue.clone(),
            config.raft.clone(),
        )?;
        let inner = Arc::new(Inner {
            me,
            raft,
            apply_queue,
            state: Mutex::new(KvStateMachine::new(config.session_limits())),
            waiters: Mutex::new(Waiters::default()),
            config,
            stopping: AtomicBool::new(false),
            snapshots: snapshots::Snapshots::default(),
            metrics: Arc::default(),
            sweeper_bell: (Mutex::new(()), Condvar::new()),
            threads: Mutex::new(Vec::new()),
        });
        let applier = {
            let inner = inner.clone();
            std::thread::Builder::new()
                .name(format!("kv{me}-applier"))
                .spawn(move || inner.read_raft_apply_command_loop())
                .expect("spawning a thread")
        };
        let sweeper = {
            let inner = inner.clone();
            std::thread::Builder::new()
                .name(format!("kv{me}-sweeper"))
                .spawn(move || inner.sweep_loop())
                .expect("spawning a thread")
        };
        inner.threads.lock().extend([applier, sweeper]);
        Ok(KvServer { inner })
    }

    /// The Raft node under this server.
    pub fn raft(&self) -> &Raft {
        &self.inner.raft
    }

    pub fn me(&self) -> usize {
        self.inner.me
    }

    /// Snapshots this server has taken (not counting those it received).
    pub fn snapshots_taken(&self) -> u64 {
        self.inner.snapshots.taken()
    }

    /// The log index of the last entry applied to the state machine.
    pub fn last_applied(&self) -> u64 {
        self.inner.state.lock().last_applied()
    }

    /// Request latencies and snapshots this server has counted.
    pub fn metrics(&self) -> &KvMetrics {
        &self.inner.metrics
    }

    /// The state machine's applied index, sessions and keys, read at one moment.
    pub fn stats(&self) -> KvStats {
        let state = self.inner.state.lock();
        KvStats {
            last_applied: state.last_applied(),
            sessions: state.session_count(),
            keys: state.len(),
        }
    }

    /// Stops Raft and this server's threads; waiting requests are told to
    /// retry elsewhere. Idempotent.
    pub fn shutdown(&self) {
        self.inner.shutdown();
    }

    /// Stops this server for good because of a fatal error (say, a log
    /// entry or snapshot it cannot decode): records `reason`, which
    /// [`failure`](Self::failure) then reports, and shuts down. May be
    /// called from the server's own threads (not holding its locks).
    pub fn fail(&self, reason: impl Into<String>) {
        self.inner.fail(reason.into());
    }

    /// Why this server (or its Raft node) stopped by itself; `None` while it
    /// runs and after a clean [`shutdown`](Self::shutdown). A stopped server
    /// answers every request ErrWrongLeader, so its process should exit.
    pub fn failure(&self) -> Option<String> {
        self.inner.raft.failure()
    }

    /// Waits up to `timeout` for this server to stop by itself; the reason,
    /// or `None` if it is still running by then.
    pub fn wait_failure(&self, timeout: Duration) -> Option<String> {
        self.inner.raft.wait_failure(timeout)
    }

    /// Serves a write (Put, Append, Delete, Cas). A retry of one already
    /// applied here is committed: it is answered at once with what the
    /// first attempt did. Anything else, including a write its session
    /// would refuse, goes through the log: only at its place there, after
    /// log time has moved, is the verdict final.
    fn write(&self, op: Op, reply: Reply) {
        let retried = self.inner.state.lock().duplicate_outcome(&op);
        match retried {
            Some(outcome) => reply.settle(outcome),
            None => self.propose(op, None, reply),
        }
    }

    /// Puts `op` into the log and parks `reply` until its entry applies;
    /// `query` is set for a read that goes through the log.
    fn propose(&self, op: Op, query: Option<Query>, reply: Reply) {
        let inner = &self.inner;
        if inner.stopping.load(Ordering::SeqCst) {
            reply.failed(KvErr::WrongLeader, -1);
            return;
        }
        // Stamped with this node's clock: the log time sessions expire by.
        let command = codec::encode(&Command::stamped_now(op.clone()));
        // Holding the waiters lock across start() means the applier cannot
        // settle this index before the waiter is parked on it.
        let mut waiters = inner.waiters.lock();
        let (index, term) = match inner.raft.try_start(command) {
            Ok(started) => started,
            Err(e) => {
                drop(waiters);
                match e {
                    // Key and value passed our limits: an oversized client id.
                    StartError::TooLarge { .. } => reply.failed(KvErr::TooLarge, -1),
                    // A leader handing over takes no writes: ask the next one.
                    StartError::NotLeader | StartError::Transferring => {
                        reply.failed(KvErr::WrongLeader, inner.leader_hint())
                    }
                }
                return;
            }
        };
        let waiter = Waiter {
            op,
            query,
            term,
            since: Instant::now(),
            reply,
        };
        let displaced = waiters.park(index, waiter);
        drop(waiters);
        if let Some(old) = displaced {
            old.reply.failed(KvErr::WrongLeader, inner.leader_hint());
        }
    }
}

impl Inner {
    /// See [`KvServer::shutdown`]. Joins every thread of the server but the
    /// calling one, so the applier may stop its own server.
    fn shutdown(&self) {
        if self.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        self.raft.shutdown();
        self.apply_queue.close();
        {
            let _guard = self.sweeper_bell.0.lock();
            self.sweeper_bell.1.notify_all();
        }
        let threads = std::mem::take(&mut *self.threads.lock());
        let current = std::thread::current().id();
        for thread in threads {
            if thread.thread().id() != current {
                let _ = thread.join();
            }
        }
        self.snapshots.join();
        let waiting = self.waiters.lock().drain();
        for reply in waiting {
            reply.failed(KvErr::WrongLeader, -1);
        }
    }

    /// See [`KvServer::fail`]: the reason is kept by the Raft node, the one
    /// place a failure of either layer is recorded and waited for.
    fn fail(&self, reason: String) {
        tracing::error!(node = self.me, %reason, "stopping the server");
        self.raft.fail(reason);
        self.shutdown();
    }

    /// Whether a request's sizes are within this node's limits; a Get has
    /// an empty value.
    fn fits(&self, key: &[u8], value: &[u8]) -> bool {
        key.len() <= self.config.max_key_bytes && value.len() <= self.config.max_value_bytes
    }

    fn leader_hint(&self) -> i32 {
        self.raft
            .leader_hint()
            .and_then(|l| i32::try_from(l).ok())
            .unwrap_or(-1)
    }

    /// The applier thread (the original's ReadRaftApplyCommandLoop). It
    /// stops for good at an entry or snapshot it cannot decode: skipping
    /// it would apply what follows onto the wrong state.
    ///
    /// What is waiting in the queue is applied in one burst (up to
    /// [`APPLY_BURST`] messages or [`APPLY_BURST_TIME`]), its answers held
    /// back and written once per client connection at the end
    /// (`rpc::batch_answers`).
    fn read_raft_apply_command_loop(self: &Arc<Self>) {
        while let Some(first) = self.apply_queue.pop() {
            let started = Instant::now();
            let go_on = rpc::batch_answers(|| {
                let mut next = Some(first);
                let mut applied = 0;
                while let Some(message) = next {
                    if !self.apply_message(message) {
                        return false;
                    }
                    applied += 1;
                    let room = applied < APPLY_BURST && started.elapsed() < APPLY_BURST_TIME;
                    next = room.then(|| self.apply_queue.try_pop()).flatten();
                }
                true
            });
            if !go_on {
                break;
            }
        }
    }

    /// Applies one message; false once the applier must stop.
    fn apply_message(self: &Arc<Self>, message: ApplyMsg) -> bool {
        if self.stopping.load(Ordering::SeqCst) {
            return false;
        }
        let applied = match message {
            ApplyMsg::Command { index, command, .. } => self.apply_command(index, &command),
            ApplyMsg::Snapshot { index, data, .. } => self.install_snapshot(index, &data),
            ApplyMsg::Membership { index, .. } => {
                self.apply_membership(index);
                Ok(())
            }
        };
        match applied {
            Ok(()) => true,
            Err(reason) => {
                self.fail(reason);
                false
            }
        }
    }

    fn apply_command(self: &Arc<Self>, index: u64, bytes: &[u8]) -> Result<(), String> {
        let command: Command = codec::decode(bytes)
            .map_err(|e| format!("the log entry at index {index} cannot be decoded: {e}"))?;
        let outcome = {
            let mut state = self.state.lock();
            if index <= state.last_applied() {
                return Ok(());
            }
            state.apply(index, &command)
        };
        let (waiter, reads) = {
            let mut waiters = self.waiters.lock();
            (waiters.take(index), waiters.reads.take_through(index))
        };
        self.answer_reads(reads);
        if let Some(waiter) = waiter {
            if waiter.op != command.op {
                // Another leader put a different entry at this index.
                waiter.reply.failed(KvErr::WrongLeader, self.leader_hint());
            } else if let Some(query) = waiter.query {
                // Only this thread applies, so the state is still as of
                // `index`.
                let result = query.run(&self.state.lock());
                result.answer(waiter.reply);
            } else {
                waiter.reply.settle(outcome);
            }
        }
        self.snapshot_if_large(index, bytes.len());
        Ok(())
    }

    /// A committed membership change at `index`: the state machine only
    /// counts it applied; a request parked there lost its place to it.
    fn apply_membership(self: &Arc<Self>, index: u64) {
        {
            let mut state = self.state.lock();
            if index <= state.last_applied() {
                return;
            }
            state.skip(index);
        }
        let (waiter, reads) = {
            let mut waiters = self.waiters.lock();
            (waiters.take(index), waiters.reads.take_through(index))
        };
        self.answer_reads(reads);
        if let Some(waiter) = waiter {
            waiter.reply.failed(KvErr::WrongLeader, self.leader_hint());
        }
    }

    /// Answers waiting requests that can no longer succeed here.
    fn sweep_loop(&self) {
        let (lock, bell) = &self.sweeper_bell;
        while !self.stopping.load(Ordering::SeqCst) {
            {
                let mut guard = lock.lock();
                if self.stopping.load(Ordering::SeqCst) {
                    break;
                }
                bell.wait_for(&mut guard, self.config.sweep_interval);
            }
            if self.waiters.lock().is_empty() {
                continue;
            }
            let (term, is_leader) = self.raft.get_state();
            let abandoned = self
                .waiters
                .lock()
                .expire(term, is_leader, self.config.op_timeout);
            for gone in abandoned {
                gone.reply.failed(gone.err, self.leader_hint());
            }
        }
    }
}
