//! Membership changes (Raft thesis ch. 4, beyond 6.5840): learners that
//! catch up and are promoted, removals of followers and of the leader,
//! changes across partitions and crashes, and a removed node that must
//! not disturb the cluster it left.

use std::thread;
use std::time::{Duration, Instant};

use raft::{ChangeError, ConfChange};
use raftkv_tests::raft_harness::{cmd, run_test, RaftCluster, ELECTION_TIMEOUT};

fn add_learner(id: usize) -> ConfChange {
    ConfChange::AddLearner {
        id,
        address: format!("server-{id}:1"),
    }
}

/// Waits (bounded) until `check` holds; fails the test with `what` if not.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < Duration::from_secs(10), "never: {what}");
        thread::sleep(Duration::from_millis(20));
    }
}

/// Starts `command` on the leader and checks that within `wait` nobody
/// applies it (no majority of voters can be reached).
fn assert_not_committed(cluster: &RaftCluster, leader: usize, command: Vec<u8>, wait: Duration) {
    let (index, _) = cluster
        .start(leader, command)
        .expect("the leader accepts the command");
    thread::sleep(wait);
    assert_eq!(
        cluster.n_committed(index).0,
        0,
        "index {index} committed without a majority of voters"
    );
}

#[test]
fn learner_catches_up_and_is_promoted() {
    run_test(|| {
        let cluster = RaftCluster::with_voters(4, 3, true, false);
        cluster.begin("Membership: a learner catches up and is promoted");
        cluster.one(cmd(1), 3, false);
        cluster.change(add_learner(3));
        let leader = cluster.check_one_leader();
        let config = cluster.configuration(leader).unwrap();
        assert!(config.is_learner(3), "{config}");
        // The learner receives and applies the log.
        cluster.one(cmd(2), 4, true);
        assert!(cluster.configuration(3).unwrap().is_learner(3));

        cluster.promote(3);
        eventually("server 3 knows it votes", || {
            cluster.configuration(3).is_some_and(|c| c.is_voter(3))
        });
        // Four voters: a majority is three. Two of them answer: no commit.
        let leader = cluster.check_one_leader();
        let followers: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
        cluster.disconnect(followers[0]);
        cluster.one(cmd(3), 3, true);
        cluster.disconnect(followers[1]);
        if leader != 3 {
            assert_not_committed(&cluster, leader, cmd(4), ELECTION_TIMEOUT / 2);
        }
        cluster.connect(followers[0]);
        cluster.connect(followers[1]);
        cluster.one(cmd(5), 4, true);
        cluster.end();
    });
}

#[test]
fn a_learner_never_counts_and_never_campaigns() {
    run_test(|| {
        let cluster = RaftCluster::with_voters(4, 3, true, false);
        cluster.begin("Membership: a learner neither counts toward a majority nor campaigns");
        cluster.one(cmd(1), 3, false);
        cluster.change(add_learner(3));
        cluster.one(cmd(2), 4, true);
        let leader = cluster.check_one_leader();
        let followers: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
        // Leader and learner alone: two of four servers, one of three voters.
        cluster.disconnect(followers[0]);
        cluster.disconnect(followers[1]);
        assert_not_committed(&cluster, leader, cmd(3), ELECTION_TIMEOUT / 2);
        // The learner alone never becomes leader, however long it waits.
        cluster.disconnect(leader);
        let (term, _) = cluster.state(3).unwrap();
        thread::sleep(2 * ELECTION_TIMEOUT);
        assert_eq!(
            cluster.state(3),
            Some((term, false)),
            "the learner campaigned"
        );
        for i in 0..3 {
            cluster.connect(i);
        }
        cluster.one(cmd(4), 4, true);
        cluster.end();
    });
}

#[test]
fn removing_a_follower_shrinks_the_majority_and_stops_it() {
    run_test(|| {
        let cluster = RaftCluster::with_voters(3, 3, true, false);
        cluster.begin("Membership: remove a follower");
        cluster.one(cmd(1), 3, false);
        let leader = cluster.check_one_leader();
        let gone = (leader + 1) % 3;
        let stays = (leader + 2) % 3;
        cluster.change(ConfChange::Remove { id: gone });
        let reason = cluster
            .wait_stopped(gone, 2 * ELECTION_TIMEOUT)
            .expect("the removed follower stops");
        assert!(reason.contains("removed from the cluster"), "{reason}");
        cluster.one(cmd(2), 2, true);
        // Two voters left: both are needed.
        cluster.disconnect(stays);
        assert_not_committed(&cluster, leader, cmd(3), ELECTION_TIMEOUT / 2);
        cluster.connect(stays);
        cluster.one(cmd(4), 2, true);
        cluster.end();
    });
}

#[test]
fn removing_the_leader_hands_over_to_the_rest() {
    run_test(|| {
        let cluster = RaftCluster::with_voters(3, 3, true, false);
        cluster.begin("Membership: remove the leader");
        cluster.one(cmd(1), 3, false);
        let old = cluster.check_one_leader();
        cluster.change(ConfChange::Remove { id: old });
        let reason = cluster
            .wait_stopped(old, ELECTION_TIMEOUT)
            .expect("the removed leader stops");
        assert!(reason.contains("removed from the cluster"), "{reason}");
        cluster.disconnect(old);
        let leader = cluster.check_one_leader();
        assert_ne!(leader, old);
        cluster.one(cmd(2), 2, true);
        let config = cluster.configuration(leader).unwrap();
        assert_eq!(config.voters().collect::<Vec<_>>().len(), 2, "{config}");
        assert!(!config.contains(old));
        cluster.end();
    });
}

#[test]
fn a_change_in_a_minority_partition_never_commits_and_is_undone() {
    run_test(|| {
        let cluster = RaftCluster::with_voters(6, 5, true, false);
        cluster.begin("Membership: a change proposed by a partitioned leader");
        cluster.one(cmd(1), 5, false);
        let old = cluster.check_one_leader();
        let mate = (old + 1) % 5;
        let majority: Vec<usize> = (0..5).filter(|&i| i != old && i != mate).collect();
        cluster.partition(&[&[old, mate, 5], &majority]);
        let stale = cluster.raft(old).unwrap();
        let result = stale.change_membership(&add_learner(5), ELECTION_TIMEOUT);
        assert!(
            matches!(
                result,
                Err(ChangeError::Timeout(_) | ChangeError::NotLeader | ChangeError::NotReady)
            ),
            "a minority committed a change: {result:?}"
        );
        // The majority goes on, and makes its own change.
        eventually("the majority elects a leader", || {
            majority
                .iter()
                .any(|&i| cluster.state(i).is_some_and(|s| s.1))
        });
        let leader = *majority
            .iter()
            .find(|&&i| cluster.state(i).is_some_and(|s| s.1))
            .unwrap();
        let changed = cluster
            .raft(leader)
            .unwrap()
            .change_membership(&ConfChange::Remove { id: mate }, Duration::from_secs(5));
        assert!(changed.is_ok(), "{changed:?}");
        cluster.heal();
        // The old leader's uncommitted entry is replaced: everyone ends with
        // the majority's configuration, without learner 5.
        for i in majority.iter().copied().chain([old]) {
            eventually("a server takes the majority's configuration", || {
                cluster
                    .configuration(i)
                    .is_some_and(|c| !c.contains(mate) && !c.contains(5))
            });
        }
        cluster.one(cmd(2), 4, true);
        cluster.end();
    });
}

#[test]
fn a_leader_crash_in_the_middle_of_a_change_leaves_one_configuration() {
    run_test(|| {
        let cluster = RaftCluster::with_voters(4, 3, true, false);
        cluster.begin("Membership: the leader crashes in the middle of a change");
        cluster.one(cmd(1), 3, false);
        let old = cluster.check_one_leader();
        let raft = cluster.raft(old).unwrap();
        // Propose, then crash before the change can be known committed.
        let _ = raft.propose_change(&add_learner(3));
        cluster.crash1(old);
        let leader = cluster.check_one_leader();
        assert_ne!(leader, old);
        cluster.one(cmd(2), 2, true);
        // Whatever survived, the new leader can make the next change.
        let (config, _) = cluster.raft(leader).unwrap().configuration();
        if !config.contains(3) {
            cluster.change(add_learner(3));
        }
        // The learner has caught up once it applied this (with two voters).
        cluster.one(cmd(21), 3, true);
        cluster.promote(3);
        cluster.start1(old);
        cluster.connect(old);
        cluster.one(cmd(3), 4, true);
        for i in 0..4 {
            eventually("every server ends with the same configuration", || {
                cluster
                    .configuration(i)
                    .is_some_and(|c| c.voters().count() == 4)
            });
        }
        cluster.end();
    });
}

#[test]
fn a_learner_far_behind_gets_a_snapshot() {
    run_test(|| {
        let cluster = RaftCluster::with_voters(4, 3, true, true);
        cluster.begin("Membership: a new learner catches up through a snapshot");
        for i in 0..35 {
            cluster.one(cmd(i), 3, true);
        }
        cluster.change(add_learner(3));
        cluster.one(cmd(100), 4, true);
        let status = cluster.raft(3).unwrap().status();
        assert!(status.snapshot_index > 0, "{status:?}");
        // A restart recovers the configuration from snapshot and log.
        cluster.start1(3);
        cluster.connect(3);
        cluster.one(cmd(101), 4, true);
        assert!(cluster.configuration(3).unwrap().is_learner(3));
        cluster.promote(3);
        cluster.one(cmd(102), 4, true);
        cluster.end();
    });
}

#[test]
fn promoting_a_lagging_learner_is_refused() {
    run_test(|| {
        let cluster = RaftCluster::with_voters(4, 3, true, false);
        cluster.begin("Membership: a lagging learner is not promoted");
        cluster.one(cmd(0), 3, true);
        cluster.disconnect(3);
        cluster.change(add_learner(3));
        let result = cluster.try_change(&ConfChange::Promote { id: 3 });
        assert!(
            matches!(result, Err(ChangeError::Lagging { id: 3, .. })),
            "{result:?}"
        );
        cluster.connect(3);
        cluster.one(cmd(1), 4, true);
        cluster.promote(3);
        cluster.end();
    });
}

#[test]
fn a_removed_node_cut_off_and_healed_deposes_no_one() {
    run_test(|| {
        let cluster = RaftCluster::with_voters(3, 3, true, false);
        cluster.begin("Membership: a removed node that never heard of it returns");
        cluster.one(cmd(1), 3, false);
        let leader = cluster.check_one_leader();
        let gone = (leader + 1) % 3;
        cluster.disconnect(gone);
        cluster.change(ConfChange::Remove { id: gone });
        cluster.one(cmd(2), 2, true);
        // Cut off, it timed out many times; back, it must not win anyone over.
        thread::sleep(2 * ELECTION_TIMEOUT);
        let (term, _) = cluster.state(leader).unwrap();
        cluster.connect(gone);
        thread::sleep(3 * ELECTION_TIMEOUT);
        assert_eq!(
            cluster.state(leader),
            Some((term, true)),
            "the removed node disturbed the leader"
        );
        cluster.one(cmd(3), 2, true);
        cluster.end();
    });
}

#[test]
fn check_quorum_counts_voters_not_learners() {
    run_test(|| {
        let cluster = RaftCluster::with_voters(5, 3, true, false);
        cluster.begin("Membership: a leader that hears only learners steps down");
        cluster.one(cmd(1), 3, false);
        cluster.change(add_learner(3));
        cluster.change(add_learner(4));
        cluster.one(cmd(2), 5, true);
        let leader = cluster.check_one_leader();
        let voters: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
        // Three of five servers, but one of three voters.
        cluster.partition(&[&[leader, 3, 4], &voters]);
        let (term, _) = cluster.state(leader).unwrap();
        eventually("the cut-off leader steps down", || {
            cluster
                .state(leader)
                .is_some_and(|(_, is_leader)| !is_leader)
        });
        // The two voters elect one of themselves; learners never lead.
        eventually("the voters elect a leader", || {
            voters
                .iter()
                .any(|&v| cluster.state(v).is_some_and(|(t, l)| l && t > term))
        });
        assert!(!cluster.state(3).unwrap().1 && !cluster.state(4).unwrap().1);
        cluster.heal();
        cluster.one(cmd(3), 5, true);
        cluster.end();
    });
}
