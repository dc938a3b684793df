//! The KV store with snapshots: 6.5840 Lab 4B (kvraft) — InstallSnapshot,
//! bounded Raft state and snapshot size, speed, and recovery from
//! snapshots under crashes, lossy networks and partitions.

use raftkv_tests::kv_harness::{speed_test, Generic, KvCluster};
use raftkv_tests::raft_harness::run_test;

const MAX_RAFT_STATE: u64 = 1000;

/// 6.5840's TestSnapshotRPC4B: a server partitioned away while the others
/// compact their logs can only catch up through InstallSnapshot.
#[test]
fn snapshot_rpc() {
    run_test(|| {
        let cluster = KvCluster::new(3, false, Some(MAX_RAFT_STATE));
        let client = cluster.make_client();
        eprintln!("Test: InstallSnapshot RPC (4B) ...");
        client.put("a", "A");
        client.check("a", "A");

        // A bunch of puts into the majority partition.
        cluster.partition(&[0, 1], &[2]);
        {
            let majority = cluster.make_client_to(&[0, 1]);
            for i in 0..50 {
                majority.put(&i.to_string(), &i.to_string());
            }
            majority.put("b", "B");
        }
        let size = cluster.log_size();
        assert!(
            size <= 8 * MAX_RAFT_STATE,
            "logs were not trimmed ({size} > 8 × {MAX_RAFT_STATE})"
        );
        // Server 2's log ends below what both others have compacted away,
        // so only a snapshot can bring it up to date.
        let lagging = cluster.server(2).unwrap().raft().status().last_log_index;
        for i in [0, 1] {
            let compacted = cluster.server(i).unwrap().raft().status().snapshot_index;
            assert!(
                compacted > lagging,
                "server {i} compacted only through {compacted}, server 2 has {lagging}"
            );
        }

        // A majority that needs the lagging server, so it must catch up.
        cluster.partition(&[0, 2], &[1]);
        {
            let with_lagging = cluster.make_client_to(&[0, 2]);
            with_lagging.put("c", "C");
            with_lagging.put("d", "D");
            with_lagging.check("a", "A");
            with_lagging.check("b", "B");
            with_lagging.check("1", "1");
            with_lagging.check("49", "49");
        }

        // Now everybody.
        cluster.partition(&[0, 1, 2], &[]);
        client.put("e", "E");
        client.check("c", "C");
        client.check("e", "E");
        client.check("1", "1");
        eprintln!("  ... Passed");
    });
}

/// 6.5840's TestSnapshotSize4B: the Raft state stays near the threshold
/// and a one-key store's snapshot stays small.
#[test]
fn snapshot_size() {
    run_test(|| {
        const MAX_SNAPSHOT: u64 = 500;
        let cluster = KvCluster::new(3, false, Some(MAX_RAFT_STATE));
        let client = cluster.make_client();
        eprintln!("Test: snapshot size is reasonable (4B) ...");
        for _ in 0..200 {
            client.put("x", "0");
            client.check("x", "0");
            client.put("x", "1");
            client.check("x", "1");
        }
        let size = cluster.log_size();
        assert!(
            size <= 8 * MAX_RAFT_STATE,
            "logs were not trimmed ({size} > 8 × {MAX_RAFT_STATE})"
        );
        let snapshot = cluster.snapshot_size();
        assert!(snapshot > 0, "no server took a snapshot");
        assert!(
            snapshot <= MAX_SNAPSHOT,
            "snapshot too large ({snapshot} > {MAX_SNAPSHOT})"
        );
        eprintln!("  ... Passed -- Raft state {size} B, snapshot {snapshot} B");
    });
}

/// 6.5840's TestSpeed4B.
#[test]
fn snapshot_speed() {
    run_test(|| speed_test("Test: ops complete fast enough (4B)", Some(MAX_RAFT_STATE)));
}

#[test]
fn snapshot_recover() {
    run_test(|| {
        Generic::new("Test: restarts, snapshots, one client (4B)", 1, 5)
            .crash()
            .max_raft_state(MAX_RAFT_STATE)
            .run()
    });
}

#[test]
fn snapshot_recover_many_clients() {
    run_test(|| {
        Generic::new("Test: restarts, snapshots, many clients (4B)", 20, 5)
            .crash()
            .max_raft_state(MAX_RAFT_STATE)
            .run()
    });
}

#[test]
fn snapshot_unreliable() {
    run_test(|| {
        Generic::new("Test: unreliable net, snapshots, many clients (4B)", 5, 5)
            .unreliable()
            .max_raft_state(MAX_RAFT_STATE)
            .run()
    });
}

#[test]
fn snapshot_unreliable_recover() {
    run_test(|| {
        Generic::new(
            "Test: unreliable net, restarts, snapshots, many clients (4B)",
            5,
            5,
        )
        .unreliable()
        .crash()
        .max_raft_state(MAX_RAFT_STATE)
        .run()
    });
}

#[test]
fn snapshot_unreliable_recover_concurrent_partition() {
    run_test(|| {
        Generic::new(
            "Test: unreliable net, restarts, partitions, snapshots, many clients (4B)",
            5,
            5,
        )
        .unreliable()
        .crash()
        .partitions()
        .max_raft_state(MAX_RAFT_STATE)
        .run()
    });
}
