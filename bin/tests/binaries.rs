//! The real binaries, run as an operator would: clusters of `raft-node`
//! processes killed with -9 and restarted, bad configs, a busy port, and
//! `raftkv demo`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clerk::{Clerk, ClerkConfig};
use raftkv_bin::local_cluster::LocalCluster;
use raftkv_bin::status;

const RAFT_NODE: &str = env!("CARGO_BIN_EXE_raft-node");
const RAFTKV: &str = env!("CARGO_BIN_EXE_raftkv");

fn cluster(n: usize, dir: &Path) -> LocalCluster {
    let mut cluster = LocalCluster::create(
        n,
        &dir.join("cluster.conf"),
        dir,
        Path::new(RAFT_NODE),
        vec!["--max-raft-state".into(), "20000".into()],
    )
    .unwrap();
    cluster.start_all().unwrap();
    cluster
}

fn clerk(cluster: &LocalCluster) -> Clerk {
    Clerk::with_config(
        cluster.addrs(),
        ClerkConfig {
            deadline: Some(Duration::from_secs(30)),
            ..ClerkConfig::default()
        },
    )
}

fn wait_for_leader(cluster: &LocalCluster, not: Option<usize>) -> usize {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let statuses = status::query_all(&cluster.addrs(), Duration::from_millis(500));
        if let Some(leader) = status::leader(&statuses).filter(|l| Some(*l) != not) {
            return leader;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no leader within 20 s")
}

fn run(binary: &str, args: &[&str]) -> Output {
    Command::new(binary).args(args).output().unwrap()
}

fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn acknowledged_writes_survive_kill_9_of_the_leader_mid_workload() {
    let dir = tempfile::tempdir().unwrap();
    let mut cluster = cluster(3, dir.path());
    let leader = wait_for_leader(&cluster, None);
    let clerk = Arc::new(clerk(&cluster));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (clerk, acked, stop) = (clerk.clone(), acked.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                clerk.put(format!("k{i}"), format!("v{i}")).unwrap();
                clerk.append("log", format!("{i},")).unwrap();
                acked.lock().unwrap().push(i);
                i += 1;
            }
        })
    };
    // Kill the leader once the workload is well under way.
    let deadline = Instant::now() + Duration::from_secs(30);
    while acked.lock().unwrap().len() < 50 {
        assert!(Instant::now() < deadline, "workload made no progress");
        std::thread::sleep(Duration::from_millis(10));
    }
    cluster.kill(leader);
    let at_kill = acked.lock().unwrap().len();
    let deadline = Instant::now() + Duration::from_secs(30);
    while acked.lock().unwrap().len() < at_kill + 50 {
        assert!(
            Instant::now() < deadline,
            "no progress after the leader died"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, Ordering::SeqCst);
    writer.join().unwrap();
    assert_ne!(wait_for_leader(&cluster, Some(leader)), leader);

    let acked = acked.lock().unwrap().clone();
    for i in &acked {
        assert_eq!(
            clerk.get(format!("k{i}")).unwrap(),
            Some(format!("v{i}").into_bytes())
        );
    }
    let expected: String = acked.iter().map(|i| format!("{i},")).collect();
    assert_eq!(clerk.get("log").unwrap(), Some(expected.into_bytes()));
}

#[test]
fn everything_acknowledged_survives_killing_and_restarting_all_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let mut cluster = cluster(3, dir.path());
    wait_for_leader(&cluster, None);
    {
        let clerk = clerk(&cluster);
        for i in 0..300 {
            clerk.put(format!("k{i}"), format!("v{i}")).unwrap();
            clerk.append("log", "x").unwrap();
        }
    }
    for id in 0..3 {
        cluster.kill(id);
    }
    cluster.start_all().unwrap();
    wait_for_leader(&cluster, None);
    let clerk = clerk(&cluster);
    for i in 0..300 {
        assert_eq!(
            clerk.get(format!("k{i}")).unwrap(),
            Some(format!("v{i}").into_bytes())
        );
    }
    assert_eq!(clerk.get("log").unwrap(), Some(vec![b'x'; 300]));
    // And it keeps working.
    clerk.put("after", "restart").unwrap();
    assert_eq!(clerk.get("after").unwrap(), Some(b"restart".to_vec()));
}

#[test]
fn a_paused_leader_is_replaced_and_rejoins_without_losing_writes() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = cluster(3, dir.path());
    let leader = wait_for_leader(&cluster, None);
    let clerk = clerk(&cluster);
    for i in 0..20 {
        clerk.append("log", format!("{i},")).unwrap();
    }
    cluster.pause(leader);
    for i in 20..40 {
        clerk.append("log", format!("{i},")).unwrap();
    }
    let new_leader = wait_for_leader(&cluster, Some(leader));
    cluster.resume(leader);
    for i in 40..60 {
        clerk.append("log", format!("{i},")).unwrap();
    }
    let expected: String = (0..60).map(|i| format!("{i},")).collect();
    assert_eq!(clerk.get("log").unwrap(), Some(expected.into_bytes()));
    // The old leader learns of the new term and follows.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let statuses = status::query_all(&cluster.addrs(), Duration::from_millis(500));
        let old = statuses[leader].status.as_ref().ok();
        if old.is_some_and(|s| s.role != b"Leader" && s.leader_id >= 0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "node{leader} did not step down after its pause"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_ne!(new_leader, leader);
}

/// A leader paused (SIGSTOP) while the others elect a new one and
/// overwrite a key still believes it leads when it resumes. Gets sent to it
/// directly while it was paused are the first thing it reads: each must be
/// refused or see the new value, never the old one.
#[test]
fn a_resumed_leader_never_serves_a_stale_read() {
    use proto::kv::{GetArgs, KvServerRpcClient};
    let dir = tempfile::tempdir().unwrap();
    let cluster = cluster(3, dir.path());
    let old_leader = wait_for_leader(&cluster, None);
    let clerk = clerk(&cluster);
    clerk.put("k", "old").unwrap();
    cluster.pause(old_leader);
    wait_for_leader(&cluster, Some(old_leader));
    clerk.put("k", "new").unwrap();

    let addrs = cluster.addrs();
    let readers: Vec<_> = (0..4)
        .map(|i| {
            let addrs = addrs.clone();
            std::thread::spawn(move || {
                let args = GetArgs {
                    key: b"k".to_vec(),
                    client_id: format!("stale-reader-{i}").into_bytes(),
                    request_id: 1,
                };
                // First to the paused old leader; then, if it refuses, on
                // to whichever node it names, until one answers.
                let mut node = old_leader;
                let deadline = Instant::now() + Duration::from_secs(30);
                let mut replies = Vec::new();
                while Instant::now() < deadline {
                    let client = KvServerRpcClient::new(rpc::RpcChannel::new(addrs[node]));
                    match client.get(&args, Duration::from_secs(20)) {
                        Ok(reply) if reply.err == b"OK" => {
                            replies.push((node, reply));
                            break;
                        }
                        Ok(reply) => {
                            let hint = usize::try_from(reply.leader_id).ok();
                            replies.push((node, reply));
                            node = hint
                                .filter(|h| *h < addrs.len())
                                .unwrap_or((node + 1) % addrs.len());
                        }
                        Err(_) => node = (node + 1) % addrs.len(),
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                replies
            })
        })
        .collect();
    // Time for the requests to reach the paused node's socket; one that
    // arrives after the resume instead tests the same, only less sharply.
    std::thread::sleep(Duration::from_millis(300));
    cluster.resume(old_leader);
    let mut answered = 0;
    for reader in readers {
        let replies = reader.join().unwrap();
        let (_, last) = replies.last().expect("a reader got no reply at all");
        assert_eq!(
            last.err,
            b"OK",
            "a Get was never answered: {:?}",
            String::from_utf8_lossy(&last.err)
        );
        for (node, reply) in &replies {
            if reply.err == b"OK" {
                assert_eq!(reply.value, b"new", "node{node} served a stale read");
                answered += usize::from(*node == old_leader);
            } else {
                assert!(
                    reply.err == b"ErrWrongLeader" || reply.err == b"ErrTimeout",
                    "unexpected error {:?}",
                    String::from_utf8_lossy(&reply.err)
                );
            }
        }
    }
    eprintln!("all 4 Gets answered with the new value, {answered} by the resumed node itself");
    assert_eq!(clerk.get("k").unwrap(), Some(b"new".to_vec()));
}

#[test]
fn hostile_bytes_on_every_port_leave_the_cluster_serving() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let cluster = cluster(3, dir.path());
    wait_for_leader(&cluster, None);
    let clerk = clerk(&cluster);
    clerk.put("before", "attack").unwrap();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let payloads: Vec<Vec<u8>> = vec![
        vec![0xff; 64],                                // a varint that never ends
        vec![0x85, 0x80, 0x80, 0x80, 0x08],            // a header length far over the limit
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), // the wrong protocol
        vec![0x05, 1, 2, 3],                           // a truncated frame, then close
        (0..4096).map(|_| next() as u8).collect(),     // noise
    ];
    for addr in cluster.addrs() {
        for payload in &payloads {
            let mut stream = std::net::TcpStream::connect(addr).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(2)))
                .unwrap();
            let _ = stream.write_all(payload);
            let _ = stream.shutdown(std::net::Shutdown::Write);
            let mut sink = Vec::new();
            let _ = stream.read_to_end(&mut sink);
        }
    }
    clerk.put("after", "attack").unwrap();
    assert_eq!(clerk.get("before").unwrap(), Some(b"attack".to_vec()));
    assert_eq!(clerk.get("after").unwrap(), Some(b"attack".to_vec()));
    let statuses = status::query_all(&cluster.addrs(), Duration::from_secs(2));
    assert!(
        statuses.iter().all(|s| s.status.is_ok()),
        "a node stopped answering"
    );
}

#[test]
fn a_bad_config_is_one_clear_line_and_a_failure_exit() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.conf");
    std::fs::write(&config, "node0ip=127.0.0.1\nnode0prot=5000\n").unwrap();
    let data = dir.path().join("data");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "-i".into(),
                "0".into(),
                "-f".into(),
                path(&config),
                "-d".into(),
                path(&data),
            ],
            "unknown key \"node0prot\"",
        ),
        (
            vec![
                "-i".into(),
                "0".into(),
                "-f".into(),
                path(&dir.path().join("missing.conf")),
                "-d".into(),
                path(&data),
            ],
            "cannot read config file",
        ),
    ];
    for (args, expected) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = run(RAFT_NODE, &args);
        let stderr = stderr_of(&output);
        assert!(!output.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "not one line: {stderr}");
        assert!(stderr.starts_with("raft-node: error:"), "{stderr}");
    }
}

#[test]
fn an_id_outside_the_config_and_a_data_dir_that_is_a_file_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.conf");
    std::fs::write(&config, "node0ip=127.0.0.1\nnode0port=1\n").unwrap();
    let output = run(
        RAFT_NODE,
        &["-i", "3", "-f", &path(&config), "-d", &path(dir.path())],
    );
    assert!(!output.status.success());
    assert!(
        stderr_of(&output).contains("node id 3 is not in"),
        "{}",
        stderr_of(&output)
    );

    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let output = run(
        RAFT_NODE,
        &["-i", "0", "-f", &path(&config), "-d", &path(&file)],
    );
    assert!(!output.status.success());
    assert!(
        stderr_of(&output).contains("cannot use data dir"),
        "{}",
        stderr_of(&output)
    );
}

#[test]
fn a_data_dir_in_use_by_a_running_node_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = cluster(1, dir.path());
    wait_for_leader(&cluster, None);
    let node = &cluster.nodes()[0];
    let output = run(
        RAFT_NODE,
        &[
            "-i",
            "0",
            "-f",
            &path(cluster.config_path()),
            "-d",
            &path(&node.data_dir),
        ],
    );
    let stderr = stderr_of(&output);
    assert!(!output.status.success());
    assert!(stderr.contains("already in use"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "not one line: {stderr}");
}

#[test]
fn a_busy_port_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let config = dir.path().join("c.conf");
    std::fs::write(&config, format!("node0ip=127.0.0.1\nnode0port={port}\n")).unwrap();
    let output = run(
        RAFT_NODE,
        &[
            "-i",
            "0",
            "-f",
            &path(&config),
            "-d",
            &path(&dir.path().join("d")),
        ],
    );
    let stderr = stderr_of(&output);
    assert!(!output.status.success());
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{stderr}"
    );
}

#[test]
fn raftkv_demo_passes_and_draws_its_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("demo.html");
    let output = run(RAFTKV, &["demo", "--timeline", &path(&file)]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "demo failed:\n{stdout}\n{}",
        stderr_of(&output)
    );
    assert!(stdout.contains("demo passed"), "{stdout}");
    assert!(
        stdout.contains("verified: all 400 acknowledged writes read back"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("timeline written to {}", path(&file))),
        "{stdout}"
    );

    let page = std::fs::read_to_string(&file).expect("the timeline file was written");
    assert!(page.starts_with("<!DOCTYPE html>"));
    // The kill, the downtime and the restart of the first leader.
    let killed = (0..3)
        .find(|i| page.contains(&format!("kill -9 node{i} (pid ")))
        .unwrap_or_else(|| panic!("the timeline does not mention the kill"));
    assert!(page.contains(&format!("node{killed} down")));
    assert!(page.contains(&format!("restart node{killed} from its data dir")));
    // The election: a leader before the kill and another one after it.
    let leaders = (0..3)
        .filter(|i| page.contains(&format!("node{i} leads (term ")))
        .count();
    assert!(leaders >= 2, "fewer than two leaders drawn");
    assert!(page.contains("election: node"), "no election marked");
    // The writes and the verifying reads, as bars.
    assert!(page.contains("Put(&quot;demo-0&quot;, &quot;value-0&quot;)"));
    assert!(page.contains("Append(&quot;demo-log&quot;, &quot;1,&quot;)"));
    assert!(page.contains("Get(&quot;demo-log&quot;)"));
    assert!(!page.contains("http://") && !page.contains("https://"));
}

fn path(p: &Path) -> String {
    PathBuf::from(p).display().to_string()
}
