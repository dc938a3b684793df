//! Log compaction: 6.5840 Lab 3D (snapshots basic, install snapshots after
//! disconnect / unreliable / crash / unreliable+crash, crash and restart all,
//! snapshot initialization after a crash). The harness's appliers snapshot
//! every 10 entries and check that snapshots restore the right state.

use raftkv_tests::raft_harness::{random_cmd, run_test, RaftCluster, SNAPSHOT_INTERVAL};
use rand::Rng;

/// The lab's bound on persisted Raft state when snapshotting every 10 entries.
const MAX_LOG_SIZE: u64 = 2000;

/// Enough commands to probably trigger a snapshot.
fn batch_size() -> u64 {
    SNAPSHOT_INTERVAL / 2 + rand::rng().random_range(0..SNAPSHOT_INTERVAL)
}

fn snap_common(name: &str, disconnect: bool, reliable: bool, crash: bool) {
    let servers = 3;
    let cluster = RaftCluster::new(servers, reliable, true);
    cluster.begin(name);

    cluster.one(random_cmd(), servers, true);
    let mut leader1 = cluster.check_one_leader();

    for i in 0..30 {
        let (mut victim, mut sender) = ((leader1 + 1) % servers, leader1);
        if i % 3 == 1 {
            (victim, sender) = (leader1, (leader1 + 1) % servers);
        }

        if disconnect {
            cluster.disconnect(victim);
            cluster.one(random_cmd(), servers - 1, true);
        }
        if crash {
            cluster.crash1(victim);
            cluster.one(random_cmd(), servers - 1, true);
        }

        // Perhaps send enough to get a snapshot.
        for _ in 0..batch_size() {
            cluster.start(sender, random_cmd());
        }

        // Let the appliers catch up with those starts. Without failures,
        // make sure all followers have, so that no InstallSnapshot is
        // needed in the basic test.
        if disconnect || crash {
            cluster.one(random_cmd(), servers - 1, true);
        } else {
            cluster.one(random_cmd(), servers, true);
        }

        let size = cluster.log_size();
        assert!(
            size < MAX_LOG_SIZE,
            "Raft state too large: {size} bytes (limit {MAX_LOG_SIZE}) with a snapshot every {SNAPSHOT_INTERVAL} entries"
        );

        if disconnect {
            // The follower may be far behind and need a snapshot to catch up.
            cluster.connect(victim);
            cluster.one(random_cmd(), servers, true);
            leader1 = cluster.check_one_leader();
        }
        if crash {
            cluster.start1(victim);
            cluster.connect(victim);
            cluster.one(random_cmd(), servers, true);
            leader1 = cluster.check_one_leader();
        }
    }
    cluster.end();
}

#[test]
fn snapshot_basic() {
    run_test(|| snap_common("Test (3D): snapshots basic", false, true, false));
}

#[test]
fn snapshot_install() {
    run_test(|| {
        snap_common(
            "Test (3D): install snapshots (disconnect)",
            true,
            true,
            false,
        )
    });
}

#[test]
fn snapshot_install_unreliable() {
    run_test(|| {
        snap_common(
            "Test (3D): install snapshots (disconnect+unreliable)",
            true,
            false,
            false,
        )
    });
}

#[test]
fn snapshot_install_crash() {
    run_test(|| snap_common("Test (3D): install snapshots (crash)", false, true, true));
}

#[test]
fn snapshot_install_unreliable_crash() {
    run_test(|| {
        snap_common(
            "Test (3D): install snapshots (unreliable+crash)",
            false,
            false,
            true,
        )
    });
}

#[test]
fn snapshot_all_crash() {
    run_test(|| {
        let servers = 3;
        let cluster = RaftCluster::new(servers, true, true);
        cluster.begin("Test (3D): crash and restart all servers");

        cluster.one(random_cmd(), servers, true);
        for _ in 0..5 {
            // Perhaps enough to get a snapshot.
            for _ in 0..batch_size() {
                cluster.one(random_cmd(), servers, true);
            }
            let index1 = cluster.one(random_cmd(), servers, true);

            for i in 0..servers {
                cluster.crash1(i);
            }
            for i in 0..servers {
                cluster.start1(i);
                cluster.connect(i);
            }

            let index2 = cluster.one(random_cmd(), servers, true);
            assert!(index2 > index1, "index decreased from {index1} to {index2}");
        }
        cluster.end();
    });
}

#[test]
fn snapshot_init() {
    run_test(|| {
        let servers = 3;
        let cluster = RaftCluster::new(servers, true, true);
        cluster.begin("Test (3D): snapshot initialization after crash");

        cluster.one(random_cmd(), servers, true);

        // Enough ops to make a snapshot.
        for _ in 0..=SNAPSHOT_INTERVAL {
            cluster.one(random_cmd(), servers, true);
        }

        let restart_all = || {
            for i in 0..servers {
                cluster.crash1(i);
            }
            for i in 0..servers {
                cluster.start1(i);
                cluster.connect(i);
            }
        };

        restart_all();
        // A single op, to get something written back to storage.
        cluster.one(random_cmd(), servers, true);

        restart_all();
        // Another op, to trigger a bug in restoring from the snapshot.
        cluster.one(random_cmd(), servers, true);
        cluster.end();
    });
}
