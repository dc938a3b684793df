//! A 3-node cluster in one process over a direct-call transport that can
//! cut nodes off: election, agreement, leader failure, restart from the
//! persister, and snapshots with InstallSnapshot. (The 6.5840-style suite
//! over a simulated network lives in the `tests` crate.)

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use proto::raft::{
    AppendEntriesArgs, AppendEntriesReply, InstallSnapshotRequest, InstallSnapshotResponse,
    RequestVoteArgs, RequestVoteReply,
};
use raft::{
    ApplyMsg, FilePersister, LockQueue, MemoryPersister, PeerError, Persister, Raft, RaftConfig,
    RaftPeer, Role,
};

/// Generous bound for anything that should happen within a few elections.
const PATIENCE: Duration = Duration::from_secs(10);

/// The nodes, and whether each is connected.
struct Net {
    nodes: Mutex<Vec<Option<Raft>>>,
    connected: Vec<AtomicBool>,
    /// This many AppendEntries calls panic in the transport, as a buggy one might.
    panics: AtomicUsize,
}

impl Net {
    fn reachable(&self, from: usize, to: usize) -> Option<Raft> {
        let up = |i: usize| self.connected[i].load(Ordering::SeqCst);
        if !up(from) || !up(to) {
            return None;
        }
        self.nodes.lock()[to].clone()
    }
}

/// Calls the other node's handler directly; a cut link is "no reply".
struct DirectPeer {
    net: Arc<Net>,
    from: usize,
    to: usize,
}

impl DirectPeer {
    fn call<R>(&self, f: impl FnOnce(&Raft) -> R) -> Result<R, PeerError> {
        let node = self
            .net
            .reachable(self.from, self.to)
            .ok_or_else(|| PeerError("disconnected".into()))?;
        let reply = f(&node);
        // A reply crossing a link cut meanwhile is lost too.
        self.net
            .reachable(self.from, self.to)
            .map(|_| reply)
            .ok_or_else(|| PeerError("disconnected".into()))
    }
}

impl RaftPeer for DirectPeer {
    fn append_entries(&self, args: &AppendEntriesArgs) -> Result<AppendEntriesReply, PeerError> {
        let reply = self.call(|n| n.append_entries(args.clone()));
        // Delivered, but the reply is lost in a panic.
        let panics = &self.net.panics;
        if panics
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            panic!("transport bug (injected)");
        }
        reply
    }
    fn request_vote(&self, args: &RequestVoteArgs) -> Result<RequestVoteReply, PeerError> {
        self.call(|n| n.request_vote(*args))
    }
    fn install_snapshot(
        &self,
        args: &InstallSnapshotRequest,
    ) -> Result<InstallSnapshotResponse, PeerError> {
        self.call(|n| n.install_snapshot(args.clone()))
    }
}

/// What one node's service has applied, by index.
#[derive(Default)]
struct Applied {
    log: HashMap<u64, Vec<u8>>,
    last: u64,
    snapshots_installed: usize,
    error: Option<String>,
}

struct Node {
    raft: Raft,
    /// The in-memory persister's handle (files need none).
    persister: Option<MemoryPersister>,
    queue: Arc<LockQueue<ApplyMsg>>,
    service: JoinHandle<()>,
}

struct Cluster {
    n: usize,
    net: Arc<Net>,
    nodes: Vec<Option<Node>>,
    persisters: Vec<MemoryPersister>,
    /// Where nodes keep their files, when they use a FilePersister.
    files: Option<tempfile::TempDir>,
    applied: Vec<Arc<Mutex<Applied>>>,
    /// Snapshot every this many applied commands (0: never).
    snapshot_every: u64,
}

/// Snapshot format of the test service: every applied command, in order.
fn encode(log: &HashMap<u64, Vec<u8>>, last: u64) -> Vec<u8> {
    let mut out = last.to_le_bytes().to_vec();
    for i in 1..=last {
        let c = &log[&i];
        out.extend((c.len() as u32).to_le_bytes());
        out.extend(c);
    }
    out
}

fn decode(data: &[u8]) -> (HashMap<u64, Vec<u8>>, u64) {
    let last = u64::from_le_bytes(data[..8].try_into().unwrap());
    let mut log = HashMap::new();
    let mut at = 8;
    for i in 1..=last {
        let len = u32::from_le_bytes(data[at..at + 4].try_into().unwrap()) as usize;
        log.insert(i, data[at + 4..at + 4 + len].to_vec());
        at += 4 + len;
    }
    (log, last)
}

impl Cluster {
    fn new(n: usize, snapshot_every: u64) -> Self {
        Self::build(n, snapshot_every, None)
    }

    fn with_files(n: usize, snapshot_every: u64) -> Self {
        Self::build(n, snapshot_every, Some(tempfile::tempdir().unwrap()))
    }

    fn build(n: usize, snapshot_every: u64, files: Option<tempfile::TempDir>) -> Self {
        let net = Arc::new(Net {
            nodes: Mutex::new(vec![None; n]),
            connected: (0..n).map(|_| AtomicBool::new(true)).collect(),
            panics: AtomicUsize::new(0),
        });
        let mut c = Cluster {
            n,
            net,
            nodes: (0..n).map(|_| None).collect(),
            persisters: (0..n).map(|_| MemoryPersister::new()).collect(),
            files,
            applied: (0..n).map(|_| Default::default()).collect(),
            snapshot_every,
        };
        (0..n).for_each(|i| c.start(i));
        c
    }

    /// (Re)starts node `i` from its persister.
    fn start(&mut self, i: usize) {
        let peers: Vec<Arc<dyn RaftPeer>> = (0..self.n)
            .map(|to| {
                Arc::new(DirectPeer {
                    net: self.net.clone(),
                    from: i,
                    to,
                }) as Arc<dyn RaftPeer>
            })
            .collect();
        let (persister, boxed): (_, Box<dyn Persister>) = match &self.files {
            Some(dir) => (
                None,
                Box::new(FilePersister::open(dir.path().join(i.to_string())).unwrap()),
            ),
            None => {
                let p = self.persisters[i].clone();
                (Some(p.clone()), Box::new(p))
            }
        };
        let queue = Arc::new(LockQueue::new());
        *self.applied[i].lock() = Applied::default();
        let raft = Raft::make(i, peers, boxed, queue.clone(), RaftConfig::default()).expect("make");
        let service = {
            let queue = queue.clone();
            let applied = self.applied[i].clone();
            let raft = raft.clone();
            let every = self.snapshot_every;
            thread::spawn(move || service(queue, applied, raft, every))
        };
        self.net.nodes.lock()[i] = Some(raft.clone());
        self.nodes[i] = Some(Node {
            raft,
            persister,
            queue,
            service,
        });
    }

    /// Stops node `i` and keeps only what it had synced, like a crash.
    fn crash(&mut self, i: usize) {
        self.net.nodes.lock()[i] = None;
        if let Some(node) = self.nodes[i].take() {
            node.raft.shutdown();
            node.queue.close();
            node.service.join().unwrap();
            if let Some(p) = node.persister {
                self.persisters[i] = p.deep_copy();
            }
        }
    }

    fn set_connected(&self, i: usize, up: bool) {
        self.net.connected[i].store(up, Ordering::SeqCst);
    }

    fn raft(&self, i: usize) -> &Raft {
        &self.nodes[i].as_ref().unwrap().raft
    }

    fn live_connected(&self) -> Vec<usize> {
        (0..self.n)
            .filter(|&i| self.nodes[i].is_some() && self.net.connected[i].load(Ordering::SeqCst))
            .collect()
    }

    /// Polls until exactly one connected node leads in the newest term.
    fn check_one_leader(&self) -> usize {
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            let mut leaders: HashMap<u64, Vec<usize>> = HashMap::new();
            for i in self.live_connected() {
                let (term, leader) = self.raft(i).get_state();
                if leader {
                    leaders.entry(term).or_default().push(i);
                }
            }
            for (term, ls) in &leaders {
                assert_eq!(ls.len(), 1, "term {term} has leaders {ls:?}");
            }
            if let Some(newest) = leaders.keys().max() {
                return leaders[newest][0];
            }
            thread::sleep(Duration::from_millis(20));
        }
        panic!("no leader elected");
    }

    fn check_errors(&self) {
        for (i, a) in self.applied.iter().enumerate() {
            if let Some(e) = &a.lock().error {
                panic!("node {i}: {e}");
            }
        }
    }

    /// How many nodes applied index `index`, and the command (checking they agree).
    fn n_committed(&self, index: u64) -> (usize, Option<Vec<u8>>) {
        self.check_errors();
        let mut count = 0;
        let mut cmd: Option<Vec<u8>> = None;
        for a in &self.applied {
            let a = a.lock();
            if let Some(c) = a.log.get(&index) {
                if let Some(prev) = &cmd {
                    assert_eq!(prev, c, "nodes disagree at index {index}");
                }
                cmd = Some(c.clone());
                count += 1;
            }
        }
        (count, cmd)
    }

    /// Submits `cmd` until `expected` nodes applied it (the lab's `one`).
    fn one(&self, cmd: &[u8], expected: usize) -> u64 {
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            for i in self.live_connected() {
                let Some((index, _)) = self.raft(i).start(cmd.to_vec()) else {
                    continue;
                };
                let until = Instant::now() + Duration::from_secs(2);
                while Instant::now() < until {
                    let (n, got) = self.n_committed(index);
                    if n >= expected && got.as_deref() == Some(cmd) {
                        return index;
                    }
                    thread::sleep(Duration::from_millis(10));
                }
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
        panic!("one({cmd:?}) failed to reach agreement");
    }

    fn shutdown_all(&mut self) {
        (0..self.n).for_each(|i| self.crash(i));
    }
}

/// The test's state machine: checks order, records commands, snapshots.
fn service(queue: Arc<LockQueue<ApplyMsg>>, applied: Arc<Mutex<Applied>>, raft: Raft, every: u64) {
    while let Some(msg) = queue.pop() {
        let mut a = applied.lock();
        match msg {
            ApplyMsg::Command { index, command, .. } => {
                if index != a.last + 1 {
                    a.error = Some(format!("applied {index} after {}", a.last));
                    continue;
                }
                a.log.insert(index, command);
                a.last = index;
                if every > 0 && index % every == 0 {
                    let data = encode(&a.log, a.last);
                    drop(a);
                    raft.snapshot(index, data);
                }
            }
            ApplyMsg::Snapshot { index, data, .. } => {
                let (log, last) = decode(&data.to_vec().unwrap());
                if last != index || index <= a.last && a.last != 0 {
                    a.error = Some(format!("snapshot at {index} after {}", a.last));
                    continue;
                }
                a.log = log;
                a.last = last;
                a.snapshots_installed += 1;
            }
            // Fixed membership here: no configuration entries.
            ApplyMsg::Membership { index, .. } => {
                a.error = Some(format!("unexpected configuration entry at {index}"));
            }
        }
    }
}

#[test]
fn elects_one_leader_and_keeps_it_while_idle() {
    let mut c = Cluster::new(3, 0);
    let leader = c.check_one_leader();
    let (term, _) = c.raft(leader).get_state();
    // With no failures, the leader and term stay put.
    let until = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < until {
        thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(c.check_one_leader(), leader);
    assert_eq!(c.raft(leader).get_state().0, term);
    let status = c.raft((leader + 1) % 3).status();
    assert_eq!((status.role, status.leader), (Role::Follower, Some(leader)));
    c.shutdown_all();
}

#[test]
fn agrees_and_survives_leader_failure() {
    let mut c = Cluster::new(3, 0);
    for i in 1..=5u8 {
        assert_eq!(c.one(&[i], 3), i as u64);
    }
    let old = c.check_one_leader();
    c.set_connected(old, false);
    let new = c.check_one_leader();
    assert_ne!(new, old);
    for i in 6..=10u8 {
        c.one(&[i], 2);
    }
    // The old leader comes back, steps down and catches up.
    c.set_connected(old, true);
    c.one(&[11], 3);
    assert_eq!(c.n_committed(10).0, 3);
    c.shutdown_all();
}

#[test]
fn restarts_from_the_persister() {
    let mut c = Cluster::new(3, 0);
    for i in 1..=20u8 {
        c.one(&[i], 3);
    }
    (0..3).for_each(|i| c.crash(i));
    (0..3).for_each(|i| c.start(i));
    c.one(&[21], 3);
    for i in 1..=21u8 {
        assert_eq!(c.n_committed(i as u64), (3, Some(vec![i])));
    }
    // A single node crashes while the others go on, then comes back.
    let victim = (c.check_one_leader() + 1) % 3;
    c.crash(victim);
    c.one(&[22], 2);
    c.start(victim);
    c.one(&[23], 3);
    c.shutdown_all();
}

#[test]
fn snapshots_compact_and_install_on_a_lagging_follower() {
    let mut c = Cluster::new(3, 10);
    c.one(&[0], 3);
    let leader = c.check_one_leader();
    let lagging = (leader + 1) % 3;
    c.set_connected(lagging, false);
    for i in 1..=60u8 {
        c.one(&[i], 2);
    }
    let status = c.raft(leader).status();
    assert!(
        status.snapshot_index >= 50,
        "leader did not compact: {status:?}"
    );
    // The follower's missing entries are gone: it needs InstallSnapshot.
    c.set_connected(lagging, true);
    c.one(&[61], 3);
    assert!(c.applied[lagging].lock().snapshots_installed >= 1);
    assert_eq!(c.n_committed(62).1, Some(vec![61]));
    // A restart begins with the snapshot, then the entries after it.
    c.crash(lagging);
    c.start(lagging);
    c.one(&[62], 3);
    assert!(c.applied[lagging].lock().snapshots_installed >= 1);
    assert!(c.raft(leader).raft_state_size() < 60 * 8);
    c.shutdown_all();
}

#[test]
fn restarts_from_files_with_snapshots() {
    let mut c = Cluster::with_files(3, 10);
    for i in 1..=25u8 {
        c.one(&[i], 3);
    }
    // Every node stops and starts again from its directory.
    (0..3).for_each(|i| c.crash(i));
    (0..3).for_each(|i| c.start(i));
    c.one(&[26], 3);
    for i in 1..=26u8 {
        assert_eq!(c.n_committed(i as u64), (3, Some(vec![i])));
    }
    assert!(c.applied.iter().all(|a| a.lock().snapshots_installed >= 1));
    c.shutdown_all();
}

#[test]
fn a_panicking_transport_does_not_wedge_replication() {
    let mut c = Cluster::new(3, 0);
    c.one(&[1], 3);
    let leader = c.check_one_leader();
    let term = c.raft(leader).get_state().0;
    // The injected panics are expected: keep them out of the test output.
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !info.to_string().contains("(injected)") {
            report(info);
        }
    }));
    // Far more panics than RPCs a peer may have in flight: were a panicked
    // call never settled, the leader would stop sending heartbeats.
    c.net.panics.store(40, Ordering::SeqCst);
    let deadline = Instant::now() + PATIENCE;
    while c.net.panics.load(Ordering::SeqCst) > 0 {
        assert!(Instant::now() < deadline, "the leader stopped calling");
        thread::sleep(Duration::from_millis(10));
    }
    // Longer than any election timeout: the followers must keep hearing.
    thread::sleep(Duration::from_millis(1500));
    for i in (0..3).filter(|&i| i != leader) {
        let s = c.raft(i).status();
        assert_eq!(
            (s.role, s.term, s.leader),
            (Role::Follower, term, Some(leader))
        );
    }
    c.one(&[2], 3);
    c.shutdown_all();
}

/// ReadIndex: a new leader first needs an entry of its term committed; then
/// reads are confirmed by the majority with the commit index they started
/// at; a follower refuses them; a leader cut off from the majority confirms
/// none.
#[test]
fn read_index_is_confirmed_by_a_majority_only() {
    use raft::{ReadIndexError, ReadStart};
    let (tx, rx) = crossbeam_channel::unbounded();
    let read = |raft: &Raft| {
        let tx = tx.clone();
        raft.read_index(Box::new(move |index| {
            let _ = tx.send(index);
        }))
    };
    let mut c = Cluster::new(3, 0);
    let leader = c.check_one_leader();
    assert_eq!(read(c.raft(leader)), Err(ReadIndexError::NoCommitInTerm));
    let index = c.one(&[1], 3);
    let leader = c.check_one_leader();
    assert!(matches!(
        read(c.raft(leader)),
        Ok(ReadStart::Pending { .. })
    ));
    assert_eq!(rx.recv_timeout(PATIENCE), Ok(index));
    let follower = (leader + 1) % 3;
    assert_eq!(read(c.raft(follower)), Err(ReadIndexError::NotLeader));

    // Cut off, the leader keeps leading until check-quorum notices, but it
    // can confirm nothing.
    c.set_connected(leader, false);
    assert!(
        matches!(read(c.raft(leader)), Ok(ReadStart::Pending { .. })),
        "a leader cut off a moment ago still takes reads"
    );
    assert!(
        rx.recv_timeout(Duration::from_secs(2)).is_err(),
        "a cut-off leader confirmed a read"
    );
    c.set_connected(leader, true);
    c.shutdown_all();
}
