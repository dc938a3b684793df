//! Snapshots without stalls (beyond Lab 4B): a snapshot that takes longer
//! than an election timeout to write holds up neither writes nor
//! heartbeats, and a log that stays over the threshold does not make a
//! server snapshot after every entry.

use std::collections::HashMap;
use std::thread;
use std::time::{Duration, Instant};

use raftkv_tests::kv_harness::KvCluster;
use raftkv_tests::raft_harness::run_test;

const MAX_RAFT_STATE: u64 = 2000;

fn snapshots_taken(cluster: &KvCluster, server: usize) -> u64 {
    cluster.server(server).map_or(0, |s| s.snapshots_taken())
}

#[test]
fn a_slow_snapshot_stalls_no_write_and_no_heartbeat() {
    run_test(|| {
        let cluster = KvCluster::new(3, false, Some(MAX_RAFT_STATE));
        let slow = Duration::from_millis(1500);
        for i in cluster.all() {
            cluster.persister(i).set_snapshot_delay(slow);
        }
        let client = cluster.make_client();
        client.put("k", "0");
        let leader = cluster.check_one_leader();
        let (term, _) = cluster.server(leader).unwrap().raft().get_state();

        // Writes for 5 s while snapshots that take 1.5 s each (over twice
        // the 600 ms election timeout) are written.
        let mut written = HashMap::new();
        let mut slowest = Duration::ZERO;
        let started = Instant::now();
        let mut i = 0;
        while started.elapsed() < Duration::from_secs(5) {
            let (key, value) = (format!("key{}", i % 50), format!("value {i}"));
            let op = Instant::now();
            client.put(&key, &value);
            slowest = slowest.max(op.elapsed());
            written.insert(key, value);
            i += 1;
        }
        let taken: u64 = cluster
            .all()
            .into_iter()
            .map(|s| snapshots_taken(&cluster, s))
            .sum();
        assert!(taken >= 3, "only {taken} snapshots in 5 s of writes");
        assert!(
            slowest < Duration::from_millis(300),
            "a write took {slowest:?} while snapshots were written"
        );
        // Nobody's election timer fired: same leader, same term.
        assert_eq!(cluster.check_one_leader(), leader);
        let (now, _) = cluster.server(leader).unwrap().raft().get_state();
        assert_eq!(now, term, "an election happened during the snapshots");
        for (key, value) in &written {
            client.check(key, value);
        }
    });
}

#[test]
fn a_log_over_the_threshold_does_not_snapshot_every_entry() {
    run_test(|| {
        let cluster = KvCluster::new(3, false, Some(MAX_RAFT_STATE));
        let writes_per_client = 20;
        let clients = 30;
        // Many clients at once: entries reach followers in batches larger
        // than the threshold, so their unapplied tail alone is over it.
        thread::scope(|scope| {
            for c in 0..clients {
                let client = cluster.make_client();
                scope.spawn(move || {
                    for w in 0..writes_per_client {
                        client.put(&format!("c{c}"), &format!("write {w} of client {c}"));
                    }
                });
            }
        });
        let entries = (clients * writes_per_client) as u64;
        // Each entry is under 200 bytes and a snapshot waits for half the
        // threshold of applied log: at most one per 5 entries (+ slack for
        // the first). A storm would be about one per entry.
        for s in cluster.all() {
            let taken = snapshots_taken(&cluster, s);
            assert!(taken >= 1, "server {s} took no snapshot");
            assert!(
                taken <= entries / 5 + 2,
                "server {s} took {taken} snapshots for {entries} entries"
            );
        }
    });
}
