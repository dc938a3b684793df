//! Leadership transfer (Raft thesis §3.10, beyond 6.5840): the leader hands
//! over to a chosen voter without an election timeout, brings a lagging
//! target up to date first, refuses commands meanwhile, and gives up (and
//! leads on) when the target cannot take over.

use std::thread;
use std::time::{Duration, Instant};

use raft::{StartError, TransferError};
use raftkv_tests::raft_harness::{cmd, run_test, RaftCluster};

#[test]
fn a_transfer_hands_over_in_one_term() {
    run_test(|| {
        let cluster = RaftCluster::new(3, true, false);
        cluster.begin("Transfer: the leader hands over to a follower");
        cluster.one(cmd(1), 3, false);
        let old = cluster.check_one_leader();
        let target = (old + 1) % 3;
        let term = cluster.check_terms();
        let started = Instant::now();
        let result = cluster.raft(old).unwrap().transfer_leadership(target);
        assert_eq!(result, Ok(()));
        // Far less than an election timeout of silence.
        assert!(
            started.elapsed() < Duration::from_millis(300),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(cluster.state(target), Some((term + 1, true)));
        cluster.one(cmd(2), 3, true);
        assert_eq!(cluster.check_one_leader(), target);
        cluster.end();
    });
}

#[test]
fn a_lagging_target_is_brought_up_to_date_first() {
    run_test(|| {
        let cluster = RaftCluster::new(3, true, false);
        cluster.begin("Transfer: to a follower that lags");
        cluster.one(cmd(0), 3, false);
        let old = cluster.check_one_leader();
        let target = (old + 1) % 3;
        cluster.disconnect(target);
        for i in 1..30 {
            cluster.one(cmd(i), 2, true);
        }
        cluster.connect(target);
        let result = cluster.raft(old).unwrap().transfer_leadership(target);
        assert_eq!(result, Ok(()));
        // It could only win with every committed entry (§5.4.1).
        let status = cluster.raft(target).unwrap().status();
        assert!(status.last_log_index >= 30, "{status:?}");
        cluster.one(cmd(100), 3, true);
        assert_eq!(cluster.check_one_leader(), target);
        cluster.end();
    });
}

#[test]
fn a_dead_target_makes_the_leader_give_up_and_lead_on() {
    run_test(|| {
        let cluster = RaftCluster::new(3, true, false);
        cluster.begin("Transfer: the target dies mid-transfer");
        cluster.one(cmd(1), 3, false);
        let old = cluster.check_one_leader();
        let target = (old + 1) % 3;
        let term = cluster.check_terms();
        cluster.crash1(target);
        let raft = cluster.raft(old).unwrap();
        let transfer = {
            let raft = raft.clone();
            thread::spawn(move || raft.transfer_leadership(target))
        };
        // Meanwhile the leader takes no commands (it may take a few before
        // the transfer begins).
        let refused = loop {
            match raft.try_start(cmd(2)) {
                Err(StartError::Transferring) => break true,
                Ok(_) if !transfer.is_finished() => thread::sleep(Duration::from_millis(1)),
                other => break matches!(other, Err(StartError::Transferring)),
            }
        };
        assert!(refused, "the leader took commands while handing over");
        let result = transfer.join().unwrap();
        assert!(
            matches!(result, Err(TransferError::TimedOut(t, _)) if t == target),
            "{result:?}"
        );
        // The old leader still leads, in the same term, and takes commands again.
        assert_eq!(cluster.state(old), Some((term, true)));
        cluster.one(cmd(3), 2, true);
        cluster.start1(target);
        cluster.connect(target);
        cluster.one(cmd(4), 3, true);
        cluster.end();
    });
}

#[test]
fn only_voters_can_be_handed_leadership() {
    run_test(|| {
        let cluster = RaftCluster::with_voters(4, 3, true, false);
        cluster.begin("Transfer: refused to a learner");
        cluster.one(cmd(1), 3, false);
        cluster.change(raft::ConfChange::AddLearner {
            id: 3,
            address: "server-3:1".into(),
        });
        let leader = cluster.check_one_leader();
        let result = cluster.raft(leader).unwrap().transfer_leadership(3);
        assert_eq!(result, Err(TransferError::NotAVoter(3)));
        cluster.one(cmd(2), 4, true);
        cluster.end();
    });
}
