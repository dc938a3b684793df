//! The KvServer: turns writes into log entries, applies committed entries
//! to the state machine, and answers each write when its entry applies and
//! each Get when its read index is confirmed and applied (the original's
//! `KvServer` in kvServer.cpp).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use parking_lot::{Condvar, Mutex};
use proto::kv::{GetArgs, GetReply, KvServerRpc, PutAppendArgs, PutAppendReply};
use proto::KvErr;
use raft::{ApplyMsg, LockQueue, Persister, Raft, RaftPeer};
use rpc::{Done, RpcStatus};

use crate::codec;
use crate::op::{Command, Op, OpKind};
use crate::state_machine::{KvStateMachine, Outcome};
use crate::waiters::{Reply, Waiter, Waiters};
use crate::{KvServerConfig, KvServerError};

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
    /// Why the applier stopped for good (an entry or snapshot it cannot
    /// decode); `None` while it runs. See [`Inner::fail`].
    failure: Mutex<Option<String>>,
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
        config.validate()?;
        let apply_queue = Arc::new(LockQueue::new());
        let raft = Raft::make(
            me,
            peers,
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
            failure: Mutex::new(None),
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

    /// Stops Raft and this server's threads; waiting requests are told to
    /// retry elsewhere. Idempotent.
    pub fn shutdown(&self) {
        let inner = &self.inner;
        if inner.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        inner.raft.shutdown();
        inner.apply_queue.close();
        {
            let _guard = inner.sweeper_bell.0.lock();
            inner.sweeper_bell.1.notify_all();
        }
        let threads = std::mem::take(&mut *inner.threads.lock());
        for thread in threads {
            let _ = thread.join();
        }
        inner.snapshots.join();
        let waiting = inner.waiters.lock().drain();
        for reply in waiting {
            reply.failed(KvErr::WrongLeader, -1);
        }
    }

    fn propose(&self, op: Op, reply: Reply) {
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
        let Some((index, term)) = inner.raft.start(command) else {
            drop(waiters);
            reply.failed(KvErr::WrongLeader, inner.leader_hint());
            return;
        };
        let waiter = Waiter {
            op,
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
    fn leader_hint(&self) -> i32 {
        self.raft
            .leader_hint()
            .and_then(|l| i32::try_from(l).ok())
            .unwrap_or(-1)
    }

    /// The applier thread (the original's ReadRaftApplyCommandLoop). It
    /// stops for good at an entry or snapshot it cannot decode: skipping
    /// it would apply what follows onto the wrong state.
    fn read_raft_apply_command_loop(self: &Arc<Self>) {
        while let Some(message) = self.apply_queue.pop() {
            if self.stopping.load(Ordering::SeqCst) {
                break;
            }
            let applied = match message {
                ApplyMsg::Command { index, command, .. } => self.apply_command(index, &command),
                ApplyMsg::Snapshot { index, data, .. } => self.install_snapshot(index, &data),
            };
            if let Err(reason) = applied {
                self.fail(reason);
                break;
            }
        }
    }

    /// Stops this node for good: the applier has met something it cannot
    /// apply. Records why, stops Raft (on a helper thread: Raft's shutdown
    /// must not wait for the thread calling it) and tells every waiting
    /// request to try another server. The one place a node fails; the
    /// caller (the applier) stops applying.
    fn fail(&self, reason: String) {
        tracing::error!(node = self.me, %reason, "the state machine cannot go on; stopping this node");
        self.failure.lock().get_or_insert(reason);
        let raft = self.raft.clone();
        let stopper = std::thread::Builder::new()
            .name(format!("kv{}-fail", self.me))
            .spawn(move || raft.shutdown());
        if stopper.is_err() {
            // No thread to spare: at least stop leading and voting.
            self.raft.shutdown();
        }
        let waiting = self.waiters.lock().drain();
        for reply in waiting {
            reply.failed(KvErr::WrongLeader, -1);
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
            } else {
                match outcome {
                    Outcome::Read(value) => waiter.reply.applied(value),
                    Outcome::Written | Outcome::Duplicate => waiter.reply.applied(None),
                    Outcome::Refused => waiter.reply.failed(KvErr::SessionExpired, -1),
                }
            }
        }
        self.snapshot_if_large(index, bytes.len());
        Ok(())
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

impl KvServerRpc for KvServer {
    fn put_append(&self, args: PutAppendArgs, done: Done<PutAppendReply>) {
        let Some(kind) = OpKind::from_wire(&args.op) else {
            done.fail(
                RpcStatus::BadRequest,
                format!(
                    "Op must be \"Put\" or \"Append\", not {:?}",
                    String::from_utf8_lossy(&args.op)
                ),
            );
            return;
        };
        let op = Op {
            kind,
            key: args.key,
            value: args.value,
            client_id: args.client_id,
            request_id: args.request_id,
        };
        // A retry of a write already applied here is committed: say so
        // without another trip through the log. Anything else, including a
        // write its session would refuse, goes through the log: only at its
        // place there, after log time has moved, is the verdict final.
        if self.inner.state.lock().is_duplicate(&op) {
            Reply::PutAppend(done).applied(None);
            return;
        }
        self.propose(op, Reply::PutAppend(done));
    }

    fn get(&self, args: GetArgs, done: Done<GetReply>) {
        let op = Op {
            kind: OpKind::Get,
            key: args.key,
            value: Vec::new(),
            client_id: args.client_id,
            request_id: args.request_id,
        };
        self.read(op, done);
    }
}
