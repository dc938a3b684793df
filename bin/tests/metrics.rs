//! `raft-node --metrics-addr`, run as an operator would: a real cluster
//! scraped over HTTP. The scrape must parse as the Prometheus text format
//! and its counters must move with the work done; `/ready` must turn 503
//! when a node loses its leader, and 200 again when it finds one.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use clerk::{Clerk, ClerkConfig};
use raftkv_bin::local_cluster::LocalCluster;
use raftkv_bin::metrics::scrape::{self, Scrape};
use raftkv_bin::status;

const RAFT_NODE: &str = env!("CARGO_BIN_EXE_raft-node");

/// A generous bound on anything the cluster does.
const WAIT: Duration = Duration::from_secs(30);

fn cluster(dir: &Path) -> LocalCluster {
    let mut cluster = LocalCluster::create(
        3,
        &dir.join("cluster.conf"),
        dir,
        Path::new(RAFT_NODE),
        Vec::new(),
    )
    .unwrap();
    cluster.enable_metrics().unwrap();
    cluster.start_all().unwrap();
    cluster
}

fn leader(cluster: &LocalCluster) -> usize {
    let deadline = Instant::now() + WAIT;
    loop {
        let statuses = status::query_all(&cluster.addrs(), Duration::from_millis(500));
        if let Some(leader) = status::leader(&statuses) {
            return leader;
        }
        assert!(Instant::now() < deadline, "no leader within {WAIT:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    scrape::get(addr, path, WAIT).unwrap_or_else(|e| panic!("GET {path} from {addr}: {e}"))
}

/// Scrapes node `id` and parses the answer strictly.
fn scrape_node(cluster: &LocalCluster, id: usize) -> Scrape {
    let (code, body) = get(cluster.metrics_addr(id).unwrap(), "/metrics");
    assert_eq!(code, 200, "{body}");
    scrape::parse(&body).unwrap_or_else(|e| panic!("node{id}'s scrape: {e}\n{body}"))
}

fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .sum(name, labels)
        .unwrap_or_else(|| panic!("no {name} {labels:?} in the scrape"))
}

/// Polls `path` on `addr` until it answers `code`; the last body.
fn wait_for_code(addr: SocketAddr, path: &str, code: u16) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let (got, body) = get(addr, path);
        if got == code {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{addr}{path} still answers {got} ({body:?}), not {code}, after {WAIT:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn every_node_scrapes_as_prometheus_text_and_counters_follow_the_puts() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = cluster(dir.path());
    let leader = leader(&cluster);
    let before: Vec<Scrape> = (0..3).map(|id| scrape_node(&cluster, id)).collect();

    let clerk = Clerk::with_config(
        cluster.addrs(),
        ClerkConfig {
            deadline: Some(WAIT),
            ..ClerkConfig::default()
        },
    );
    const PUTS: usize = 25;
    for i in 0..PUTS {
        clerk.put(format!("k{i}"), format!("v{i}")).unwrap();
    }
    clerk.append("k0", "+").unwrap();
    assert_eq!(clerk.get("k0").unwrap(), Some(b"v0+".to_vec()));
    assert_eq!(clerk.get("missing").unwrap(), None);
    // Followers apply what the leader committed a moment later.
    let committed = value(
        &scrape_node(&cluster, leader),
        "raftkv_raft_commit_index",
        &[],
    );
    for id in 0..3 {
        let addr = cluster.metrics_addr(id).unwrap();
        let body = wait_for_code(addr, "/ready", 200);
        assert!(
            body.starts_with(&format!("ready: leader {leader}")),
            "{body}"
        );
        let deadline = Instant::now() + WAIT;
        while value(&scrape_node(&cluster, id), "raftkv_kv_applied_index", &[]) < committed {
            assert!(
                Instant::now() < deadline,
                "node{id} never applied {committed}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    let after: Vec<Scrape> = (0..3).map(|id| scrape_node(&cluster, id)).collect();
    let moved = |id: usize, name: &str, labels: &[(&str, &str)]| {
        value(&after[id], name, labels) - value(&before[id], name, labels)
    };
    let ok_puts = [("op", "put"), ("result", "OK")];
    // Every Put was answered OK by the leader, once (the Clerk knew it by then).
    assert!(
        moved(leader, "raftkv_kv_request_duration_seconds_count", &ok_puts) >= PUTS as f64,
        "the leader's Put count did not move by {PUTS}"
    );
    assert!(moved(leader, "raftkv_kv_request_duration_seconds_sum", &ok_puts) > 0.0);
    let get_labels = |result| [("op", "get"), ("result", result)];
    assert_eq!(
        value(
            &after[leader],
            "raftkv_kv_request_duration_seconds_count",
            &get_labels("ErrNoKey")
        ),
        1.0
    );
    assert!(
        value(
            &after[leader],
            "raftkv_kv_request_duration_seconds_count",
            &get_labels("OK")
        ) >= 1.0
    );
    let appends = [("op", "append"), ("result", "OK")];
    assert_eq!(
        value(
            &after[leader],
            "raftkv_kv_request_duration_seconds_count",
            &appends
        ),
        1.0
    );
    assert_eq!(value(&after[leader], "raftkv_kv_sessions", &[]), 1.0);
    assert_eq!(value(&after[leader], "raftkv_kv_keys", &[]), PUTS as f64);
    assert_eq!(
        value(&after[leader], "raftkv_raft_role", &[("role", "Leader")]),
        1.0
    );
    for id in 0..3 {
        let s = &after[id];
        // Every node wrote and synced the entries: the group commit's fdatasync.
        assert!(
            moved(
                id,
                "raftkv_fsync_duration_seconds_count",
                &[("call", "fdatasync")]
            ) >= 1.0,
            "node{id} synced nothing"
        );
        assert!(value(s, "raftkv_raft_commit_index", &[]) >= (PUTS + 1) as f64);
        assert_eq!(value(s, "raftkv_raft_leader_id", &[]), leader as f64);
        assert!(value(s, "raftkv_raft_leader_changes_total", &[]) >= 1.0);
        assert_eq!(
            value(s, "raftkv_raft_role", &[]),
            1.0,
            "node{id} has one role"
        );
        assert_eq!(
            value(s, "raftkv_raft_term", &[]),
            value(&after[leader], "raftkv_raft_term", &[])
        );
    }
    // The leader replicated to each follower: AppendEntries sent to both.
    for peer in (0..3).filter(|&p| p != leader) {
        let peer = peer.to_string();
        let to_peer = [("peer", peer.as_str()), ("rpc", "append_entries")];
        assert!(
            moved(leader, "raftkv_raft_rpcs_sent_total", &to_peer) >= 1.0,
            "no AppendEntries counted to node{peer}"
        );
    }
}

#[test]
fn ready_turns_503_when_a_node_loses_its_leader_and_200_when_it_finds_one() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = cluster(dir.path());
    let leader = leader(&cluster);
    let follower = (0..3).find(|&id| id != leader).unwrap();
    let other = (0..3).find(|&id| id != leader && id != follower).unwrap();
    let addr = cluster.metrics_addr(follower).unwrap();
    wait_for_code(addr, "/ready", 200);
    let votes_failed = |s: &Scrape| {
        value(
            s,
            "raftkv_raft_rpcs_failed_total",
            &[("rpc", "request_vote")],
        )
    };
    let failed_before = votes_failed(&scrape_node(&cluster, follower));

    // Freeze the rest of the cluster: the follower hears from no leader,
    // times out, and campaigns in vain.
    cluster.pause(leader);
    cluster.pause(other);
    let body = wait_for_code(addr, "/ready", 503);
    assert_eq!(body, "not ready: no known leader\n");
    assert_eq!(
        get(addr, "/health"),
        (200, "alive\n".into()),
        "no leader is no failure"
    );
    let lonely = scrape_node(&cluster, follower);
    assert_eq!(value(&lonely, "raftkv_raft_leader_id", &[]), -1.0);
    assert_eq!(
        value(&lonely, "raftkv_raft_role", &[("role", "Leader")]),
        0.0
    );
    // Its vote requests go unanswered, and are counted as failed.
    let deadline = Instant::now() + WAIT;
    while votes_failed(&scrape_node(&cluster, follower)) <= failed_before {
        assert!(Instant::now() < deadline, "no failed RequestVote counted");
        std::thread::sleep(Duration::from_millis(50));
    }

    cluster.resume(leader);
    cluster.resume(other);
    let body = wait_for_code(addr, "/ready", 200);
    assert!(body.starts_with("ready: leader "), "{body}");
    let changes = value(
        &scrape_node(&cluster, follower),
        "raftkv_raft_leader_changes_total",
        &[],
    );
    assert!(changes >= 1.0);
}
