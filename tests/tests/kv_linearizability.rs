//! Linearizability of the KV store under every fault at once: 6.5840's
//! TestPersistPartitionUnreliableLinearizable4A and
//! TestSnapshotUnreliableRecoverConcurrentPartitionLinearizable4B — 15
//! clients on shared random keys, 7 servers, lossy network, partitions,
//! crashes (and snapshots), with the whole history checked.

use raftkv_tests::kv_harness::Generic;
use raftkv_tests::raft_harness::run_test;

#[test]
fn persist_partition_unreliable_linearizable() {
    run_test(|| {
        Generic::new(
            "Test: unreliable net, restarts, partitions, random keys, many clients (4A)",
            15,
            7,
        )
        .unreliable()
        .crash()
        .partitions()
        .linearizable()
        .run()
    });
}

#[test]
fn snapshot_unreliable_recover_concurrent_partition_linearizable() {
    run_test(|| {
        Generic::new(
            "Test: unreliable net, restarts, partitions, snapshots, random keys, many clients (4B)",
            15,
            7,
        )
        .unreliable()
        .crash()
        .partitions()
        .max_raft_state(1000)
        .linearizable()
        .run()
    });
}
