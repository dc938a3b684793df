//! The KV store while its membership changes (beyond 6.5840): clients on
//! shared keys keep reading and writing while a fourth server joins as a
//! learner, is promoted, and an original server is removed; the whole
//! history must be linearizable and nothing acknowledged lost. Then the
//! same with a nemesis crashing members and cutting them off while five
//! servers in turn are replaced.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use kvserver::KvServer;
use parking_lot::Mutex;
use raft::{ChangeError, ConfChange, Configuration};
use raftkv_tests::kv_harness::{check_linearizable, KvCluster};
use raftkv_tests::linearizability::KvRecorder;
use raftkv_tests::raft_harness::run_test;
use rand::Rng;

const CLIENTS: usize = 5;
const KEYS: usize = 3;

/// Raises `stop` when dropped, so a scenario that fails while clients run
/// stops them and reports its own failure, not the runner's time limit.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Client `c`'s load until `stop`: Appends and Gets on the shared keys;
/// returns how many operations it made.
fn run_client(cluster: &KvCluster, c: usize, stop: &AtomicBool) -> usize {
    let client = cluster.make_client();
    let mut rng = rand::rng();
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) {
        let key = rng.random_range(0..KEYS).to_string();
        if rng.random_ratio(1, 2) {
            client.append(&key, &format!("x {c} {n} y"));
        } else {
            client.get(&key);
        }
        n += 1;
    }
    n
}

/// A running server that believes it leads (a deposed one may, for a while).
fn claimed_leader(cluster: &KvCluster) -> Option<KvServer> {
    cluster
        .all()
        .into_iter()
        .filter_map(|i| cluster.server(i))
        .find(|kv| kv.raft().get_state().1)
}

/// Asks the running leader for `change` until it is committed (bounded).
fn change(cluster: &KvCluster, change: &ConfChange) {
    let started = Instant::now();
    loop {
        let leader = claimed_leader(cluster);
        let result = match leader {
            Some(kv) => kv.raft().change_membership(change, Duration::from_secs(2)),
            None => Err(ChangeError::NotLeader),
        };
        match result {
            Ok(_) => return,
            Err(e) => {
                assert!(started.elapsed() < Duration::from_secs(20), "{change}: {e}");
                thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

#[test]
fn a_server_replaced_under_load_keeps_the_history_linearizable() {
    run_test(|| {
        let recorder = KvRecorder::new();
        let cluster = KvCluster::recording_with_voters(4, 3, recorder.clone());
        eprintln!("Test: a server is replaced under load (linearizable) ...");
        let stop = AtomicBool::new(false);
        let ops: usize = thread::scope(|s| {
            let clients: Vec<_> = (0..CLIENTS)
                .map(|c| {
                    let (cluster, stop) = (&cluster, &stop);
                    s.spawn(move || run_client(cluster, c, stop))
                })
                .collect();
            let _stop = StopOnDrop(&stop);
            thread::sleep(Duration::from_millis(300));
            change(
                &cluster,
                &ConfChange::AddLearner {
                    id: 3,
                    address: "kv-3:1".into(),
                },
            );
            thread::sleep(Duration::from_millis(300));
            change(&cluster, &ConfChange::Promote { id: 3 });
            thread::sleep(Duration::from_millis(300));
            change(&cluster, &ConfChange::Remove { id: 1 });
            // The load's duration after the last change, not a wait.
            thread::sleep(Duration::from_millis(500));
            stop.store(true, Ordering::SeqCst);
            clients.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert!(ops > 50, "too little load: {ops} operations");
        let (config, _) = cluster.server(0).unwrap().raft().configuration();
        assert_eq!(
            config.voters().collect::<Vec<_>>(),
            vec![0, 2, 3],
            "{config}"
        );
        check_linearizable(&recorder);
        eprintln!("  ... Passed -- {ops} operations");
    });
}

/// Servers in the cluster's slots: three voters to start with, one spare
/// for each replacement.
const SLOTS: usize = 8;
const REPLACEMENTS: usize = 5;

/// Asks for `change` until the leader reports it committed: a change whose
/// call timed out may have committed anyway, and its retry is then refused
/// as already done, so the configuration is the judge.
fn change_until(cluster: &KvCluster, change: &ConfChange, done: impl Fn(&Configuration) -> bool) {
    let started = Instant::now();
    loop {
        let leader = claimed_leader(cluster);
        if let Some(kv) = leader {
            let (config, committed) = kv.raft().configuration();
            if committed && done(&config) {
                return;
            }
            let _ = kv.raft().change_membership(change, Duration::from_secs(1));
        }
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "{change} not committed in 40 s"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

/// One fault at a time against the current members, until `stop`: a crash
/// and restart, or one member cut off from all others and healed.
fn nemesis(cluster: &KvCluster, members: &Mutex<Vec<usize>>, stop: &AtomicBool) -> usize {
    let mut rng = rand::rng();
    let mut faults = 0;
    while !stop.load(Ordering::SeqCst) {
        thread::sleep(Duration::from_millis(rng.random_range(50..300)));
        let victim = {
            let members = members.lock();
            members[rng.random_range(0..members.len())]
        };
        let down = Duration::from_millis(rng.random_range(200..800));
        if rng.random_ratio(1, 2) {
            cluster.shutdown_server(victim);
            thread::sleep(down);
            cluster.start_server(victim);
        } else {
            let others: Vec<usize> = (0..SLOTS).filter(|&i| i != victim).collect();
            cluster.partition(&[victim], &others);
            thread::sleep(down);
            cluster.connect_all();
        }
        faults += 1;
    }
    faults
}

#[test]
fn servers_replaced_while_members_crash_and_are_cut_off_keep_the_history_linearizable() {
    run_test(|| {
        let recorder = KvRecorder::new();
        let cluster = KvCluster::recording_with_voters(SLOTS, 3, recorder.clone());
        eprintln!("Test: servers replaced under crashes and partitions (linearizable) ...");
        let stop = AtomicBool::new(false);
        let members = Mutex::new(vec![0, 1, 2]);
        let mut rng = rand::rng();
        let (ops, faults) = thread::scope(|s| {
            let clients: Vec<_> = (0..CLIENTS)
                .map(|c| {
                    let (cluster, stop) = (&cluster, &stop);
                    s.spawn(move || run_client(cluster, c, stop))
                })
                .collect();
            let faults = s.spawn(|| nemesis(&cluster, &members, &stop));
            let _stop = StopOnDrop(&stop);
            for new in 3..3 + REPLACEMENTS {
                let add = ConfChange::AddLearner {
                    id: new,
                    address: format!("kv-{new}:1"),
                };
                change_until(&cluster, &add, |c| c.contains(new));
                members.lock().push(new);
                change_until(&cluster, &ConfChange::Promote { id: new }, |c| {
                    c.is_voter(new)
                });
                let old = {
                    let members = members.lock();
                    let voters: Vec<usize> =
                        members.iter().copied().filter(|&m| m != new).collect();
                    voters[rng.random_range(0..voters.len())]
                };
                members.lock().retain(|&m| m != old);
                change_until(&cluster, &ConfChange::Remove { id: old }, |c| {
                    !c.contains(old)
                });
                eprintln!("  server {new} replaced server {old}");
                // Time for faults between replacements, not a wait for one.
                thread::sleep(Duration::from_millis(rng.random_range(200..600)));
            }
            // The load's duration after the last change, not a wait.
            thread::sleep(Duration::from_millis(500));
            stop.store(true, Ordering::SeqCst);
            let faults = faults.join().unwrap();
            let ops: usize = clients.into_iter().map(|h| h.join().unwrap()).sum();
            (ops, faults)
        });
        cluster.connect_all();
        assert!(ops > 50, "too little load: {ops} operations");
        assert!(faults > 0, "no fault was injected");
        let mut expected = members.into_inner();
        expected.sort_unstable();
        let leader = cluster.check_one_leader();
        let (config, _) = cluster.server(leader).unwrap().raft().configuration();
        assert_eq!(config.voters().collect::<Vec<_>>(), expected, "{config}");
        check_linearizable(&recorder);
        eprintln!("  ... Passed -- {ops} operations, {faults} faults");
    });
}
