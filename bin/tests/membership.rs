//! Membership changes and leadership transfer on real processes, driven
//! exactly as the operator contract of issue 11 says: `kvctl member
//! add-learner`, `raft-node --join`, `kvctl member promote`, `kvctl member
//! remove`, `kvctl member list`, and SIGTERM of a leader.

use std::fs::File;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clerk::{Clerk, ClerkConfig};
use raftkv_bin::local_cluster::LocalCluster;
use raftkv_bin::status;

const RAFT_NODE: &str = env!("CARGO_BIN_EXE_raft-node");
const KVCTL: &str = env!("CARGO_BIN_EXE_kvctl");
const CALLER: &str = env!("CARGO_BIN_EXE_caller");

/// A process the test started, killed if the test ends early.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn kvctl(config: &Path, args: &[&str]) -> Output {
    Command::new(KVCTL)
        .arg("-f")
        .arg(config)
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs kvctl until it exits 0 (a learner may lag for a moment), at most 30 s.
fn kvctl_until_ok(config: &Path, args: &[&str]) -> Output {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = kvctl(config, args);
        if out.status.success() {
            return out;
        }
        assert!(
            Instant::now() < deadline,
            "kvctl {args:?} kept failing: {}",
            text(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn wait_for_leader(addrs: &[std::net::SocketAddr]) -> (usize, u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let statuses = status::query_all(addrs, Duration::from_millis(500));
        if let Some(leader) = status::leader(&statuses) {
            let term = statuses[leader].status.as_ref().map_or(0, |s| s.term);
            return (leader, term);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("no leader within 20 s")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_node_is_replaced_under_load_and_every_acknowledged_write_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("cluster.conf");
    let mut cluster = LocalCluster::create(
        3,
        &config,
        dir.path(),
        Path::new(RAFT_NODE),
        vec!["--max-raft-state".into(), "20000".into()],
    )
    .unwrap();
    cluster.start_all().unwrap();
    wait_for_leader(&cluster.addrs());

    // CONFIG2 = CONFIG plus node 3: clients use it from the start, since
    // node 3 may come to lead (a client that cannot reach the leader waits).
    let port = free_port();
    let config2 = dir.path().join("cluster2.conf");
    let mut text2 = std::fs::read_to_string(&config).unwrap();
    text2.push_str(&format!("node3ip=127.0.0.1\nnode3port={port}\n"));
    std::fs::write(&config2, text2).unwrap();
    let mut addrs = cluster.addrs();
    addrs.push(format!("127.0.0.1:{port}").parse().unwrap());

    // Load: `caller` (Put then checked Get) and a writer that records acks.
    let caller = Guard(
        Command::new(CALLER)
            .arg("-f")
            .arg(&config2)
            .args(["-n", "400", "-c", "4"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let clerk = Arc::new(Clerk::with_config(
        addrs.clone(),
        ClerkConfig {
            deadline: Some(Duration::from_secs(30)),
            ..ClerkConfig::default()
        },
    ));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (clerk, acked, stop) = (clerk.clone(), acked.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                clerk.put(format!("k{i}"), format!("v{i}")).unwrap();
                acked.lock().unwrap().push(i);
                i += 1;
            }
        })
    };

    // 1. Node 3 joins as a learner.
    let out = kvctl(
        &config,
        &["member", "add-learner", "3", &format!("127.0.0.1:{port}")],
    );
    assert!(out.status.success(), "add-learner: {}", text(&out.stderr));
    let log = File::create(dir.path().join("node3.log")).unwrap();
    let _node3 = Guard(
        Command::new(RAFT_NODE)
            .args(["-i", "3", "-f"])
            .arg(&config2)
            .arg("-d")
            .arg(dir.path().join("node3"))
            .arg("--join")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    // 2. Promoted once caught up (kvctl refuses while it lags).
    kvctl_until_ok(&config2, &["member", "promote", "3"]);
    // 3. The old node 1 leaves, whether it leads or not.
    let out = kvctl(&config2, &["member", "remove", "1"]);
    assert!(out.status.success(), "remove: {}", text(&out.stderr));
    let list = text(&kvctl(&config2, &["member", "list"]).stdout);
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 3, "{list}");
    for (line, id) in lines.iter().zip(["0", "2", "3"]) {
        let words: Vec<&str> = line.split(' ').collect();
        assert_eq!((words[0], words[2]), (id, "voter"), "{list}");
    }
    assert!(
        list.contains(&format!("3 127.0.0.1:{port} voter")),
        "{list}"
    );
    // The removed node stops by itself, with exit code 0 and one line.
    let deadline = Instant::now() + Duration::from_secs(10);
    let exited = loop {
        let exited = cluster.reap_exited();
        if let Some((_, status)) = exited.into_iter().find(|(id, _)| *id == 1) {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "node 1 did not stop after its removal"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exited.success(), "{exited:?}");
    let node1_log = std::fs::read_to_string(dir.path().join("node1.log")).unwrap();
    assert!(
        node1_log.contains("removed from the cluster"),
        "{node1_log}"
    );

    // Writes go on through the new configuration.
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::SeqCst);
    writer.join().unwrap();
    let mut caller = caller;
    let caller_status = caller.0.wait().unwrap();
    let mut caller_err = String::new();
    use std::io::Read;
    let _ = caller
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut caller_err);
    assert!(caller_status.success(), "caller failed: {caller_err}");

    // Every acknowledged write reads back, through the new members.
    let reader = Clerk::with_config(
        addrs,
        ClerkConfig {
            deadline: Some(Duration::from_secs(30)),
            ..ClerkConfig::default()
        },
    );
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 10, "too little load: {}", acked.len());
    for i in acked {
        assert_eq!(
            reader.get(format!("k{i}")).unwrap(),
            Some(format!("v{i}").into_bytes()),
            "acknowledged write k{i} lost"
        );
    }
}

#[test]
fn sigterm_of_the_leader_hands_leadership_over_without_an_election_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("cluster.conf");
    let mut cluster =
        LocalCluster::create(3, &config, dir.path(), Path::new(RAFT_NODE), Vec::new()).unwrap();
    cluster.start_all().unwrap();
    let addrs = cluster.addrs();
    let (leader, term) = wait_for_leader(&addrs);
    let out = kvctl(&config, &["put", "before", "1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (leader, term) = {
        // The put may have landed in a new term; take the leader now.
        let (l, t) = wait_for_leader(&addrs);
        if (l, t) == (leader, term) {
            (leader, term)
        } else {
            (l, t)
        }
    };
    let stopped_at = Instant::now();
    let status = cluster.terminate(leader, Duration::from_secs(10)).unwrap();
    assert!(status.success(), "{status:?}");
    let others: Vec<_> = (0..3).filter(|&i| i != leader).map(|i| addrs[i]).collect();
    let (new_leader, new_term) = wait_for_leader(&others);
    let took = stopped_at.elapsed();
    // One election, started by TimeoutNow: the term moved by exactly one,
    // and the old leader says whom it handed over to.
    assert_eq!(new_term, term + 1, "more than one election");
    let log = std::fs::read_to_string(dir.path().join(format!("node{leader}.log"))).unwrap();
    let new_id = (0..3).filter(|&i| i != leader).nth(new_leader).unwrap();
    assert!(
        log.contains(&format!("handed leadership over to={new_id}")),
        "no hand-over in the old leader's log:\n{log}"
    );
    eprintln!("new leader {new_id} seen {took:?} after SIGTERM");
    let out = kvctl(&config, &["put", "after", "2"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}
