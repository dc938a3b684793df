//! Delete, Scan and compare-and-swap end to end (no 6.5840 counterpart; the
//! 2025 labs' versioned Put is the nearest): counters incremented by
//! read-then-Cas loops under a lossy, partitioned network; Scan pages that
//! cover a range exactly once while other ranges change; Scans checked for
//! linearizability against writes in their range; and late copies of a
//! Delete or Cas answered with what the first copy decided.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use clerk::CasOutcome;
use prost::Message;
use proto::kv::{CasReply, DeleteReply};
use proto::KvErr;
use raftkv_tests::kv_harness::{check_linearizable, partitioner, KvCluster};
use raftkv_tests::linearizability::KvRecorder;
use raftkv_tests::raft_harness::run_test;
use raftkv_tests::sim::HeldCall;
use rand::Rng;

/// How long the concurrent clients of a scenario run.
const RUN: Duration = Duration::from_secs(5);

/// Reads `key` as a number (absent: 0) and swaps in one more, until a swap
/// succeeds; how many tries it took.
fn increment(client: &raftkv_tests::kv_harness::KvClient, key: &str) -> usize {
    let mut tries = 0;
    loop {
        tries += 1;
        let seen = client.get(key);
        let (expected, next) = if seen.is_empty() {
            (None, 1)
        } else {
            (
                Some(seen.as_str()),
                seen.parse::<u64>().expect("a number") + 1,
            )
        };
        if client.cas(key, expected, &next.to_string()) == CasOutcome::Swapped {
            return tries;
        }
    }
}

#[test]
fn concurrent_cas_increments_under_an_unreliable_network_with_partitions() {
    run_test(|| {
        let recorder = KvRecorder::new();
        let cluster = KvCluster::recording(5, true, None, recorder.clone());
        let stop = AtomicBool::new(false);
        let stop_partitioner = AtomicBool::new(false);
        let clients = 5;
        let (increments, tries): (Vec<usize>, Vec<usize>) = thread::scope(|s| {
            let workers: Vec<_> = (0..clients)
                .map(|_| {
                    let (cluster, stop) = (&cluster, &stop);
                    s.spawn(move || {
                        let client = cluster.make_client();
                        let (mut done, mut tries) = (0, 0);
                        while !stop.load(Ordering::SeqCst) {
                            tries += increment(&client, "counter");
                            done += 1;
                        }
                        (done, tries)
                    })
                })
                .collect();
            let partitions = s.spawn(|| partitioner(&cluster, &stop_partitioner));
            thread::sleep(RUN); // the load's duration
            stop_partitioner.store(true, Ordering::SeqCst);
            partitions.join().expect("partitioner panicked");
            cluster.connect_all();
            stop.store(true, Ordering::SeqCst);
            workers
                .into_iter()
                .map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .unzip()
        });
        let total: usize = increments.iter().sum();
        let failed_swaps: usize = tries.iter().sum::<usize>() - total;
        eprintln!("  {total} increments, {failed_swaps} lost races, {clients} clients");
        assert!(total > 0, "no increment got through");
        let value = cluster.make_client().get("counter");
        assert_eq!(
            value,
            total.to_string(),
            "the counter must equal the number of successful swaps"
        );
        check_linearizable(&recorder);
    });
}

#[test]
fn scan_pages_cover_a_range_exactly_once_while_other_ranges_change() {
    run_test(|| {
        let cluster = KvCluster::new(5, true, Some(2000));
        let loader = cluster.make_client();
        // "r/" .. "r0" holds exactly the keys "r/…": '/' + 1 == '0'.
        let expected: Vec<(String, String)> = (0..150)
            .map(|i| (format!("r/{i:03}"), format!("value {i}")))
            .collect();
        for (key, value) in &expected {
            loader.put(key, value);
        }
        let stop = AtomicBool::new(false);
        let scans = thread::scope(|s| {
            // Writers hug the range from both sides: "r.…" sorts just
            // before "r/", "r0…" just after.
            for w in 0..3 {
                let (cluster, stop) = (&cluster, &stop);
                s.spawn(move || {
                    let client = cluster.make_client();
                    let mut rng = rand::rng();
                    let mut j = 0;
                    while !stop.load(Ordering::SeqCst) {
                        let key = match rng.random_range(0..3) {
                            0 => format!("r.{}", rng.random_range(0..5)),
                            1 => format!("r0{}", rng.random_range(0..5)),
                            _ => format!("q{}", rng.random_range(0..5)),
                        };
                        match rng.random_range(0..3) {
                            0 => client.put(&key, &format!("{w}.{j}")),
                            1 => client.append(&key, "+"),
                            _ => {
                                client.delete(&key);
                            }
                        }
                        j += 1;
                    }
                });
            }
            let scanners: Vec<_> = (0..2)
                .map(|_| {
                    let (cluster, stop, expected) = (&cluster, &stop, &expected);
                    s.spawn(move || {
                        let client = cluster.make_client();
                        let mut rng = rand::rng();
                        let mut scans = 0;
                        while !stop.load(Ordering::SeqCst) {
                            let limit = rng.random_range(1..=40);
                            let got = client.scan("r/", "r0", limit);
                            assert_eq!(
                                got, *expected,
                                "a scan in pages of {limit} did not return the range once, in order"
                            );
                            scans += 1;
                        }
                        scans
                    })
                })
                .collect();
            thread::sleep(RUN); // the load's duration
            stop.store(true, Ordering::SeqCst);
            scanners
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .sum::<usize>()
        });
        assert!(scans > 0, "no scan completed");
        eprintln!("  {scans} full scans of 150 keys");
    });
}

#[test]
fn scans_see_no_write_a_later_get_could_not_see() {
    run_test(|| {
        let recorder = KvRecorder::new();
        let cluster = KvCluster::recording(5, true, None, recorder.clone());
        let keys = ["g/0", "g/1", "g/2", "g/3"];
        let stop = AtomicBool::new(false);
        thread::scope(|s| {
            for w in 0..3 {
                let (cluster, stop) = (&cluster, &stop);
                s.spawn(move || {
                    let client = cluster.make_client();
                    let mut rng = rand::rng();
                    let mut j = 0;
                    while !stop.load(Ordering::SeqCst) {
                        let key = keys[rng.random_range(0..keys.len())];
                        let value = format!("{w}.{j};");
                        match rng.random_range(0..10) {
                            0..4 => client.put(key, &value),
                            4..6 => client.append(key, &value),
                            6 => {
                                client.delete(key);
                            }
                            7 => {
                                let seen = client.get(key);
                                let expected = (!seen.is_empty()).then_some(seen.as_str());
                                client.cas(key, expected, &value);
                            }
                            _ => {
                                client.get(key);
                            }
                        }
                        j += 1;
                    }
                });
            }
            for _ in 0..2 {
                let (cluster, stop) = (&cluster, &stop);
                s.spawn(move || {
                    let client = cluster.make_client();
                    let mut rng = rand::rng();
                    while !stop.load(Ordering::SeqCst) {
                        // "g/" .. "g0" covers the four keys, in pages of 1 to 4.
                        let entries = client.scan("g/", "g0", rng.random_range(1..=4));
                        assert!(
                            entries.windows(2).all(|w| w[0].0 < w[1].0),
                            "entries out of order: {entries:?}"
                        );
                    }
                });
            }
            thread::sleep(RUN); // the load's duration
            stop.store(true, Ordering::SeqCst);
        });
        check_linearizable(&recorder);
    });
}

/// Delivers `held` to whichever server leads now until one answers with
/// something other than "not me" or silence; that answer's bytes.
fn deliver_to_leader(cluster: &KvCluster, held: &HeldCall) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let leader = cluster.check_one_leader();
        if let Ok(bytes) = held.deliver(&cluster.end_to(leader)) {
            // Both replies start with Err = 1, so either decodes it.
            let err = DeleteReply::decode(bytes.as_slice()).map(|r| r.err);
            match err.as_deref().map(KvErr::from_wire) {
                Ok(Some(KvErr::WrongLeader | KvErr::Timeout)) => {}
                _ => return bytes,
            }
        }
        assert!(Instant::now() < deadline, "no leader took the late copy");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A Cas and a Delete each leave a copy held back; the key is then set
/// back so that deciding again would give another answer; the late copies
/// must be told what the first copy decided, and change nothing. (Two
/// clients: a session keeps the answer of its latest Delete or Cas only.)
fn late_copies_are_told_the_first_decision(restart: bool) {
    let cluster = KvCluster::new(3, false, restart.then_some(1000));
    let client = cluster.make_client();
    let deleter = cluster.make_client();
    let other = cluster.make_client();
    client.put("n", "0");
    client.put("gone", "x");

    cluster.hold_next_requests(&client);
    assert_eq!(client.cas("n", Some("0"), "1"), CasOutcome::Swapped);
    let late_cas = cluster.take_held(&client);
    cluster.hold_next_requests(&deleter);
    assert!(deleter.delete("gone"));
    let late_delete = cluster.take_held(&deleter);

    other.put("n", "0");
    other.put("gone", "back");
    if restart {
        for i in 0..20 {
            other.put("filler", &i.to_string());
        }
        assert!(
            cluster.wait_for_snapshot(Duration::from_secs(30)),
            "the servers took no snapshot"
        );
        for i in 0..3 {
            cluster.shutdown_server(i);
        }
        for i in 0..3 {
            cluster.start_server(i);
        }
    }

    let cas = CasReply::decode(deliver_to_leader(&cluster, &late_cas).as_slice()).unwrap();
    assert_eq!(KvErr::from_wire(&cas.err), Some(KvErr::Ok));
    assert!(
        cas.swapped,
        "the late Cas copy must say what the first decided"
    );
    let delete = DeleteReply::decode(deliver_to_leader(&cluster, &late_delete).as_slice()).unwrap();
    assert_eq!(
        KvErr::from_wire(&delete.err),
        Some(KvErr::Ok),
        "the late Delete copy must say the key existed"
    );
    other.check("n", "0");
    other.check("gone", "back");
}

#[test]
fn a_late_copy_of_a_cas_or_delete_is_told_what_the_first_decided() {
    run_test(|| late_copies_are_told_the_first_decision(false));
}

#[test]
fn kept_decisions_survive_a_restart_from_snapshots() {
    run_test(|| late_copies_are_told_the_first_decision(true));
}
