//! The KV store without persistence faults: 6.5840 Lab 4A (kvraft), part 1
//! — basic, speed, concurrent clients, unreliable network, concurrent
//! appends to one key, one partition, many partitions.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use clerk::ClerkConfig;
use raftkv_tests::kv_harness::{
    append_value, check_concurrent_appends, speed_test, Generic, KvCluster,
};
use raftkv_tests::raft_harness::{run_test, ELECTION_TIMEOUT};

#[test]
fn basic() {
    run_test(|| Generic::new("Test: one client (4A)", 1, 5).run());
}

/// 6.5840's TestSpeed4A: sequential appends must not wait for heartbeats.
#[test]
fn speed() {
    run_test(|| speed_test("Test: ops complete fast enough (4A)", None));
}

#[test]
fn concurrent() {
    run_test(|| Generic::new("Test: many clients (4A)", 5, 5).run());
}

#[test]
fn unreliable() {
    run_test(|| {
        Generic::new("Test: unreliable net, many clients (4A)", 5, 5)
            .unreliable()
            .run()
    });
}

/// 6.5840's TestUnreliableOneKey4A: five clients append to one key over a
/// lossy network; each one's appends appear once each, in its order.
#[test]
fn unreliable_one_key() {
    run_test(|| {
        let cluster = KvCluster::new(5, true, None);
        let client = cluster.make_client();
        eprintln!("Test: concurrent append to same key, unreliable (4A) ...");
        client.put("k", "");
        const CLIENTS: usize = 5;
        const UPTO: usize = 10;
        thread::scope(|s| {
            for c in 0..CLIENTS {
                let cluster = &cluster;
                s.spawn(move || {
                    let mine = cluster.make_client();
                    for n in 0..UPTO {
                        mine.append("k", &append_value(c, n));
                    }
                });
            }
        });
        check_concurrent_appends(&client.get("k"), &[UPTO; CLIENTS]);
        eprintln!("  ... Passed");
    });
}

/// 6.5840's TestOnePartition4A: the majority makes progress, a minority
/// holding the old leader cannot, and its clients' operations complete once
/// the partition heals.
#[test]
fn one_partition() {
    run_test(|| {
        let cluster = KvCluster::new(5, false, None);
        let client = cluster.make_client();
        client.put("1", "13");
        eprintln!("Test: progress in majority (4A) ...");
        let (p1, p2) = cluster.make_partition();
        cluster.partition(&p1, &p2);
        let majority = cluster.make_client_to(&p1);
        let minority_a = cluster.make_client_to(&p2);
        let minority_b = cluster.make_client_to(&p2);
        majority.put("1", "14");
        majority.check("1", "14");

        eprintln!("Test: no progress in minority (4A) ...");
        thread::scope(|s| {
            let (put_done, put_rx) = mpsc::channel();
            let (get_done, get_rx) = mpsc::channel();
            let a = &minority_a;
            let b = &minority_b;
            s.spawn(move || {
                a.put("1", "15");
                let _ = put_done.send(());
            });
            s.spawn(move || {
                let _ = get_done.send(b.get("1"));
            });
            // The minority must stay stuck for a whole second.
            match put_rx.recv_timeout(Duration::from_secs(1)) {
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                _ => panic!("Put in the minority completed"),
            }
            if let Ok(value) = get_rx.try_recv() {
                panic!("Get in the minority completed (read {value:?})");
            }
            majority.check("1", "14");
            majority.put("1", "16");
            majority.check("1", "16");

            eprintln!("Test: completion after heal (4A) ...");
            cluster.connect_all();
            cluster.connect_client(&minority_a, &cluster.all());
            cluster.connect_client(&minority_b, &cluster.all());
            let bound = 10 * ELECTION_TIMEOUT;
            put_rx
                .recv_timeout(bound)
                .expect("Put did not complete after the partition healed");
            get_rx
                .recv_timeout(bound)
                .expect("Get did not complete after the partition healed");
        });
        client.check("1", "15");
        eprintln!("  ... Passed");
    });
}

#[test]
fn many_partitions_one_client() {
    run_test(|| {
        Generic::new("Test: partitions, one client (4A)", 1, 5)
            .partitions()
            .run()
    });
}

#[test]
fn many_partitions_many_clients() {
    run_test(|| {
        Generic::new("Test: partitions, many clients (4A)", 5, 5)
            .partitions()
            .run()
    });
}

/// Not in 6.5840 (its clerk never gives up): an append abandoned at the
/// Clerk's deadline, sent into a minority holding the old leader, takes
/// effect at most once, and the same Clerk's later appends land exactly
/// once, in order, after the partition heals.
#[test]
fn abandoned_append_applies_at_most_once() {
    run_test(|| {
        let cluster = KvCluster::new(5, false, None);
        let client = cluster.make_client();
        client.put("k", "");
        eprintln!("Test: abandoned append applies at most once ...");
        let (p1, p2) = cluster.make_partition();
        cluster.partition(&p1, &p2);
        let impatient = cluster.make_client_with(
            &p2,
            ClerkConfig {
                deadline: Some(Duration::from_millis(500)),
                ..ClerkConfig::default()
            },
        );
        let lost = append_value(0, 0);
        let outcome = impatient.try_append("k", &lost);
        assert!(
            outcome.is_err(),
            "an append in the minority was acknowledged"
        );

        cluster.connect_all();
        for j in 1..=5 {
            impatient
                .try_append("k", &append_value(0, j))
                .expect("append after healing");
        }
        let value = client.get("k");
        assert!(
            value.matches(&lost).count() <= 1,
            "the abandoned append applied twice: {value:?}"
        );
        let rest = value.replacen(&lost, "", 1);
        let expected: String = (1..=5).map(|j| append_value(0, j)).collect();
        assert_eq!(
            rest, expected,
            "acknowledged appends lost, repeated or reordered"
        );
        eprintln!("  ... Passed");
    });
}
