//! A full or failing disk under a Raft node (no 6.5840 counterpart; issue
//! 10 part 4): ENOSPC or EIO on a write or an fsync stops the node, it
//! acknowledges nothing it did not sync, and after a restart (a power loss:
//! only what was synced survives) no committed entry is lost.

use std::thread;
use std::time::{Duration, Instant};

use raftkv_tests::raft_harness::{cmd, run_test, RaftCluster};

/// Which persister call fails.
#[derive(Clone, Copy, Debug)]
enum Fault {
    Append(i32),
    Sync(i32),
}

const FAULTS: [Fault; 4] = [
    Fault::Append(libc::ENOSPC),
    Fault::Append(libc::EIO),
    Fault::Sync(libc::ENOSPC),
    Fault::Sync(libc::EIO),
];

fn inject(cluster: &RaftCluster, i: usize, fault: Fault) {
    let persister = cluster.persister(i);
    match fault {
        Fault::Append(errno) => persister.fail_next_append(errno),
        Fault::Sync(errno) => persister.fail_next_sync(errno),
    }
}

/// Waits (bounded) for server i's current incarnation to stop.
fn wait_stopped(cluster: &RaftCluster, i: usize, fault: Fault) {
    let raft = cluster.raft(i).expect("server is running");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !raft.is_stopped() {
        assert!(
            Instant::now() < deadline,
            "{fault:?}: server {i} kept running after its persister failed"
        );
        thread::sleep(Duration::from_millis(10));
    }
    assert!(cluster.persister(i).is_poisoned(), "{fault:?}");
    assert!(
        !raft.get_state().1,
        "{fault:?}: a stopped node claims to lead"
    );
}

#[test]
fn a_leader_whose_disk_fails_stops_and_loses_no_committed_entry() {
    for fault in FAULTS {
        run_test(move || {
            let servers = 3;
            let cluster = RaftCluster::new(servers, true, false);
            cluster.begin(&format!("disk errors: leader, {fault:?}"));
            for c in 1..=3 {
                cluster.one(cmd(c), servers, false);
            }
            let leader = cluster.check_one_leader();
            inject(&cluster, leader, fault);
            // The leader takes the command but can never make it durable.
            let (index, _) = cluster
                .start(leader, cmd(100))
                .expect("the leader accepts a command");
            wait_stopped(&cluster, leader, fault);
            // Its own unsynced entry never counted toward a commit: whatever
            // the others decide at that index, they all agree (the applier
            // cross-checks), and the cluster goes on without it.
            cluster.one(cmd(4), servers - 1, true);
            // Restart after a power loss: it comes back with the synced
            // state, catches up, and no committed entry changed.
            cluster.start1(leader);
            cluster.connect(leader);
            cluster.one(cmd(5), servers, true);
            for c in 1..=3 {
                assert_eq!(cluster.n_committed(c).1, Some(cmd(c)), "{fault:?}");
            }
            // Whatever was decided at the failed command's index, all agree.
            assert!(cluster.n_committed(index).0 >= servers - 1, "{fault:?}");
            cluster.end();
        });
    }
}

#[test]
fn a_follower_whose_disk_fails_stops_without_acknowledging() {
    for fault in FAULTS {
        run_test(move || {
            let servers = 3;
            let cluster = RaftCluster::new(servers, true, false);
            cluster.begin(&format!("disk errors: follower, {fault:?}"));
            cluster.one(cmd(1), servers, false);
            let leader = cluster.check_one_leader();
            let follower = (leader + 1) % servers;
            let other = (leader + 2) % servers;
            // Without the third server, a commit needs the failing one.
            cluster.disconnect(other);
            inject(&cluster, follower, fault);
            let (index, _) = cluster
                .start(leader, cmd(2))
                .expect("the leader accepts a command");
            wait_stopped(&cluster, follower, fault);
            // The follower acknowledged nothing, so the entry cannot have
            // committed with only the leader's copy durable.
            thread::sleep(Duration::from_millis(500));
            assert_eq!(cluster.n_committed(index).0, 0, "{fault:?}: committed");
            cluster.connect(other);
            cluster.one(cmd(3), servers - 1, true);
            cluster.start1(follower);
            cluster.connect(follower);
            cluster.one(cmd(4), servers, true);
            assert_eq!(cluster.n_committed(1).1, Some(cmd(1)), "{fault:?}");
            cluster.end();
        });
    }
}
