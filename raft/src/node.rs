//! The Raft node handle: `make`, `start`, `shutdown` and the shared core
//! every thread works on (the original's `Raft` class in raft.h).
//!
//! Locking: `storage` (the persister) is always taken before `state`, never
//! the other way round; `links` (see `links.rs`) only after `state`, or alone. Whoever changes what must be durable holds both, so
//! the persister sees writes in the order the log saw them; the leader's log
//! writer and a follower's AppendEntries handler hold only `storage` while
//! they sync, so `start`, heartbeats, reads and the applier keep going
//! meanwhile. No lock is held during a peer RPC or while pushing to the
//! apply queue.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, MutexGuard};
use proto::raft::{
    AppendEntriesArgs, AppendEntriesReply, InstallSnapshotRequest, InstallSnapshotResponse,
    RequestVoteArgs, RequestVoteReply,
};

use crate::config::SHUTDOWN_JOIN_TIMEOUT;
use crate::failure::{panic_message, Failure};
use crate::install::{self, Incoming};
use crate::limits::MAX_COMMAND_BYTES;
use crate::links::{self, Link, Links, PeerFactory};
use crate::log::Log;
use crate::membership::Configuration;
use crate::metrics::RaftMetrics;
use crate::persister::closed::Closed;
use crate::state::{Progress, State};
use crate::{
    applier, election, envelope, log_writer, replication, snapshot, ApplyMsg, LockQueue,
    PersistError, Persister, RaftConfig, RaftError, RaftPeer, RaftStatus, Role, SnapshotWriter,
    StartError,
};

/// A log sync or snapshot install this slow is logged: writes waited for it.
pub(crate) const SLOW_SYNC: Duration = Duration::from_millis(200);

/// The body of one of a node's threads.
type Job = Box<dyn FnOnce(Arc<Inner>) + Send>;

/// A handle on one Raft node; clones share the node.
#[derive(Clone)]
pub struct Raft {
    pub(crate) inner: Arc<Inner>,
}

/// How a node finds the cluster: the configuration it starts with (the
/// config file's members as voters; an empty one for a node that joins
/// and learns it from the leader) and how to reach a member by address.
/// Once the log or a snapshot holds a configuration, that one rules.
#[derive(Clone)]
pub struct Cluster {
    pub initial: Configuration,
    pub connect: PeerFactory,
}

impl Cluster {
    /// A fixed set of peers, `peers[i]` being node i, all voters (the
    /// shape of [`Raft::make`]); members added later with an id past the
    /// end cannot be reached.
    pub fn of_peers(peers: Vec<Arc<dyn RaftPeer>>) -> Cluster {
        let initial = Configuration::voters_of((0..peers.len()).map(|i| (i, String::new())));
        let connect: PeerFactory = Arc::new(move |id, _| peers.get(id).cloned());
        Cluster { initial, connect }
    }
}

pub(crate) struct Inner {
    pub me: usize,
    /// Makes the transport to a member that joins the configuration.
    pub factory: PeerFactory,
    pub config: RaftConfig,
    pub storage: Mutex<Box<dyn Persister>>,
    pub state: Mutex<State>,
    /// A snapshot a leader is streaming to this node (see `install.rs`).
    /// Taken before `storage` when both are needed.
    pub incoming: Mutex<Option<Incoming>>,
    pub apply_queue: Arc<LockQueue<ApplyMsg>>,
    /// The persister's `raft_state_size`, refreshed after every write, so
    /// readers never wait behind a sync.
    pub raft_state_bytes: AtomicU64,
    /// Mirrors `State::dead` for checks that must not take the lock.
    pub dead: AtomicBool,
    /// Wakes the election ticker (the deadline moved or the node died).
    pub election_cv: Condvar,
    /// Wakes the applier: commit index moved or a snapshot arrived.
    pub apply_cv: Condvar,
    /// Wakes the leader's log writer: `start` appended entries.
    pub writer_cv: Condvar,
    /// The other members: transport, replicator wake-up, sender lanes
    /// (see `links.rs`). Taken after `state` when both are needed.
    pub links: Links,
    /// A reply handler left `State::links_stale` set: the sender thread
    /// refreshes the links once it holds no lock (saves a state lock per RPC).
    pub links_dirty: AtomicBool,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// Why the node stopped by itself; none while it runs and after a
    /// clean shutdown.
    failure: Failure,
    /// What the node counts for monitoring.
    pub metrics: RaftMetrics,
    /// This very node, for stopping it from inside.
    this: Weak<Inner>,
}

impl Inner {
    /// Stops the node: every thread sees `dead` and exits.
    pub fn kill(&self, st: &mut State) {
        st.dead = true;
        self.dead.store(true, Ordering::SeqCst);
        self.election_cv.notify_all();
        self.apply_cv.notify_all();
        self.writer_cv.notify_all();
        for link in self.links.lock().values() {
            link.retire();
        }
    }

    /// A persist error is fatal: log it and stop, never carry on.
    pub fn die(&self, st: &mut State, err: &PersistError) {
        self.fail(st, format!("persister failed: {err}"));
    }

    /// Stops the node for good because of `reason`, which
    /// [`Raft::failure`] then reports (the first reason, if several). The
    /// threads stop at once; a helper thread then finishes the shutdown
    /// (joins them, closes the persister), since the caller may be one of them.
    pub fn fail(&self, st: &mut State, reason: String) {
        tracing::error!(me = self.me, %reason, "stopping the node");
        self.failure.record(reason);
        self.kill(st);
        if let Some(inner) = self.this.upgrade() {
            let _ = thread::Builder::new()
                .name(format!("raft{}-stop", self.me))
                .spawn(move || Raft { inner }.shutdown());
        }
    }

    /// Runs the body of one of the node's own threads (election, applier,
    /// log writer, replicators); a panic in it (a bug, in Raft or in the
    /// persister) stops the node with the panic as its failure, rather than
    /// leaving a node that answers RPCs with a thread missing.
    fn run_guarded(self: Arc<Inner>, thread: &str, body: impl FnOnce(Arc<Inner>)) {
        let inner = self.clone();
        if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(move || body(inner))) {
            let what = panic_message(&*payload);
            let mut st = self.state.lock();
            self.fail(&mut st, format!("thread {thread} panicked: {what}"));
        }
    }

    pub fn is_dead(&self) -> bool {
        self.dead.load(Ordering::SeqCst)
    }

    pub fn wake_replicators(&self) {
        for link in self.links.lock().values() {
            link.replicate_cv.notify_one();
        }
    }

    /// Wakes the replicators that would send a new entry at once. The
    /// others have a batch out (its reply wakes them) or are backing off
    /// (their heartbeat timer does): waking them for every `start` cost the
    /// leader two futile context switches per request.
    pub fn wake_replicators_for_new_entries(&self, st: &State) {
        for (id, link) in self.links.lock().iter() {
            if st
                .progress
                .get(id)
                .is_some_and(Progress::sends_new_entries_now)
            {
                link.replicate_cv.notify_one();
            }
        }
    }

    /// Makes the links follow the configuration, if it changed; call with
    /// no lock held.
    pub fn refresh_links(&self) {
        if let Some(inner) = self.this.upgrade() {
            links::refresh(&inner);
        }
    }

    /// The link to member `id`, if it has one.
    pub fn link(&self, id: usize) -> Option<Arc<Link>> {
        self.links.lock().get(&id).cloned()
    }

    /// Starts one of the node's own threads, guarded (see `run_guarded`),
    /// joined at shutdown.
    pub fn spawn_guarded(
        self: &Arc<Inner>,
        name: String,
        body: impl FnOnce(Arc<Inner>) + Send + 'static,
    ) -> std::io::Result<()> {
        let inner = self.clone();
        let handle = thread::Builder::new()
            .name(name.clone())
            .spawn(move || inner.run_guarded(&name, body))?;
        self.threads.lock().push(handle);
        Ok(())
    }

    /// After the commit index moved: wakes the applier, and stops a node
    /// whose removal from the cluster has committed (a leader steps down
    /// first); a removed node must not linger and disrupt the others.
    pub fn committed(&self, st: &mut State) {
        self.apply_cv.notify_one();
        if let Some(index) = st.removed_at() {
            if st.role == Role::Leader {
                st.leader = None;
                st.become_follower(&self.config, Instant::now());
            }
            self.fail(
                st,
                format!("removed from the cluster (the configuration at log index {index} no longer lists node {})", self.me),
            );
        }
    }

    /// Whether `persist` has anything to write.
    pub fn needs_persist(st: &State) -> bool {
        st.hard_dirty || st.pending_truncate.is_some() || st.log.last_index() > st.written_index
    }

    /// Writes what changed since the last persist (truncation, term and
    /// vote, new entries) and syncs it: after it returns true, everything in
    /// `st` is durable and may be acknowledged. On failure the node is dead.
    pub fn persist(&self, st: &mut State, storage: &mut dyn Persister) -> bool {
        let result = write_out(st, storage).and_then(|()| storage.sync());
        self.raft_state_bytes
            .store(storage.raft_state_size(), Ordering::Relaxed);
        match result {
            Ok(()) => {
                st.durable_index = st.written_index;
                true
            }
            Err(e) => {
                self.die(st, &e);
                false
            }
        }
    }

    /// Like [`persist`](Self::persist), but releases the state lock during
    /// the sync, so `start`, heartbeats, reads and the applier carry on;
    /// the caller's storage lock keeps every other persister write out
    /// meanwhile. Entries count as durable only once the sync returns, and
    /// not at all if they were truncated meanwhile (`log_epoch` moved).
    pub fn persist_unlocked(
        &self,
        st: &mut MutexGuard<'_, State>,
        storage: &mut dyn Persister,
    ) -> bool {
        let epoch = st.log_epoch;
        let written = write_out(st, storage);
        let upto = st.written_index;
        let started = Instant::now();
        let result = MutexGuard::unlocked(st, || written.and_then(|()| storage.sync()));
        let took = started.elapsed();
        if took >= SLOW_SYNC {
            tracing::warn!(
                me = self.me,
                ms = took.as_millis() as u64,
                "a log sync was slow: writes waited for the disk"
            );
        }
        self.raft_state_bytes
            .store(storage.raft_state_size(), Ordering::Relaxed);
        match result {
            Ok(()) => {
                if st.log_epoch == epoch {
                    st.durable_index = st.durable_index.max(upto);
                }
                true
            }
            Err(e) => {
                self.die(st, &e);
                false
            }
        }
    }

    /// Adopts a newer term seen in a reply, persisting it.
    pub fn step_down(&self, term: u64) {
        let mut storage = self.storage.lock();
        let mut st = self.state.lock();
        if !st.dead && st.observe_term(term, &self.config, Instant::now()) {
            self.persist(&mut st, &mut **storage);
        }
    }
}

/// Hands the persister everything it lacks, without syncing.
pub(crate) fn write_out(st: &mut State, storage: &mut dyn Persister) -> Result<(), PersistError> {
    if let Some(from) = st.pending_truncate.take() {
        storage.truncate_suffix(from)?;
    }
    if st.hard_dirty {
        storage.save_hard_state(st.hard_state())?;
        st.hard_dirty = false;
    }
    let last = st.log.last_index();
    if last > st.written_index {
        let from = (st.written_index + 1).max(st.log.first_index());
        for run in st.log.runs(from, last) {
            storage.append(run)?;
            st.written_index = run.last().map_or(st.written_index, |e| e.log_index);
        }
    }
    Ok(())
}

impl Raft {
    /// Recovers from `persister`, starts the node's threads, returns its
    /// handle. `peers.len()` is the cluster size; `peers[me]` is never
    /// called. If the persister holds a snapshot, the first message pushed
    /// to `apply_queue` is [`ApplyMsg::Snapshot`] with it.
    pub fn make(
        me: usize,
        peers: Vec<Arc<dyn RaftPeer>>,
        persister: Box<dyn Persister>,
        apply_queue: Arc<LockQueue<ApplyMsg>>,
        config: RaftConfig,
    ) -> Result<Raft, RaftError> {
        if me >= peers.len() {
            return Err(RaftError::InvalidId {
                me,
                size: peers.len(),
            });
        }
        Self::make_member(me, Cluster::of_peers(peers), persister, apply_queue, config)
    }

    /// Like [`make`](Self::make), for a cluster whose membership changes:
    /// `cluster.initial` is the configuration before any in the log (the
    /// config file's, or empty for a node that joins as a learner), and
    /// `cluster.connect` makes the transport to each member from its address.
    pub fn make_member(
        me: usize,
        cluster: Cluster,
        mut persister: Box<dyn Persister>,
        apply_queue: Arc<LockQueue<ApplyMsg>>,
        config: RaftConfig,
    ) -> Result<Raft, RaftError> {
        config.validate()?;
        let recovered = persister.recover()?;
        let meta = recovered
            .snapshot
            .as_ref()
            .map(|s| s.meta())
            .unwrap_or_default();
        let log = Log::restore(
            meta.last_included_index,
            meta.last_included_term,
            recovered.entries,
        )
        .map_err(RaftError::Recovery)?;
        let now = Instant::now();
        let (snapshot_config, service_data) = match &recovered.snapshot {
            Some(data) => {
                let (c, view) = envelope::open(data).map_err(RaftError::Recovery)?;
                (c, Some(view))
            }
            None => (None, None),
        };
        let base = snapshot_config.unwrap_or(cluster.initial);
        let mut st = State::new(me, base, log, recovered.hard_state, now);
        st.reset_election_deadline(&config, now);
        if let Some(view) = service_data {
            // The service restores from the queue, before any command.
            apply_queue.push(ApplyMsg::Snapshot {
                index: meta.last_included_index,
                term: meta.last_included_term,
                data: view,
            });
            st.snapshot = recovered.snapshot;
        }
        tracing::info!(
            me,
            term = st.current_term,
            last_index = st.log.last_index(),
            snapshot_index = st.log.snapshot_index(),
            config = %st.config(),
            "raft node starts"
        );
        let inner = Arc::new_cyclic(|this| Inner {
            me,
            factory: cluster.connect,
            config,
            raft_state_bytes: AtomicU64::new(persister.raft_state_size()),
            storage: Mutex::new(persister),
            state: Mutex::new(st),
            incoming: Mutex::new(None),
            apply_queue,
            dead: AtomicBool::new(false),
            election_cv: Condvar::new(),
            apply_cv: Condvar::new(),
            writer_cv: Condvar::new(),
            links: Mutex::new(Default::default()),
            links_dirty: AtomicBool::new(false),
            threads: Mutex::new(Vec::new()),
            failure: Failure::default(),
            metrics: RaftMetrics::default(),
            this: this.clone(),
        });
        let raft = Raft { inner };
        // Every thread starts after the state is complete, so no RPC is
        // served on a half-built node (the original served them before init).
        if let Err(e) = raft.spawn_threads() {
            raft.shutdown();
            return Err(e);
        }
        Ok(raft)
    }

    fn spawn_threads(&self) -> Result<(), RaftError> {
        let me = self.inner.me;
        let mut jobs: Vec<(String, Job)> = vec![
            (
                format!("raft{me}-election"),
                Box::new(election::election_timeout_ticker),
            ),
            (
                format!("raft{me}-applier"),
                Box::new(applier::applier_ticker),
            ),
            (format!("raft{me}-writer"), Box::new(log_writer::log_writer)),
        ];
        for (name, job) in jobs.drain(..) {
            self.inner.spawn_guarded(name, job)?;
        }
        links::refresh(&self.inner);
        Ok(())
    }

    /// Appends `command` if this node is the leader: `Some((index, term))`;
    /// `None` otherwise, and for a command over
    /// [`MAX_COMMAND_BYTES`](crate::limits::MAX_COMMAND_BYTES) (see
    /// [`try_start`](Self::try_start) to tell the two apart). Never waits for
    /// peers or the disk; wakes the log writer and every replicator at once.
    pub fn start(&self, command: Vec<u8>) -> Option<(u64, u64)> {
        self.try_start(command).ok()
    }

    /// Like [`start`](Self::start), saying why nothing was appended. A
    /// command too large for one AppendEntries frame (or one log record) is
    /// refused here, as the last guard: the service should refuse it before
    /// (the KvServer checks key and value sizes), but one that slipped
    /// through must not stop the leader's persister or stall replication.
    pub fn try_start(&self, command: Vec<u8>) -> Result<(u64, u64), StartError> {
        if command.len() > MAX_COMMAND_BYTES {
            tracing::warn!(
                me = self.inner.me,
                len = command.len(),
                max = MAX_COMMAND_BYTES,
                "command refused: too large"
            );
            return Err(StartError::TooLarge {
                len: command.len(),
                max: MAX_COMMAND_BYTES,
            });
        }
        let mut st = self.inner.state.lock();
        if st.dead || st.role != Role::Leader {
            return Err(StartError::NotLeader);
        }
        if st.handover.is_some() {
            return Err(StartError::Transferring);
        }
        let term = st.current_term;
        let index = st.log.append_new(term, command);
        // Notified under the state lock, which their condvars share: a
        // woken thread is queued on the lock rather than woken to wait for it.
        self.inner.writer_cv.notify_one();
        self.inner.wake_replicators_for_new_entries(&st);
        drop(st);
        Ok((index, term))
    }

    /// (current term, is leader)
    pub fn get_state(&self) -> (u64, bool) {
        let st = self.inner.state.lock();
        (st.current_term, !st.dead && st.role == Role::Leader)
    }

    /// The service has a snapshot covering the log through `index`, in
    /// memory: save it and discard the log through it. Returns whether it
    /// was installed (not if `index` is not newer than the current snapshot
    /// or not yet applied). Large services use
    /// [`begin_snapshot`](Self::begin_snapshot) instead.
    pub fn snapshot(&self, index: u64, snapshot: Vec<u8>) -> bool {
        snapshot::snapshot(&self.inner, index, &snapshot)
    }

    /// Starts a snapshot of the state machine through `index` (applied, and
    /// newer than the current snapshot; `None` otherwise). Write the state
    /// into it from any thread — no lock of the node is held meanwhile —
    /// then hand it to [`finish_snapshot`](Self::finish_snapshot).
    pub fn begin_snapshot(&self, index: u64) -> Option<Box<dyn SnapshotWriter>> {
        snapshot::begin_snapshot(&self.inner, index)
    }

    /// Syncs a snapshot written after [`begin_snapshot`](Self::begin_snapshot),
    /// installs it and discards the log it covers. Returns whether it was
    /// installed (a newer snapshot may have arrived meanwhile).
    pub fn finish_snapshot(&self, writer: Box<dyn SnapshotWriter>) -> bool {
        snapshot::finish_snapshot(&self.inner, writer)
    }

    /// Stops every thread of this node and joins them; idempotent. After it
    /// the node sends nothing, applies nothing, and its handlers have no
    /// effect. The apply queue stays open: it belongs to the service.
    pub fn shutdown(&self) {
        {
            let mut st = self.inner.state.lock();
            if !st.dead {
                tracing::info!(
                    me = self.inner.me,
                    term = st.current_term,
                    "raft node shuts down"
                );
            }
            self.inner.kill(&mut st);
        }
        let handles = std::mem::take(&mut *self.inner.threads.lock());
        let deadline = Instant::now() + SHUTDOWN_JOIN_TIMEOUT;
        let current = thread::current().id();
        for handle in handles {
            if handle.thread().id() == current {
                continue; // a node thread stopping its own node
            }
            while !handle.is_finished() && Instant::now() < deadline {
                thread::sleep(std::time::Duration::from_millis(1));
            }
            if handle.is_finished() {
                let _ = handle.join();
            } else {
                tracing::warn!(me = self.inner.me, "a raft thread did not stop in time");
            }
        }
        // Close the persister now rather than when the last RPC thread lets
        // go of the node, so a successor can open the same files at once.
        // A half-received snapshot goes too (its staging file with it).
        self.inner.incoming.lock().take();
        *self.inner.storage.lock() = Box::new(Closed);
    }

    /// Stops the node for good because of a fatal error of the service
    /// above it (say, a command or snapshot it cannot decode); `reason` is
    /// what [`failure`](Self::failure) then reports. Returns at once; the
    /// node's threads are joined in the background.
    pub fn fail(&self, reason: impl Into<String>) {
        let mut st = self.inner.state.lock();
        self.inner.fail(&mut st, reason.into());
    }

    /// Why this node stopped by itself (a persist failure, a panicked
    /// thread, [`fail`](Self::fail)); `None` while it runs and after a
    /// clean [`shutdown`](Self::shutdown). A stopped node answers every
    /// request as a non-leader, so its process should exit.
    pub fn failure(&self) -> Option<String> {
        self.inner.failure.get()
    }

    /// Waits up to `timeout` for the node to stop by itself; the reason, or
    /// `None` if it is still running (or was shut down cleanly) by then.
    pub fn wait_failure(&self, timeout: Duration) -> Option<String> {
        self.inner.failure.wait(timeout)
    }

    /// The events this node has counted (leader changes, elections), for
    /// monitoring; its gauges come from [`status`](Self::status).
    pub fn metrics(&self) -> &RaftMetrics {
        &self.inner.metrics
    }

    /// Bytes of Raft state now stored by the persister (for max_raft_state).
    pub fn raft_state_size(&self) -> u64 {
        self.inner.raft_state_bytes.load(Ordering::Relaxed)
    }

    /// Whether the node has stopped: shut down, or died because its
    /// persister failed (a binary should then exit non-zero).
    pub fn is_stopped(&self) -> bool {
        self.inner.is_dead()
    }

    /// This node's best guess of the current leader.
    pub fn leader_hint(&self) -> Option<usize> {
        self.inner.state.lock().leader
    }

    /// A consistent snapshot of the node's state for operators and tests.
    pub fn status(&self) -> RaftStatus {
        let st = self.inner.state.lock();
        st.status(self.raft_state_size())
    }

    /// AppendEntries RPC handler (Figure 2).
    pub fn append_entries(&self, args: AppendEntriesArgs) -> AppendEntriesReply {
        replication::append_entries(&self.inner, args)
    }

    /// RequestVote RPC handler (Figure 2), also answering pre-votes.
    pub fn request_vote(&self, args: RequestVoteArgs) -> RequestVoteReply {
        election::request_vote(&self.inner, args)
    }

    /// InstallSnapshot RPC handler (Figure 13).
    pub fn install_snapshot(&self, args: InstallSnapshotRequest) -> InstallSnapshotResponse {
        install::install_snapshot(&self.inner, args)
    }
}
