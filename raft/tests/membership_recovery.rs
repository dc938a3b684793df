//! A node's configuration survives restarts: rebuilt from the snapshot's
//! header and the configuration entries of its log, whatever configuration
//! the restarted node is started with; a follower's configuration follows
//! its log, reverting when a conflicting suffix is truncated.

use std::sync::Arc;
use std::time::{Duration, Instant};

use proto::raft::{AppendEntriesArgs, LogEntry};
use raft::{
    ApplyMsg, Cluster, ConfChange, Configuration, LockQueue, MemberRole, MemoryPersister,
    PeerFactory, Raft, RaftConfig,
};

fn fast() -> RaftConfig {
    RaftConfig {
        election_timeout_min: Duration::from_millis(100),
        election_timeout_max: Duration::from_millis(150),
        ..RaftConfig::default()
    }
}

/// No other node can be reached.
fn nobody() -> PeerFactory {
    Arc::new(|_, _| None)
}

fn start(persister: &MemoryPersister, initial: Configuration) -> (Raft, Arc<LockQueue<ApplyMsg>>) {
    let queue = Arc::new(LockQueue::new());
    let cluster = Cluster {
        initial,
        connect: nobody(),
    };
    let raft = Raft::make_member(
        0,
        cluster,
        Box::new(persister.clone()),
        queue.clone(),
        fast(),
    )
    .unwrap();
    (raft, queue)
}

fn pop(q: &LockQueue<ApplyMsg>) -> ApplyMsg {
    q.pop_timeout(Duration::from_secs(10))
        .expect("an apply message")
}

fn wait_leader(raft: &Raft) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !raft.get_state().1 {
        assert!(Instant::now() < deadline, "no leader");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_restart_recovers_the_configuration_from_snapshot_and_log() {
    let persister = MemoryPersister::new();
    let alone = Configuration::voters_of([(0, "a:1".to_string())]);
    let (raft, queue) = start(&persister, alone);
    wait_leader(&raft);
    let add = |id: usize| ConfChange::AddLearner {
        id,
        address: format!("h{id}:1"),
    };
    // The first change restates the configuration first (nothing of this
    // term is committed yet), then commits alone: one voter.
    let first = raft
        .change_membership(&add(1), Duration::from_secs(5))
        .unwrap();
    let mut applied = 0;
    while applied < first {
        applied = pop(&queue).index();
    }
    assert!(raft.snapshot(first, b"state".to_vec()));
    let second = raft
        .change_membership(&add(2), Duration::from_secs(5))
        .unwrap();
    assert!(second > first);
    let expected = raft.configuration().0;
    assert_eq!(expected.role(2), Some(MemberRole::Learner));
    raft.shutdown();

    // Started with no configuration at all, it still knows the cluster.
    let (raft, queue) = start(&persister.deep_copy(), Configuration::default());
    assert_eq!(raft.configuration().0, expected);
    match pop(&queue) {
        ApplyMsg::Snapshot { index, data, .. } => {
            assert_eq!(index, first);
            assert_eq!(
                data.to_vec().unwrap(),
                b"state",
                "the service sees its bytes only"
            );
        }
        other => panic!("expected the snapshot, got {other:?}"),
    }
    match pop(&queue) {
        ApplyMsg::Membership { index, config, .. } => {
            assert_eq!((index, config), (second, expected));
        }
        other => panic!("expected the configuration entry, got {other:?}"),
    }
    raft.shutdown();
}

#[test]
fn a_follower_reverts_a_truncated_configuration() {
    let persister = MemoryPersister::new();
    let three = Configuration::voters_of((0..3).map(|i| (i, String::new())));
    let queue = Arc::new(LockQueue::new());
    let config = RaftConfig {
        election_timeout_min: Duration::from_secs(60),
        election_timeout_max: Duration::from_secs(61),
        ..RaftConfig::default()
    };
    let cluster = Cluster {
        initial: three.clone(),
        connect: nobody(),
    };
    let raft = Raft::make_member(0, cluster, Box::new(persister), queue, config).unwrap();
    let four = Configuration::from_members(three.members().chain([raft::Member {
        id: 3,
        address: "h:1".into(),
        role: MemberRole::Learner,
    }]));
    let entry = |index: u64, term: u64, config: Option<&Configuration>| LogEntry {
        command: if config.is_some() { vec![] } else { vec![1] },
        log_term: term,
        log_index: index,
        config: config.map(Configuration::to_proto),
    };
    let append = |term: u64, prev: (u64, u64), entries: Vec<LogEntry>| AppendEntriesArgs {
        term,
        leader_id: 1,
        prev_log_index: prev.0,
        prev_log_term: prev.1,
        entries,
        leader_commit: 1,
    };
    let r = raft.append_entries(append(
        1,
        (0, 0),
        vec![entry(1, 1, None), entry(2, 1, Some(&four))],
    ));
    assert!(r.success);
    // In force as soon as it is in the log, committed or not.
    assert_eq!(raft.configuration(), (four, false));
    // A leader of term 2 never had it: its entry at index 2 replaces it.
    let r = raft.append_entries(append(2, (1, 1), vec![entry(2, 2, None)]));
    assert!(r.success);
    assert_eq!(raft.configuration().0, three);
    raft.shutdown();
}
