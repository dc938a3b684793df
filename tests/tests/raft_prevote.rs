//! Pre-vote and check-quorum (§9.6 of Ongaro's thesis), beyond 6.5840 Lab 3:
//! a returning follower does not depose a healthy leader, a leader cut off
//! from the majority steps down, and a node that lost only the leader does
//! not disrupt the others.

use std::thread;
use std::time::{Duration, Instant};

use raftkv_tests::raft_harness::{cmd, run_test, test_config, RaftCluster, ELECTION_TIMEOUT};

/// Long enough for an isolated node to time out several times.
const ISOLATION: Duration = Duration::from_secs(3);

#[test]
fn partitioned_follower_rejoins_without_disruption() {
    run_test(|| {
        let servers = 3;
        let cluster = RaftCluster::new(servers, true, false);
        cluster.begin("Pre-vote: a partitioned follower rejoins without disruption");

        cluster.one(cmd(1), servers, false);
        let mut attempts = 0;
        loop {
            attempts += 1;
            let leader = cluster.check_one_leader();
            let term = cluster.check_terms();
            let follower = (leader + 1) % servers;

            cluster.disconnect(follower);
            cluster.one(cmd(2), servers - 1, true);
            thread::sleep(ISOLATION);

            // Pre-vote: the isolated node never wins a pre-vote, so it never
            // raises its term.
            let (isolated_term, isolated_leader) = cluster.state(follower).expect("running");
            assert!(!isolated_leader, "an isolated follower became leader");
            assert_eq!(
                isolated_term, term,
                "the isolated follower raised its term from {term} to {isolated_term}"
            );

            if cluster.state(leader) != Some((term, true)) {
                // The majority changed leaders while the follower was away
                // (a load hiccup, not the rejoin): try again.
                cluster.connect(follower);
                assert!(attempts < 3, "the leader kept changing without failures");
                continue;
            }

            cluster.connect(follower);
            cluster.one(cmd(3), servers, true);
            thread::sleep(ELECTION_TIMEOUT);
            assert_eq!(
                cluster.state(leader),
                Some((term, true)),
                "the rejoining follower disturbed leader {leader} of term {term}"
            );
            assert_eq!(cluster.check_terms(), term);
            break;
        }
        cluster.end();
    });
}

#[test]
fn leader_without_quorum_steps_down() {
    run_test(|| {
        let servers = 5;
        let cluster = RaftCluster::new(servers, true, false);
        cluster.begin("Check-quorum: a leader cut off from the majority steps down");

        cluster.one(cmd(1), servers, false);
        let old = cluster.check_one_leader();
        let (old_term, _) = cluster.state(old).expect("running");

        // The old leader keeps one follower; the other three form a majority.
        let minority = [old, (old + 1) % servers];
        let majority: Vec<usize> = (2..5).map(|k| (old + k) % servers).collect();
        cluster.partition(&[&minority, &majority]);
        let cut_at = Instant::now();

        // An entry the minority cannot commit.
        let (stranded_index, _) = cluster
            .start(old, cmd(2))
            .expect("a leader cut off a moment ago still takes commands");

        let config = test_config();
        let bound = 2 * config.election_timeout_max + ELECTION_TIMEOUT / 2;
        while cluster.state(old).is_some_and(|(_, leader)| leader) {
            assert!(
                cut_at.elapsed() < bound,
                "leader {old} still leads {:?} after losing its quorum (bound {bound:?})",
                cut_at.elapsed()
            );
            thread::sleep(Duration::from_millis(10));
        }
        println!("  old leader stepped down after {:?}", cut_at.elapsed());

        // The majority elects a leader of its own and makes progress.
        let new = cluster.check_one_leader();
        assert!(
            majority.contains(&new),
            "leader {new} is not in the majority"
        );
        let (new_term, _) = cluster.state(new).expect("running");
        assert!(
            new_term > old_term,
            "new leader's term {new_term} <= {old_term}"
        );
        cluster.one(cmd(3), majority.len(), true);
        for &i in &minority {
            let (_, leader) = cluster.state(i).expect("running");
            assert!(!leader, "server {i} leads in the minority");
        }

        // Healed, everyone agrees, and the stranded entry is gone.
        cluster.heal();
        let index = cluster.one(cmd(4), servers, true);
        let (_, at) = cluster.n_committed(stranded_index);
        assert_ne!(at, Some(cmd(2)), "an entry without a majority committed");
        assert!(index >= 3);
        cluster.end();
    });
}

#[test]
fn node_cut_from_leader_only_does_not_disrupt() {
    run_test(|| {
        let servers = 3;
        let cluster = RaftCluster::new(servers, true, false);
        cluster.begin("Pre-vote: a node that lost only the leader does not disrupt");

        cluster.one(cmd(1), servers, false);
        let leader = cluster.check_one_leader();
        let term = cluster.check_terms();
        let cut = (leader + 1) % servers;

        // `cut` hears nobody's heartbeats but can still reach the third
        // server, whose log is no newer than its own (no commands now): only
        // the third server's recent contact with the leader (the leader
        // lease of pre-vote) stops it from helping `cut` to an election.
        cluster.cut_link(leader, cut);
        thread::sleep(ISOLATION);

        assert_eq!(
            cluster.state(leader),
            Some((term, true)),
            "a node cut off from leader {leader} only disrupted it (term was {term})"
        );
        let (cut_term, _) = cluster.state(cut).expect("running");
        assert_eq!(cut_term, term, "the cut-off node raised its term");

        cluster.heal_link(leader, cut);
        cluster.one(cmd(2), servers, true);
        assert_eq!(cluster.state(leader), Some((term, true)));
        cluster.end();
    });
}
