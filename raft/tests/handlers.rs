//! The RPC handlers of one node, called directly (Figure 2's receiver
//! rules), and what they leave in the persister: nothing is acknowledged
//! before it is durable, so a crash right after a reply keeps it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use proto::raft::{
    AppendEntriesArgs, AppendEntriesReply, InstallSnapshotRequest, InstallSnapshotResponse,
    LogEntry, RequestVoteArgs, RequestVoteReply,
};
use raft::{
    ApplyMsg, HardState, LockQueue, MemoryPersister, PeerError, Persister, Raft, RaftConfig,
    RaftPeer, Role, SnapshotData, SnapshotMeta, SnapshotWriter,
};

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

/// Node 0 of a 3-node cluster whose peers are unreachable and whose
/// election timeout is long enough that it never campaigns during a test.
fn follower() -> (Raft, MemoryPersister, Arc<LockQueue<ApplyMsg>>) {
    let persister = MemoryPersister::new();
    let queue = Arc::new(LockQueue::new());
    let config = RaftConfig {
        election_timeout_min: Duration::from_secs(60),
        election_timeout_max: Duration::from_secs(61),
        ..RaftConfig::default()
    };
    let peers = (0..3)
        .map(|_| Arc::new(Unreachable) as Arc<dyn RaftPeer>)
        .collect();
    let raft = Raft::make(0, peers, Box::new(persister.clone()), queue.clone(), config).unwrap();
    (raft, persister, queue)
}

fn entries(from: u64, terms: &[u64]) -> Vec<LogEntry> {
    terms
        .iter()
        .enumerate()
        .map(|(i, &t)| LogEntry {
            command: vec![from as u8 + i as u8],
            log_term: t,
            log_index: from + i as u64,
            config: None,
        })
        .collect()
}

fn append(term: u64, prev: (u64, u64), terms: &[u64], commit: u64) -> AppendEntriesArgs {
    AppendEntriesArgs {
        term,
        leader_id: 1,
        prev_log_index: prev.0,
        prev_log_term: prev.1,
        entries: entries(prev.0 + 1, terms),
        leader_commit: commit,
    }
}

fn vote(term: u64, candidate: i32, last: (u64, u64)) -> RequestVoteArgs {
    RequestVoteArgs {
        term,
        candidate_id: candidate,
        last_log_index: last.0,
        last_log_term: last.1,
        pre_vote: false,
    }
}

/// What a crash right now would leave.
fn crashed(p: &MemoryPersister) -> raft::Recovered {
    p.deep_copy().recover().unwrap()
}

#[test]
fn appended_entries_are_durable_before_success() {
    let (raft, p, _q) = follower();
    let r = raft.append_entries(append(1, (0, 0), &[1, 1, 1], 0));
    assert!(r.success);
    assert_eq!((r.term, r.update_next_index), (1, 4));
    let rec = crashed(&p);
    assert_eq!(rec.entries, entries(1, &[1, 1, 1]));
    assert_eq!(rec.hard_state.current_term, 1);
    let s = raft.status();
    assert_eq!(
        (s.role, s.leader, s.last_log_index),
        (Role::Follower, Some(1), 3)
    );
    raft.shutdown();
}

#[test]
fn votes_once_per_term_and_durably() {
    let (raft, p, _q) = follower();
    assert!(raft.request_vote(vote(5, 2, (0, 0))).vote_granted);
    assert_eq!(
        crashed(&p).hard_state,
        HardState {
            current_term: 5,
            voted_for: Some(2)
        }
    );
    assert!(!raft.request_vote(vote(5, 1, (0, 0))).vote_granted);
    assert!(raft.request_vote(vote(5, 2, (0, 0))).vote_granted);
    // A newer term frees the vote.
    assert!(raft.request_vote(vote(6, 1, (0, 0))).vote_granted);
    // A stale term gets the current one back.
    let r = raft.request_vote(vote(4, 2, (9, 9)));
    assert_eq!((r.term, r.vote_granted), (6, false));
    raft.shutdown();
}

#[test]
fn refuses_candidates_with_older_logs() {
    let (raft, _p, _q) = follower();
    assert!(raft.append_entries(append(2, (0, 0), &[1, 2], 0)).success);
    assert!(!raft.request_vote(vote(3, 2, (5, 1))).vote_granted);
    assert!(!raft.request_vote(vote(3, 2, (1, 2))).vote_granted);
    assert!(raft.request_vote(vote(3, 2, (2, 2))).vote_granted);
    raft.shutdown();
}

#[test]
fn pre_votes_change_nothing() {
    let (raft, p, _q) = follower();
    let mut ask = vote(7, 2, (0, 0));
    ask.pre_vote = true;
    // No leader heard of yet: granted, but term and vote stay.
    assert!(raft.request_vote(ask).vote_granted);
    assert_eq!(raft.get_state().0, 0);
    assert_eq!(crashed(&p).hard_state, HardState::default());
    // Having just heard from a leader, it refuses to help depose it.
    assert!(raft.append_entries(append(1, (0, 0), &[], 0)).success);
    assert!(!raft.request_vote(ask).vote_granted);
    raft.shutdown();
}

#[test]
fn stale_append_never_truncates_and_conflicts_do() {
    let (raft, p, _q) = follower();
    assert!(
        raft.append_entries(append(1, (0, 0), &[1, 1, 1, 1, 1], 0))
            .success
    );
    // A delayed, shorter copy of an earlier append.
    let r = raft.append_entries(append(1, (1, 1), &[1], 0));
    assert!(r.success);
    assert_eq!(raft.status().last_log_index, 5);
    // A new leader whose entry 3 differs.
    let r = raft.append_entries(append(2, (2, 1), &[2], 0));
    assert!(r.success);
    assert_eq!(raft.status().last_log_index, 3);
    assert_eq!(crashed(&p).entries, {
        let mut e = entries(1, &[1, 1]);
        e.extend(entries(3, &[2]));
        e
    });
    raft.shutdown();
}

#[test]
fn mismatches_answer_with_the_index_to_try_next() {
    let (raft, _p, _q) = follower();
    assert!(
        raft.append_entries(append(3, (0, 0), &[1, 3, 3, 3], 0))
            .success
    );
    // Too short: try one past our end.
    let r = raft.append_entries(append(4, (9, 4), &[4], 0));
    assert_eq!((r.success, r.update_next_index), (false, 5));
    // Conflicting term 3 at index 4: try the first index of term 3.
    let r = raft.append_entries(append(4, (4, 4), &[4], 0));
    assert_eq!((r.success, r.update_next_index), (false, 2));
    // Stale leader: rejected with our term.
    let r = raft.append_entries(append(2, (0, 0), &[2], 0));
    assert_eq!((r.success, r.term), (false, 4));
    raft.shutdown();
}

fn pop(q: &LockQueue<ApplyMsg>) -> ApplyMsg {
    q.pop_timeout(Duration::from_secs(10))
        .expect("an apply message")
}

#[test]
fn applies_committed_entries_in_order_exactly_once() {
    let (raft, _p, q) = follower();
    assert!(
        raft.append_entries(append(1, (0, 0), &[1, 1, 1], 2))
            .success
    );
    for i in 1..=2u64 {
        assert_eq!(
            pop(&q),
            ApplyMsg::Command {
                index: i,
                term: 1,
                command: vec![i as u8]
            }
        );
    }
    // The leader commit only counts entries this request matched.
    assert!(raft.append_entries(append(1, (1, 1), &[], 3)).success);
    assert!(raft.append_entries(append(1, (3, 1), &[], 3)).success);
    assert_eq!(pop(&q).index(), 3);
    assert_eq!(q.pop_timeout(Duration::from_millis(50)), None);
    raft.shutdown();
}

#[test]
fn installs_a_snapshot_and_continues_after_it() {
    let (raft, p, q) = follower();
    assert!(raft.append_entries(append(1, (0, 0), &[1, 1], 0)).success);
    let r = send_snapshot(&raft, 2, (10, 2), b"state", 2);
    assert_eq!((r.term, r.saved), (2, true));
    assert_eq!(
        pop(&q),
        ApplyMsg::Snapshot {
            index: 10,
            term: 2,
            data: snapshot_data((10, 2), b"state")
        }
    );
    let s = raft.status();
    assert_eq!(
        (s.snapshot_index, s.last_log_index, s.commit_index),
        (10, 10, 10)
    );
    assert_eq!(p.snapshot(), Some(b"state".to_vec()));
    assert!(raft.append_entries(append(2, (10, 2), &[2], 11)).success);
    assert_eq!(pop(&q).index(), 11);
    let rec = crashed(&p);
    assert_eq!(rec.entries, entries(11, &[2]));
    assert_eq!(rec.snapshot.unwrap().meta().last_included_index, 10);
    raft.shutdown();
}

fn snapshot_data((index, term): (u64, u64), data: &[u8]) -> SnapshotData {
    let meta = SnapshotMeta {
        last_included_index: index,
        last_included_term: term,
    };
    SnapshotData::from_bytes(meta, data.to_vec())
}

/// One chunk of a snapshot through (index, snap_term), as a leader of
/// `term` sends it.
fn chunk(
    term: u64,
    (index, snap_term): (u64, u64),
    whole: &[u8],
    offset: usize,
    len: usize,
) -> InstallSnapshotRequest {
    let end = (offset + len).min(whole.len());
    InstallSnapshotRequest {
        leader_id: 1,
        term,
        last_snap_shot_include_index: index,
        last_snap_shot_include_term: snap_term,
        data: whole[offset..end].to_vec(),
        offset: offset as u64,
        done: end == whole.len(),
        total_size: whole.len() as u64,
        crc: crc32fast::hash(whole),
    }
}

/// Sends a whole snapshot in chunks of `chunk_len`, as a leader does;
/// returns the last reply.
fn send_snapshot(
    raft: &Raft,
    term: u64,
    at: (u64, u64),
    whole: &[u8],
    chunk_len: usize,
) -> InstallSnapshotResponse {
    let mut offset = 0;
    loop {
        let r = raft.install_snapshot(chunk(term, at, whole, offset, chunk_len));
        if r.saved || r.term != term {
            return r;
        }
        assert!(r.next_offset > offset as u64, "no progress: {r:?}");
        offset = r.next_offset as usize;
    }
}

#[test]
fn a_chunked_snapshot_is_installed_only_when_whole_and_intact() {
    let (raft, p, q) = follower();
    let whole: Vec<u8> = (0..100u8).collect();
    // Half a transfer, then a chunk from the wrong place: told where to resume.
    let r = raft.install_snapshot(chunk(2, (10, 2), &whole, 0, 40));
    assert_eq!((r.saved, r.next_offset), (false, 40));
    let r = raft.install_snapshot(chunk(2, (10, 2), &whole, 80, 20));
    assert_eq!((r.saved, r.next_offset), (false, 40));
    assert_eq!(raft.status().snapshot_index, 0);
    assert_eq!(p.snapshot(), None);
    // A last chunk whose bytes do not match the stated checksum: nothing is
    // installed, and the transfer starts over.
    let mut bad = chunk(2, (10, 2), &whole, 40, 60);
    bad.data[3] ^= 1;
    let r = raft.install_snapshot(bad);
    assert_eq!((r.saved, r.next_offset), (false, 0));
    assert_eq!(raft.status().snapshot_index, 0);
    assert_eq!(p.snapshot(), None);
    // A new leader's transfer replaces a half-done one of the old leader.
    let r = raft.install_snapshot(chunk(2, (10, 2), &whole, 0, 40));
    assert_eq!(r.next_offset, 40);
    let r = send_snapshot(&raft, 3, (12, 3), &whole, 30);
    assert_eq!((r.term, r.saved), (3, true));
    assert_eq!(p.snapshot(), Some(whole.clone()));
    assert_eq!(
        pop(&q),
        ApplyMsg::Snapshot {
            index: 12,
            term: 3,
            data: snapshot_data((12, 3), &whole)
        }
    );
    // The old leader's late chunk changes nothing.
    let r = raft.install_snapshot(chunk(2, (10, 2), &whole, 40, 60));
    assert_eq!((r.term, r.saved), (3, false));
    assert_eq!(raft.status().snapshot_index, 12);
    raft.shutdown();
}

#[test]
fn the_service_compacts_only_what_was_applied() {
    let (raft, p, q) = follower();
    assert!(
        raft.append_entries(append(1, (0, 0), &[1, 1, 1, 1], 3))
            .success
    );
    (1..=3).for_each(|i| assert_eq!(pop(&q).index(), i));
    raft.snapshot(4, b"too far".to_vec());
    assert_eq!(raft.status().snapshot_index, 0);
    raft.snapshot(2, b"two".to_vec());
    assert_eq!(raft.status().snapshot_index, 2);
    raft.snapshot(1, b"older".to_vec());
    // Raft's header (the configuration at index 2) precedes the service's bytes.
    assert!(p.snapshot().is_some_and(|s| s.ends_with(b"two")));
    assert_eq!(crashed(&p).entries, entries(3, &[1, 1]));
    raft.shutdown();
}

#[test]
fn a_restarted_node_starts_from_its_snapshot() {
    let (raft, p, q) = follower();
    assert!(
        raft.append_entries(append(1, (0, 0), &[1, 1, 1], 3))
            .success
    );
    (1..=3).for_each(|i| assert_eq!(pop(&q).index(), i));
    raft.snapshot(2, b"two".to_vec());
    raft.shutdown();
    let queue = Arc::new(LockQueue::new());
    let peers = (0..3)
        .map(|_| Arc::new(Unreachable) as Arc<dyn RaftPeer>)
        .collect();
    let config = RaftConfig {
        election_timeout_min: Duration::from_secs(60),
        election_timeout_max: Duration::from_secs(61),
        ..RaftConfig::default()
    };
    let raft = Raft::make(0, peers, Box::new(p.deep_copy()), queue.clone(), config).unwrap();
    assert_eq!(
        pop(&queue),
        ApplyMsg::Snapshot {
            index: 2,
            term: 1,
            data: snapshot_data((2, 1), b"two")
        }
    );
    let s = raft.status();
    assert_eq!(
        (s.term, s.commit_index, s.last_applied, s.last_log_index),
        (1, 2, 2, 3)
    );
    raft.shutdown();
}

#[test]
fn after_shutdown_handlers_have_no_effect() {
    let (raft, p, _q) = follower();
    assert!(raft.append_entries(append(1, (0, 0), &[1], 0)).success);
    raft.shutdown();
    raft.shutdown(); // idempotent
    let r = raft.append_entries(append(3, (1, 1), &[3], 0));
    assert_eq!((r.success, r.term), (false, 1));
    assert!(!raft.request_vote(vote(3, 2, (9, 9))).vote_granted);
    assert_eq!(raft.start(vec![1]), None);
    assert_eq!(crashed(&p).entries.len(), 1);
    assert_eq!(crashed(&p).hard_state.current_term, 1);
}

#[test]
fn a_cluster_of_one_leads_and_commits_alone() {
    let persister = MemoryPersister::new();
    let queue = Arc::new(LockQueue::new());
    let peers = vec![Arc::new(Unreachable) as Arc<dyn RaftPeer>];
    let raft = Raft::make(
        0,
        peers,
        Box::new(persister.clone()),
        queue.clone(),
        RaftConfig::default(),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !raft.get_state().1 {
        assert!(Instant::now() < deadline, "no leader");
        std::thread::sleep(Duration::from_millis(10));
    }
    let (index, term) = raft.start(b"x".to_vec()).unwrap();
    assert_eq!(
        pop(&queue),
        ApplyMsg::Command {
            index,
            term,
            command: b"x".to_vec()
        }
    );
    assert_eq!(crashed(&persister).entries.len(), 1);
    raft.shutdown();
}

/// A memory persister whose syncs first run a test's hook: fail like a
/// full disk, or wait like a slow one.
struct HookedSync {
    inner: MemoryPersister,
    before_sync: Box<dyn FnMut() -> Result<(), raft::PersistError> + Send>,
}

impl Persister for HookedSync {
    fn recover(&mut self) -> Result<raft::Recovered, raft::PersistError> {
        self.inner.recover()
    }
    fn save_hard_state(&mut self, hs: HardState) -> Result<(), raft::PersistError> {
        self.inner.save_hard_state(hs)
    }
    fn append(&mut self, entries: &[LogEntry]) -> Result<(), raft::PersistError> {
        self.inner.append(entries)
    }
    fn truncate_suffix(&mut self, from: u64) -> Result<(), raft::PersistError> {
        self.inner.truncate_suffix(from)
    }
    fn begin_snapshot(
        &mut self,
        meta: SnapshotMeta,
    ) -> Result<Box<dyn SnapshotWriter>, raft::PersistError> {
        self.inner.begin_snapshot(meta)
    }
    fn install_snapshot(
        &mut self,
        snapshot: Box<dyn SnapshotWriter>,
    ) -> Result<(), raft::PersistError> {
        self.inner.install_snapshot(snapshot)
    }
    fn current_snapshot(&self) -> Option<SnapshotData> {
        self.inner.current_snapshot()
    }
    fn sync(&mut self) -> Result<(), raft::PersistError> {
        (self.before_sync)()?;
        self.inner.sync()
    }
    fn raft_state_size(&self) -> u64 {
        self.inner.raft_state_size()
    }
}

/// A follower like [`follower`]'s, over `persister`.
fn follower_on(persister: HookedSync) -> Raft {
    let peers = (0..3)
        .map(|_| Arc::new(Unreachable) as Arc<dyn RaftPeer>)
        .collect();
    let config = RaftConfig {
        election_timeout_min: Duration::from_secs(60),
        election_timeout_max: Duration::from_secs(61),
        ..RaftConfig::default()
    };
    let queue = Arc::new(LockQueue::new());
    Raft::make(0, peers, Box::new(persister), queue, config).unwrap()
}

#[test]
fn a_persist_error_stops_the_node_without_acknowledging() {
    let fail = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let memory = MemoryPersister::new();
    let failing = fail.clone();
    let raft = follower_on(HookedSync {
        inner: memory.clone(),
        before_sync: Box::new(move || {
            if failing.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(raft::PersistError::Io {
                    path: "disk".into(),
                    source: std::io::Error::other("no space left"),
                });
            }
            Ok(())
        }),
    });
    assert!(raft.append_entries(append(1, (0, 0), &[1], 0)).success);
    fail.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(!raft.append_entries(append(1, (1, 1), &[1], 0)).success);
    assert!(!raft.request_vote(vote(2, 2, (9, 9))).vote_granted);
    fail.store(false, std::sync::atomic::Ordering::SeqCst);
    // Stopped for good: nothing more is accepted, even once the disk is back.
    assert!(!raft.append_entries(append(1, (1, 1), &[1], 0)).success);
    assert_eq!(crashed(&memory).entries.len(), 1);
    // And it says why, for the process to exit with.
    let reason = raft.wait_failure(Duration::from_secs(10)).unwrap();
    assert!(reason.contains("persister failed"), "{reason}");
    assert!(reason.contains("no space left"), "{reason}");
    raft.shutdown();
    assert!(raft.failure().is_some(), "shutdown keeps the reason");
}

#[test]
fn a_heartbeat_never_waits_for_the_disk_and_claims_only_what_is_synced() {
    let gate = Arc::new((parking_lot::Mutex::new(false), parking_lot::Condvar::new()));
    // Syncs wait while the gate is closed: a slow disk, held on demand.
    let waiting = gate.clone();
    let raft = follower_on(HookedSync {
        inner: MemoryPersister::new(),
        before_sync: Box::new(move || {
            let (closed, opened) = &*waiting;
            let mut closed = closed.lock();
            while *closed {
                opened.wait(&mut closed);
            }
            Ok(())
        }),
    });
    assert!(raft.append_entries(append(1, (0, 0), &[1], 0)).success);

    // Entries 2..=3 arrive; their sync hangs at the gate, holding the
    // persister.
    *gate.0.lock() = true;
    let appender = {
        let raft = raft.clone();
        std::thread::spawn(move || raft.append_entries(append(1, (1, 1), &[1, 1], 1)))
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while raft.status().last_log_index < 3 {
        assert!(Instant::now() < deadline, "the entries never arrived");
        std::thread::sleep(Duration::from_millis(1));
    }
    // A heartbeat through the unsynced entries is answered at once: the
    // leader's contact counts, its commit index is taken, but no match past
    // what is synced is claimed.
    let (tx, rx) = crossbeam_channel::bounded(1);
    {
        let raft = raft.clone();
        std::thread::spawn(move || tx.send(raft.append_entries(append(1, (3, 1), &[], 3))));
    }
    let answered = rx.recv_timeout(Duration::from_secs(5));
    let (closed, opened) = &*gate;
    let Ok(r) = answered else {
        *closed.lock() = false;
        opened.notify_all();
        panic!("the heartbeat waited for the disk");
    };
    assert_eq!((r.term, r.success, r.update_next_index), (1, false, 4));
    assert_eq!(raft.status().commit_index, 3);
    // One through synced entries still matches.
    assert!(raft.append_entries(append(1, (1, 1), &[], 3)).success);
    *closed.lock() = false;
    opened.notify_all();
    assert!(appender.join().unwrap().success);
    assert!(raft.append_entries(append(1, (3, 1), &[], 3)).success);
    raft.shutdown();
}
