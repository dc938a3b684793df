//! The KV store on the production stack: three KvServers over real TCP on
//! loopback with file persisters, driven by `Clerk::new(addrs)` — 6.5840's
//! kvraft scenarios have no such part; this checks that what the simulated
//! suite proves also holds over sockets, fsync and a restart.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use clerk::Clerk;
use kvserver::KvServerConfig;
use raftkv_tests::kv_harness::{append_value, check_clnt_appends, TcpCluster};
use raftkv_tests::raft_harness::run_test;

/// Appends each client thread makes.
const APPENDS: usize = 150;
const CLIENTS: usize = 4;

/// Concurrent clients append to their own keys and read them back through
/// one shared Clerk while the leader is stopped and restarted from its
/// files; every value must be exact, and the restarted node must catch up.
#[test]
fn tcp_concurrent_clients_with_restart() {
    run_test(|| {
        let dir = tempfile::tempdir().expect("a temp dir");
        let config = KvServerConfig {
            // Small enough that the run snapshots through the file persister.
            max_raft_state: Some(16 * 1024),
            ..KvServerConfig::default()
        };
        let mut cluster = TcpCluster::start(3, dir.path(), config);
        let clerk = Clerk::new(cluster.addrs());
        let progress = AtomicUsize::new(0);

        let restarted = thread::scope(|s| {
            let workers: Vec<_> = (0..CLIENTS)
                .map(|c| {
                    let (clerk, progress) = (&clerk, &progress);
                    s.spawn(move || {
                        let key = format!("key-{c}");
                        let mut expected = String::new();
                        clerk.put(&key, "").expect("put");
                        for j in 0..APPENDS {
                            let value = append_value(c, j);
                            clerk.append(&key, &value).expect("append");
                            expected.push_str(&value);
                            if j % 10 == 0 {
                                let got = clerk.get(&key).expect("get").unwrap_or_default();
                                assert_eq!(
                                    String::from_utf8_lossy(&got),
                                    expected,
                                    "client {c} read a wrong value after {j} appends"
                                );
                            }
                            progress.fetch_add(1, Ordering::Relaxed);
                        }
                    })
                })
                .collect();

            // Restart the leader once the clients are halfway.
            let deadline = Instant::now() + Duration::from_secs(60);
            while progress.load(Ordering::Relaxed) < CLIENTS * APPENDS / 2 {
                assert!(Instant::now() < deadline, "clients made no progress");
                thread::sleep(Duration::from_millis(5));
            }
            let leader = cluster
                .leader(Duration::from_secs(10))
                .expect("a leader while clients run");
            cluster.restart(leader);

            for worker in workers {
                worker
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p));
            }
            leader
        });

        for c in 0..CLIENTS {
            let value = clerk
                .get(format!("key-{c}"))
                .expect("get")
                .unwrap_or_default();
            check_clnt_appends(c, &String::from_utf8_lossy(&value), APPENDS);
        }
        // The restarted node catches up with everything the others applied.
        let target = (0..3)
            .filter_map(|i| cluster.server(i).map(|kv| kv.last_applied()))
            .max()
            .unwrap_or(0);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let applied = cluster.server(restarted).expect("running").last_applied();
            if applied >= target {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "restarted node {restarted} stuck at {applied} < {target}"
            );
            thread::sleep(Duration::from_millis(20));
        }
    });
}

/// Every node stops and restarts from its files: nothing acknowledged is lost.
#[test]
fn tcp_whole_cluster_restart_keeps_data() {
    run_test(|| {
        let dir = tempfile::tempdir().expect("a temp dir");
        let mut cluster = TcpCluster::start(3, dir.path(), KvServerConfig::default());
        let clerk = Clerk::new(cluster.addrs());
        for i in 0..20 {
            clerk.put(format!("k{i}"), format!("v{i}")).expect("put");
        }
        clerk.append("k0", "+more").expect("append");
        for i in 0..3 {
            cluster.stop(i);
        }
        for i in 0..3 {
            cluster.restart(i);
        }
        let clerk = Clerk::new(cluster.addrs());
        assert_eq!(
            clerk.get("k0").expect("get").as_deref(),
            Some(&b"v0+more"[..])
        );
        for i in 1..20 {
            let value = clerk.get(format!("k{i}")).expect("get");
            assert_eq!(value, Some(format!("v{i}").into_bytes()), "key k{i}");
        }
        assert_eq!(clerk.get("missing").expect("get"), None);
    });
}
