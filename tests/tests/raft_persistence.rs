//! Persistence and adversarial schedules: 6.5840 Lab 3C (persist 1–3,
//! Figure 8, unreliable agreement, Figure 8 unreliable, reliable and
//! unreliable churn).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use raftkv_tests::raft_harness::{cmd, random_cmd, run_test, value, RaftCluster, ELECTION_TIMEOUT};
use rand::Rng;

#[test]
fn persist1() {
    run_test(|| {
        let servers = 3;
        let cluster = RaftCluster::new(servers, true, false);
        cluster.begin("Test (3C): basic persistence");

        cluster.one(cmd(11), servers, true);

        // Crash and restart all.
        for i in 0..servers {
            cluster.start1(i);
        }
        for i in 0..servers {
            cluster.disconnect(i);
            cluster.connect(i);
        }
        cluster.one(cmd(12), servers, true);

        let leader1 = cluster.check_one_leader();
        cluster.disconnect(leader1);
        cluster.start1(leader1);
        cluster.connect(leader1);
        cluster.one(cmd(13), servers, true);

        let leader2 = cluster.check_one_leader();
        cluster.disconnect(leader2);
        cluster.one(cmd(14), servers - 1, true);
        cluster.start1(leader2);
        cluster.connect(leader2);

        // Wait for leader2 to catch up before restarting i3.
        cluster.wait(4, servers, None);

        let i3 = (cluster.check_one_leader() + 1) % servers;
        cluster.disconnect(i3);
        cluster.one(cmd(15), servers - 1, true);
        cluster.start1(i3);
        cluster.connect(i3);
        cluster.one(cmd(16), servers, true);
        cluster.end();
    });
}

#[test]
fn persist2() {
    run_test(|| {
        let servers = 5;
        let cluster = RaftCluster::new(servers, true, false);
        cluster.begin("Test (3C): more persistence");

        let mut index = 1;
        for _ in 0..5 {
            cluster.one(cmd(10 + index), servers, true);
            index += 1;

            let leader1 = cluster.check_one_leader();
            cluster.disconnect((leader1 + 1) % servers);
            cluster.disconnect((leader1 + 2) % servers);

            cluster.one(cmd(10 + index), servers - 2, true);
            index += 1;

            cluster.disconnect(leader1);
            cluster.disconnect((leader1 + 3) % servers);
            cluster.disconnect((leader1 + 4) % servers);

            cluster.start1((leader1 + 1) % servers);
            cluster.start1((leader1 + 2) % servers);
            cluster.connect((leader1 + 1) % servers);
            cluster.connect((leader1 + 2) % servers);

            thread::sleep(ELECTION_TIMEOUT);

            cluster.start1((leader1 + 3) % servers);
            cluster.connect((leader1 + 3) % servers);

            cluster.one(cmd(10 + index), servers - 2, true);
            index += 1;

            cluster.connect((leader1 + 4) % servers);
            cluster.connect(leader1);
        }
        cluster.one(cmd(1000), servers, true);
        cluster.end();
    });
}

#[test]
fn persist3() {
    run_test(|| {
        let servers = 3;
        let cluster = RaftCluster::new(servers, true, false);
        cluster.begin("Test (3C): partitioned leader and one follower crash, leader restarts");

        cluster.one(cmd(101), 3, true);

        let leader = cluster.check_one_leader();
        cluster.disconnect((leader + 2) % servers);

        cluster.one(cmd(102), 2, true);

        cluster.crash1(leader);
        cluster.crash1((leader + 1) % servers);
        cluster.connect((leader + 2) % servers);
        cluster.start1(leader);
        cluster.connect(leader);

        cluster.one(cmd(103), 2, true);

        cluster.start1((leader + 1) % servers);
        cluster.connect((leader + 1) % servers);

        cluster.one(cmd(104), servers, true);
        cluster.end();
    });
}

/// A pause of the kind Figure 8 tests use: mostly short, sometimes up to
/// half an election timeout, so leaders die at varied points.
fn figure8_pause() -> Duration {
    let mut rng = rand::rng();
    if rng.random_ratio(1, 10) {
        Duration::from_millis(rng.random_range(0..ELECTION_TIMEOUT.as_millis() as u64 / 2))
    } else {
        Duration::from_millis(rng.random_range(0..13))
    }
}

#[test]
fn figure8() {
    run_test(|| {
        let servers = 5;
        let cluster = RaftCluster::new(servers, true, false);
        cluster.begin("Test (3C): Figure 8");

        cluster.one(random_cmd(), 1, true);

        let mut up = servers;
        for _ in 0..1000 {
            let mut leader = None;
            for i in 0..servers {
                if cluster.start(i, random_cmd()).is_some() {
                    leader = Some(i);
                }
            }
            thread::sleep(figure8_pause());

            if let Some(leader) = leader {
                cluster.crash1(leader);
                up -= 1;
            }
            if up < 3 {
                let s = rand::random_range(0..servers);
                if cluster.raft(s).is_none() {
                    cluster.start1(s);
                    cluster.connect(s);
                    up += 1;
                }
            }
        }

        for i in 0..servers {
            if cluster.raft(i).is_none() {
                cluster.start1(i);
                cluster.connect(i);
            }
        }
        cluster.one(random_cmd(), servers, true);
        cluster.end();
    });
}

#[test]
fn unreliable_agree() {
    run_test(|| {
        let servers = 5;
        let cluster = Arc::new(RaftCluster::new(servers, false, false));
        cluster.begin("Test (3C): unreliable agreement");

        let mut clients = Vec::new();
        for iter in 1..50u64 {
            for j in 0..4u64 {
                let cluster = Arc::clone(&cluster);
                clients.push(thread::spawn(move || {
                    cluster.one(cmd(100 * iter + j), 1, true);
                }));
            }
            cluster.one(cmd(iter), 1, true);
        }

        cluster.set_reliable(true);
        for client in clients {
            client.join().expect("a client thread failed");
        }
        cluster.one(cmd(100), servers, true);
        cluster.end();
    });
}

#[test]
fn figure8_unreliable() {
    run_test(|| {
        let servers = 5;
        let cluster = RaftCluster::new(servers, false, false);
        cluster.begin("Test (3C): Figure 8 (unreliable)");

        cluster.one(cmd(rand::random_range(0..10_000)), 1, true);

        let mut up = servers;
        for iter in 0..1000 {
            if iter == 200 {
                cluster.set_long_reordering(true);
            }
            let mut leader = None;
            for i in 0..servers {
                let accepted = cluster
                    .start(i, cmd(rand::random_range(0..10_000)))
                    .is_some();
                if accepted && cluster.is_connected(i) {
                    leader = Some(i);
                }
            }
            thread::sleep(figure8_pause());

            if let Some(leader) = leader {
                if rand::random_ratio(ELECTION_TIMEOUT.as_millis() as u32 / 2, 1000) {
                    cluster.disconnect(leader);
                    up -= 1;
                }
            }
            if up < 3 {
                let s = rand::random_range(0..servers);
                if !cluster.is_connected(s) {
                    cluster.connect(s);
                    up += 1;
                }
            }
        }

        for i in 0..servers {
            if !cluster.is_connected(i) {
                cluster.connect(i);
            }
        }
        cluster.one(cmd(rand::random_range(0..10_000)), servers, true);
        cluster.end();
    });
}

/// Three clients submit random commands while servers are disconnected,
/// crashed and restarted at random; in the end every value a client saw
/// committed must be in the final, agreed log.
fn churn(unreliable: bool) {
    let servers = 5;
    let cluster = Arc::new(RaftCluster::new(servers, !unreliable, false));
    cluster.begin(if unreliable {
        "Test (3C): unreliable churn"
    } else {
        "Test (3C): churn"
    });

    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..3u64)
        .map(|me| {
            let cluster = Arc::clone(&cluster);
            let stop = Arc::clone(&stop);
            thread::spawn(move || churn_client(&cluster, &stop, me))
        })
        .collect();

    for _ in 0..20 {
        let mut rng = rand::rng();
        if rng.random_ratio(200, 1000) {
            cluster.disconnect(rng.random_range(0..servers));
        }
        if rng.random_ratio(500, 1000) {
            let i = rng.random_range(0..servers);
            if cluster.raft(i).is_none() {
                cluster.start1(i);
            }
            cluster.connect(i);
        }
        if rng.random_ratio(200, 1000) {
            let i = rng.random_range(0..servers);
            if cluster.raft(i).is_some() {
                cluster.crash1(i);
            }
        }
        // Often enough that peers rarely settle, rarely enough that they
        // can often catch up: a bit less than an election timeout.
        thread::sleep(ELECTION_TIMEOUT * 7 / 10);
    }

    thread::sleep(ELECTION_TIMEOUT);
    cluster.set_reliable(true);
    for i in 0..servers {
        if cluster.raft(i).is_none() {
            cluster.start1(i);
        }
        cluster.connect(i);
    }

    stop.store(true, Ordering::Relaxed);
    let mut values = Vec::new();
    for client in clients {
        values.extend(client.join().expect("client failed"));
    }

    thread::sleep(ELECTION_TIMEOUT);
    let last_index = cluster.one(random_cmd(), servers, true);
    let mut really = Vec::new();
    for index in 1..=last_index {
        let command = cluster
            .wait(index, servers, None)
            .expect("wait without a start term always answers");
        really.push(value(&command).expect("not an integer command"));
    }
    for v in values {
        assert!(
            really.contains(&v),
            "value {v} was seen committed but is missing from the final log"
        );
    }
    cluster.end();
}

/// One churn client: the values it saw committed at the index it got.
fn churn_client(cluster: &RaftCluster, stop: &AtomicBool, me: u64) -> Vec<u64> {
    let mut values = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let x: u64 = rand::random();
        let mut index = None;
        for i in 0..cluster.n() {
            // Try them all; maybe one of them is a leader.
            if let Some((i, _)) = cluster.start(i, cmd(x)) {
                index = Some(i);
            }
        }
        match index {
            Some(index) => {
                // Maybe the leader commits our value, maybe not; do not wait forever.
                for pause in [10, 20, 50, 100, 200] {
                    let (count, command) = cluster.n_committed(index);
                    if count > 0 {
                        if command.as_deref().and_then(value) == Some(x) {
                            values.push(x);
                        }
                        break;
                    }
                    thread::sleep(Duration::from_millis(pause));
                }
            }
            None => thread::sleep(Duration::from_millis(79 + me * 17)),
        }
    }
    values
}

#[test]
fn reliable_churn() {
    run_test(|| churn(false));
}

#[test]
fn unreliable_churn() {
    run_test(|| churn(true));
}
