//! The KV store across crashes: 6.5840 Lab 4A (kvraft), part 2 — every
//! server crashes and restarts from its persisted state between rounds,
//! alone or with lossy networks and partitions.

use raftkv_tests::kv_harness::Generic;
use raftkv_tests::raft_harness::run_test;

#[test]
fn persist_one_client() {
    run_test(|| {
        Generic::new("Test: restarts, one client (4A)", 1, 5)
            .crash()
            .run()
    });
}

#[test]
fn persist_concurrent() {
    run_test(|| {
        Generic::new("Test: restarts, many clients (4A)", 5, 5)
            .crash()
            .run()
    });
}

#[test]
fn persist_concurrent_unreliable() {
    run_test(|| {
        Generic::new("Test: unreliable net, restarts, many clients (4A)", 5, 5)
            .unreliable()
            .crash()
            .run()
    });
}

#[test]
fn persist_partition() {
    run_test(|| {
        Generic::new("Test: restarts, partitions, many clients (4A)", 5, 5)
            .crash()
            .partitions()
            .run()
    });
}

#[test]
fn persist_partition_unreliable() {
    run_test(|| {
        Generic::new(
            "Test: unreliable net, restarts, partitions, many clients (4A)",
            5,
            5,
        )
        .unreliable()
        .crash()
        .partitions()
        .run()
    });
}
