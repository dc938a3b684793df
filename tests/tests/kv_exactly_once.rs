//! Exactly-once under late copies (no 6.5840 counterpart: labrpc never
//! delivers a request twice). A copy of an acknowledged write, held by the
//! network and delivered after many later writes of the same client, after
//! a leader change, after every server restarted from its snapshot, or
//! after its session expired, must not apply again: inside the dedup window
//! it is answered OK, otherwise refused with ErrSessionExpired.

use std::time::{Duration, Instant};

use kvserver::KvServerConfig;
use prost::Message;
use proto::kv::PutAppendReply;
use proto::KvErr;
use raftkv_tests::kv_harness::KvCluster;
use raftkv_tests::raft_harness::run_test;
use raftkv_tests::sim::HeldCall;

/// Delivers `held` to whichever server leads now, until one answers with
/// something other than "not me" or silence; returns that answer.
fn deliver_to_leader(cluster: &KvCluster, held: &HeldCall) -> KvErr {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let leader = cluster.check_one_leader();
        if let Ok(bytes) = held.deliver(&cluster.end_to(leader)) {
            let reply = PutAppendReply::decode(bytes.as_slice()).expect("a PutAppendReply");
            match KvErr::from_wire(&reply.err) {
                Some(KvErr::WrongLeader | KvErr::Timeout) => {}
                Some(err) => return err,
                None => panic!("unknown Err {:?}", String::from_utf8_lossy(&reply.err)),
            }
        }
        assert!(Instant::now() < deadline, "no leader took the late copy");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_late_copy_of_an_acknowledged_write_is_not_applied_again() {
    run_test(|| {
        let cluster = KvCluster::new(3, false, None);
        let client = cluster.make_client();
        let window = kvserver::DEDUP_WINDOW as usize;

        // The client's first write: one copy is held back, a retry applies.
        cluster.hold_next_requests(&client);
        client.append("k", "a");
        let first = cluster.take_held(&client);

        // A leader change while the client goes on writing.
        let old_leader = cluster.check_one_leader();
        let others: Vec<usize> = (0..3).filter(|&i| i != old_leader).collect();
        cluster.partition(&others, &[old_leader]);
        for i in 0..window / 2 {
            client.put("x", &i.to_string());
        }
        let new_leader = cluster.check_one_leader();
        assert_ne!(new_leader, old_leader, "the majority elected a new leader");
        cluster.connect_all();
        for i in window / 2..window + 10 {
            client.put("x", &i.to_string());
        }

        // A write that stays inside the window: its late copy is known.
        cluster.hold_next_requests(&client);
        client.append("k", "b");
        let recent = cluster.take_held(&client);
        for i in 0..5 {
            client.put("y", &i.to_string());
        }

        assert_eq!(
            deliver_to_leader(&cluster, &first),
            KvErr::SessionExpired,
            "a copy from more than the window ago is refused"
        );
        assert_eq!(
            deliver_to_leader(&cluster, &recent),
            KvErr::Ok,
            "a copy inside the window is answered as done"
        );
        client.check("k", "ab");
        client.check("x", &(window + 9).to_string());
    });
}

#[test]
fn sessions_survive_a_restart_from_snapshots() {
    run_test(|| {
        let cluster = KvCluster::new(3, false, Some(1000));
        let client = cluster.make_client();
        let window = kvserver::DEDUP_WINDOW as usize;
        cluster.hold_next_requests(&client);
        client.append("k", "a");
        let first = cluster.take_held(&client);
        for i in 0..window + 10 {
            client.put("x", &i.to_string());
        }
        cluster.hold_next_requests(&client);
        client.append("k", "b");
        let recent = cluster.take_held(&client);
        assert!(
            cluster.wait_for_snapshot(Duration::from_secs(30)),
            "the servers took no snapshot"
        );

        // Every server forgets all but what it persisted.
        for i in 0..3 {
            cluster.shutdown_server(i);
        }
        for i in 0..3 {
            cluster.start_server(i);
        }
        assert_eq!(deliver_to_leader(&cluster, &first), KvErr::SessionExpired);
        assert_eq!(deliver_to_leader(&cluster, &recent), KvErr::Ok);
        client.check("k", "ab");
    });
}

#[test]
fn an_expired_sessions_late_write_is_refused() {
    run_test(|| {
        let ttl = Duration::from_millis(500);
        let cluster = KvCluster::with_kv_config(
            3,
            KvServerConfig {
                session_ttl: ttl,
                ..KvServerConfig::default()
            },
        );
        let idle = cluster.make_client();
        let busy = cluster.make_client();
        idle.append("k", "a");
        cluster.hold_next_requests(&idle);
        idle.append("k", "b");
        let late = cluster.take_held(&idle);

        // Log time moves only with entries: let the wall clock pass the TTL,
        // then another client's write carries a stamp past it.
        std::thread::sleep(ttl + Duration::from_millis(100));
        busy.put("other", "v");
        assert_eq!(
            deliver_to_leader(&cluster, &late),
            KvErr::SessionExpired,
            "the idle client's session expired"
        );
        idle.check("k", "ab");
        // The busy client's session lives on; the idle Clerk renews its own.
        busy.put("other", "w");
        idle.append("k", "c");
        idle.check("k", "abc");
    });
}
