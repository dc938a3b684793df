//! How a node refuses and how it stops: a command over the size limit is
//! refused and the leader carries on; a node that stops by itself (a
//! persist failure, a panicked thread of its own, the service's `fail`)
//! says why, and a clean shutdown is no failure.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use proto::raft::{
    AppendEntriesArgs, AppendEntriesReply, InstallSnapshotRequest, InstallSnapshotResponse,
    LogEntry, RequestVoteArgs, RequestVoteReply,
};
use raft::limits::MAX_COMMAND_BYTES;
use raft::{
    ApplyMsg, FilePersister, HardState, LockQueue, MemoryPersister, PeerError, PersistError,
    Persister, Raft, RaftConfig, RaftPeer, Recovered, SnapshotData, SnapshotMeta, SnapshotWriter,
    StartError,
};

/// Generous: the machine is small and busy.
const PATIENCE: Duration = Duration::from_secs(20);

/// A peer nobody can reach.
struct Unreachable;

impl RaftPeer for Unreachable {
    fn append_entries(&self, _: &AppendEntriesArgs) -> Result<AppendEntriesReply, PeerError> {
        Err(PeerError("unreachable".into()))
    }
    fn request_vote(&self, _: &RequestVoteArgs) -> Result<RequestVoteReply, PeerError> {
        Err(PeerError("unreachable".into()))
    }
    fn install_snapshot(
        &self,
        _: &InstallSnapshotRequest,
    ) -> Result<InstallSnapshotResponse, PeerError> {
        Err(PeerError("unreachable".into()))
    }
}

/// A persister whose syncs panic once `panic` is set: a bug in code the
/// log writer thread runs.
struct PanicsOnSync {
    inner: MemoryPersister,
    panic: Arc<AtomicBool>,
}

impl Persister for PanicsOnSync {
    fn recover(&mut self) -> Result<Recovered, PersistError> {
        self.inner.recover()
    }
    fn save_hard_state(&mut self, hs: HardState) -> Result<(), PersistError> {
        self.inner.save_hard_state(hs)
    }
    fn append(&mut self, entries: &[LogEntry]) -> Result<(), PersistError> {
        self.inner.append(entries)
    }
    fn truncate_suffix(&mut self, from: u64) -> Result<(), PersistError> {
        self.inner.truncate_suffix(from)
    }
    fn begin_snapshot(
        &mut self,
        meta: SnapshotMeta,
    ) -> Result<Box<dyn SnapshotWriter>, PersistError> {
        self.inner.begin_snapshot(meta)
    }
    fn install_snapshot(&mut self, snapshot: Box<dyn SnapshotWriter>) -> Result<(), PersistError> {
        self.inner.install_snapshot(snapshot)
    }
    fn current_snapshot(&self) -> Option<SnapshotData> {
        self.inner.current_snapshot()
    }
    fn sync(&mut self) -> Result<(), PersistError> {
        if self.panic.load(Ordering::SeqCst) {
            panic!("a bug on the sync path");
        }
        self.inner.sync()
    }
    fn raft_state_size(&self) -> u64 {
        self.inner.raft_state_size()
    }
}

fn node(
    peers: Vec<Arc<dyn RaftPeer>>,
    persister: Box<dyn Persister>,
) -> (Raft, Arc<LockQueue<ApplyMsg>>) {
    let queue = Arc::new(LockQueue::new());
    let raft = Raft::make(0, peers, persister, queue.clone(), RaftConfig::default()).unwrap();
    (raft, queue)
}

/// A one-node cluster: it elects itself and commits alone.
fn single(persister: Box<dyn Persister>) -> (Raft, Arc<LockQueue<ApplyMsg>>) {
    let (raft, queue) = node(vec![Arc::new(Unreachable)], persister);
    let deadline = Instant::now() + PATIENCE;
    while !raft.get_state().1 {
        assert!(Instant::now() < deadline, "no leader");
        std::thread::sleep(Duration::from_millis(10));
    }
    (raft, queue)
}

fn next_command(queue: &LockQueue<ApplyMsg>) -> (u64, Vec<u8>) {
    match queue.pop_timeout(PATIENCE) {
        Some(ApplyMsg::Command { index, command, .. }) => (index, command),
        other => panic!("expected a command, got {other:?}"),
    }
}

#[test]
fn a_command_over_the_limit_is_refused_and_the_leader_carries_on() {
    let (raft, queue) = single(Box::new(MemoryPersister::new()));
    assert_eq!(
        raft.try_start(vec![0; MAX_COMMAND_BYTES + 1]),
        Err(StartError::TooLarge {
            len: MAX_COMMAND_BYTES + 1,
            max: MAX_COMMAND_BYTES
        })
    );
    assert_eq!(raft.start(vec![0; MAX_COMMAND_BYTES + 1]), None);
    assert!(raft.get_state().1, "still the leader");
    let (index, _) = raft.start(b"after".to_vec()).unwrap();
    assert_eq!(next_command(&queue), (index, b"after".to_vec()));
    assert_eq!(raft.failure(), None);
    raft.shutdown();
    assert_eq!(raft.failure(), None, "a clean shutdown is no failure");
}

#[test]
fn a_command_at_the_limit_commits_and_survives_a_restart_from_files() {
    let dir = tempfile::tempdir().unwrap();
    let big: Vec<u8> = (0..MAX_COMMAND_BYTES).map(|i| (i % 251) as u8).collect();
    let index = {
        let (raft, queue) = single(Box::new(FilePersister::open(dir.path()).unwrap()));
        let (index, _) = raft.start(big.clone()).unwrap();
        let (applied, command) = next_command(&queue);
        assert_eq!(applied, index);
        assert!(command == big, "the command came back changed");
        assert_eq!(raft.failure(), None);
        raft.shutdown();
        index
    };
    let mut persister = FilePersister::open(dir.path()).unwrap();
    let recovered = persister.recover().unwrap();
    let entry = recovered
        .entries
        .iter()
        .find(|e| e.log_index == index)
        .expect("the entry is in the log");
    assert!(entry.command == big, "the entry came back changed");
}

#[test]
fn fail_stops_the_node_and_names_the_reason() {
    let (raft, _queue) = single(Box::new(MemoryPersister::new()));
    assert_eq!(raft.wait_failure(Duration::from_millis(20)), None);
    raft.fail("the service could not decode entry 7");
    raft.fail("a second reason is not kept");
    assert_eq!(
        raft.wait_failure(PATIENCE).as_deref(),
        Some("the service could not decode entry 7")
    );
    assert_eq!(
        raft.failure().as_deref(),
        Some("the service could not decode entry 7")
    );
    assert!(!raft.get_state().1, "a stopped node leads nothing");
    assert_eq!(raft.start(b"x".to_vec()), None);
    raft.shutdown();
}

#[test]
fn a_panicking_thread_stops_the_node_and_names_the_panic() {
    let panic = Arc::new(AtomicBool::new(false));
    let persister = PanicsOnSync {
        inner: MemoryPersister::new(),
        panic: panic.clone(),
    };
    let (raft, _queue) = single(Box::new(persister));
    panic.store(true, Ordering::SeqCst);
    // The leader's log writer syncs the new entry, and panics doing so.
    assert!(raft.start(b"x".to_vec()).is_some());
    let reason = raft.wait_failure(PATIENCE).expect("the node stopped");
    assert!(reason.contains("raft0-writer panicked"), "{reason}");
    assert!(reason.contains("a bug on the sync path"), "{reason}");
    assert!(!raft.get_state().1);
    raft.shutdown();
}
