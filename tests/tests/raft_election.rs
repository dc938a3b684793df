//! Leader election: 6.5840 Lab 3A (initial election, re-election after a
//! network failure, many elections with random partitions).

use std::thread;

use raftkv_tests::raft_harness::{run_test, RaftCluster, ELECTION_TIMEOUT};

#[test]
fn initial_election() {
    run_test(|| {
        let cluster = RaftCluster::new(3, true, false);
        cluster.begin("Test (3A): initial election");

        cluster.check_one_leader();

        // Let followers learn of the election, then all must agree on the term.
        thread::sleep(ELECTION_TIMEOUT / 20);
        let term1 = cluster.check_terms();
        assert!(term1 >= 1, "term is {term1}, but should be at least 1");

        // Without failures the leader and term stay put.
        thread::sleep(2 * ELECTION_TIMEOUT);
        let term2 = cluster.check_terms();
        if term1 != term2 {
            eprintln!("warning: term changed from {term1} to {term2} without failures");
        }
        cluster.check_one_leader();
        cluster.end();
    });
}

#[test]
fn re_election() {
    run_test(|| {
        let servers = 3;
        let cluster = RaftCluster::new(servers, true, false);
        cluster.begin("Test (3A): election after network failure");

        let leader1 = cluster.check_one_leader();

        // If the leader disconnects, a new one is elected.
        cluster.disconnect(leader1);
        cluster.check_one_leader();

        // The old leader rejoining must not disturb the new one.
        cluster.connect(leader1);
        let leader2 = cluster.check_one_leader();

        // Without a quorum no leader is elected.
        cluster.disconnect(leader2);
        cluster.disconnect((leader2 + 1) % servers);
        thread::sleep(2 * ELECTION_TIMEOUT);
        cluster.check_no_leader();

        // A quorum elects a leader.
        cluster.connect((leader2 + 1) % servers);
        cluster.check_one_leader();

        // The last node rejoining does not prevent a leader.
        cluster.connect(leader2);
        cluster.check_one_leader();
        cluster.end();
    });
}

#[test]
fn many_elections() {
    run_test(|| {
        let servers = 7;
        let cluster = RaftCluster::new(servers, true, false);
        cluster.begin("Test (3A): multiple elections");

        cluster.check_one_leader();
        for _ in 1..10 {
            // Disconnect up to three nodes: either the leader survives or
            // the remaining four (or more) elect a new one.
            let victims: Vec<usize> = (0..3).map(|_| rand::random_range(0..servers)).collect();
            for &i in &victims {
                cluster.disconnect(i);
            }
            cluster.check_one_leader();
            for &i in &victims {
                cluster.connect(i);
            }
        }
        cluster.check_one_leader();
        cluster.end();
    });
}
