//! The KV store while its membership changes (beyond 6.5840): clients on
//! shared keys keep reading and writing while a fourth server joins as a
//! learner, is promoted, and an original server is removed; the whole
//! history must be linearizable and nothing acknowledged lost.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use raft::{ChangeError, ConfChange};
use raftkv_tests::kv_harness::{check_linearizable, KvCluster};
use raftkv_tests::linearizability::KvRecorder;
use raftkv_tests::raft_harness::run_test;
use rand::Rng;

const CLIENTS: usize = 5;
const KEYS: usize = 3;

/// Asks the running leader for `change` until it is committed (bounded).
fn change(cluster: &KvCluster, change: &ConfChange) {
    let started = Instant::now();
    loop {
        let leader = cluster
            .all()
            .into_iter()
            .filter_map(|i| cluster.server(i))
            .find(|kv| kv.raft().get_state().1);
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
                    s.spawn(move || {
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
                    })
                })
                .collect();
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
