//! Gets served by ReadIndex (raft's `read_index.rs`): they take no log
//! entry, and a leader cut off from the majority never answers one, even
//! while it still believes it leads.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use raftkv_tests::kv_harness::KvCluster;
use raftkv_tests::raft_harness::{run_test, test_config, ELECTION_TIMEOUT};

/// With check-quorum off, a leader cut off from the majority stays leader
/// in its own eyes indefinitely: only ReadIndex stands between its clients
/// and the value the majority has since overwritten.
#[test]
fn a_deposed_leader_never_serves_a_stale_read() {
    run_test(|| {
        let raft = raft::RaftConfig {
            check_quorum: false,
            ..test_config()
        };
        let cluster = KvCluster::with_raft_config(3, raft);
        let client = cluster.make_client();
        client.put("k", "old");
        client.check("k", "old");
        let old_leader = cluster.check_one_leader();
        let majority: Vec<usize> = cluster
            .all()
            .into_iter()
            .filter(|&i| i != old_leader)
            .collect();
        cluster.partition(&majority, &[old_leader]);
        let in_majority = cluster.make_client_to(&majority);
        in_majority.put("k", "new");
        in_majority.check("k", "new");
        let old = cluster.server(old_leader).expect("old leader is running");
        assert!(
            old.raft().get_state().1,
            "the scenario needs the cut-off leader to still believe it leads"
        );

        let cut_off = cluster.make_client_to(&[old_leader]);
        thread::scope(|s| {
            let (got_tx, got_rx) = mpsc::channel();
            let reader = &cut_off;
            s.spawn(move || {
                let _ = got_tx.send(reader.get("k"));
            });
            // Longer than the server's op timeout, so a read answered after
            // giving up on confirmation would show too.
            match got_rx.recv_timeout(Duration::from_secs(3)) {
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Ok(value) => panic!("a cut-off leader answered a Get with {value:?}"),
                Err(e) => panic!("reader thread: {e}"),
            }
            cluster.connect_all();
            cluster.connect_client(&cut_off, &cluster.all());
            let value = got_rx
                .recv_timeout(10 * ELECTION_TIMEOUT)
                .expect("the Get did not complete after the partition healed");
            assert_eq!(value, "new");
        });
    });
}

/// Reads leave the log alone: a thousand Gets on a quiet cluster add no
/// entry (beyond, at most, the one that lets a new leader serve reads).
#[test]
fn gets_take_no_log_entries() {
    run_test(|| {
        let cluster = KvCluster::new(3, false, None);
        let client = cluster.make_client();
        client.put("k", "v");
        client.check("k", "v");
        let leader = cluster.check_one_leader();
        let last_index = |i: usize| {
            cluster
                .server(i)
                .expect("running")
                .raft()
                .status()
                .last_log_index
        };
        let before = last_index(leader);
        for _ in 0..1000 {
            client.check("k", "v");
        }
        let after = last_index(leader);
        assert!(
            after <= before + 1,
            "1000 Gets grew the log from {before} to {after}"
        );
        client.check("missing", "");
    });
}
