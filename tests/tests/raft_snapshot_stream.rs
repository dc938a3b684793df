//! Streamed InstallSnapshot (beyond Lab 3D): a snapshot many times the
//! network's message limit still catches a follower up, chunk by chunk, and
//! so it does when the leader or the follower crashes in the middle of the
//! transfer. No partial snapshot is ever installed: the harness's appliers
//! decode and check every snapshot they are handed, and a test fails on the
//! first bad one.

use raft::RaftConfig;
use raftkv_tests::raft_harness::{random_bytes, random_cmd, run_test, test_config, RaftCluster};
use std::time::{Duration, Instant};

/// The simulated network refuses requests over this size, as a real RPC
/// channel refuses frames over its limit.
const MESSAGE_LIMIT: usize = 16 << 10;
/// Each command adds this much to the harness's snapshot (which holds every
/// command applied so far).
const COMMAND_BYTES: usize = 512;
const CHUNK_BYTES: usize = 1 << 10;

fn cluster(reliable: bool) -> RaftCluster {
    let config = RaftConfig {
        snapshot_chunk_bytes: CHUNK_BYTES,
        // AppendEntries must fit the limit too.
        max_bytes_per_append: MESSAGE_LIMIT / 2,
        ..test_config()
    };
    let cluster = RaftCluster::with_config(3, reliable, true, config);
    cluster.net().set_max_message_bytes(MESSAGE_LIMIT);
    cluster
}

/// Commits `n` large commands on the `servers` connected ones, so the
/// snapshots grow to `n * COMMAND_BYTES`.
fn fill(cluster: &RaftCluster, n: usize, servers: usize) {
    for _ in 0..n {
        cluster.one(random_bytes(COMMAND_BYTES), servers, true);
    }
}

fn snapshot_index(cluster: &RaftCluster, i: usize) -> u64 {
    cluster.raft(i).map_or(0, |r| r.status().snapshot_index)
}

/// Waits until server `i` has received `calls` more RPCs than `since`:
/// some chunks of a transfer that takes far longer than that.
fn wait_for_calls(cluster: &RaftCluster, i: usize, since: u64, calls: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while cluster.rpc_count(i) < since + calls {
        assert!(
            Instant::now() < deadline,
            "server {i} received no transfer after it was reconnected"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_snapshot_larger_than_a_message_catches_a_follower_up() {
    run_test(|| {
        let cluster = cluster(true);
        cluster.begin("Streamed snapshot: a follower catches up through chunks");
        let leader = cluster.check_one_leader();
        let victim = (leader + 1) % 3;
        cluster.disconnect(victim);
        fill(&cluster, 200, 2);
        let before = snapshot_index(&cluster, victim);
        cluster.connect(victim);
        cluster.one(random_cmd(), 3, true);
        assert!(
            snapshot_index(&cluster, victim) > before,
            "the follower caught up without a snapshot"
        );
        cluster.end();
    });
}

/// A follower whose data was wiped (an operator's mistake, or a new disk)
/// comes back empty: the leader, which knew it had acknowledged entries,
/// must send them all again, through a snapshot.
fn wiped_follower_catches_up(snapshots: bool) {
    let cluster = RaftCluster::with_config(3, true, snapshots, test_config());
    cluster.begin("A follower whose data was wiped catches up");
    for _ in 0..40 {
        cluster.one(random_cmd(), 3, true);
    }
    let leader = cluster.check_one_leader();
    let victim = (leader + 1) % 3;
    cluster.wipe(victim);
    cluster.start1(victim);
    cluster.connect(victim);
    // The same leader stays: no election resets what it knows.
    for _ in 0..5 {
        cluster.one(random_cmd(), 3, true);
    }
    assert_eq!(cluster.check_one_leader(), leader);
    cluster.end();
}

#[test]
fn a_wiped_follower_catches_up_from_the_log() {
    run_test(|| wiped_follower_catches_up(false));
}

#[test]
fn a_wiped_follower_catches_up_through_a_snapshot() {
    run_test(|| wiped_follower_catches_up(true));
}

/// Reconnects a follower that needs a snapshot of about 300 KiB (300
/// chunks on a network that delays each request), waits until a few
/// chunks are through, and crashes the leader or the follower mid-transfer.
fn crash_mid_transfer(name: &str, crash_leader: bool) {
    let cluster = cluster(true);
    cluster.begin(name);
    let leader = cluster.check_one_leader();
    let victim = (leader + 1) % 3;
    cluster.disconnect(victim);
    fill(&cluster, 600, 2);
    let before = snapshot_index(&cluster, victim);
    // Requests now wait up to 26 ms each: the transfer takes seconds.
    cluster.set_reliable(false);
    let calls = cluster.rpc_count(victim);
    cluster.connect(victim);
    wait_for_calls(&cluster, victim, calls, 8);
    assert_eq!(
        snapshot_index(&cluster, victim),
        before,
        "the transfer finished before the crash"
    );
    if crash_leader {
        cluster.crash1(leader);
        // The survivors elect `other` (the victim's log is behind), whose
        // own snapshot reaches the victim from offset 0. Nothing needs the
        // slow network any more: on a loaded machine, 300 chunks of up to
        // 26 ms each, with drops, can outlast `one`'s 10 s.
        cluster.set_reliable(true);
        cluster.one(random_cmd(), 2, true);
        assert!(snapshot_index(&cluster, victim) > before);
        cluster.start1(leader);
        cluster.connect(leader);
    } else {
        cluster.crash1(victim);
        cluster.one(random_cmd(), 2, true);
        cluster.set_reliable(true);
        cluster.start1(victim);
        cluster.connect(victim);
    }
    cluster.one(random_cmd(), 3, true);
    assert!(snapshot_index(&cluster, victim) > before);
    cluster.end();
}

#[test]
fn the_leader_crashes_mid_transfer() {
    run_test(|| crash_mid_transfer("Streamed snapshot: the leader crashes mid-transfer", true));
}

#[test]
fn the_follower_crashes_mid_transfer() {
    run_test(|| {
        crash_mid_transfer(
            "Streamed snapshot: the follower crashes mid-transfer",
            false,
        )
    });
}
