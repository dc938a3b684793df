//! The three endpoints against a real one-node KvServer in this process:
//! what they answer while it runs, and once its Raft has failed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kvserver::{KvServer, KvServerConfig};
use proto::raft::{
    AppendEntriesArgs, AppendEntriesReply, InstallSnapshotRequest, InstallSnapshotResponse,
    RequestVoteArgs, RequestVoteReply,
};
use raft::metrics::FsyncMetrics;
use raft::{MemoryPersister, PeerError, RaftPeer};

use super::scrape::{get, parse};
use super::{registry, respond, MetricsServer, Node, PeerRpcs};

/// `peers[0]` of a one-node cluster: never called.
struct Myself;

impl RaftPeer for Myself {
    fn append_entries(&self, _: &AppendEntriesArgs) -> Result<AppendEntriesReply, PeerError> {
        Err(PeerError("a node does not call itself".into()))
    }
    fn request_vote(&self, _: &RequestVoteArgs) -> Result<RequestVoteReply, PeerError> {
        Err(PeerError("a node does not call itself".into()))
    }
    fn install_snapshot(
        &self,
        _: &InstallSnapshotRequest,
    ) -> Result<InstallSnapshotResponse, PeerError> {
        Err(PeerError("a node does not call itself".into()))
    }
}

/// A one-node server that has become leader.
fn leader() -> Node {
    let rpcs = PeerRpcs::new(0, 1);
    let kv = KvServer::start(
        0,
        vec![rpcs.wrap(0, Arc::new(Myself))],
        Box::new(MemoryPersister::new()),
        KvServerConfig::default(),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !kv.raft().get_state().1 {
        assert!(Instant::now() < deadline, "a lone node became no leader");
        std::thread::sleep(Duration::from_millis(5));
    }
    Node {
        kv,
        fsyncs: Arc::new(FsyncMetrics::default()),
        peers: rpcs,
    }
}

#[test]
fn a_running_leader_is_healthy_ready_and_scrapes_cleanly() {
    let node = leader();
    let registry = registry(&node);
    let health = respond("/health", &registry, &node);
    assert_eq!((health.code, health.body.as_str()), (200, "alive\n"));
    let ready = respond("/ready", &registry, &node);
    assert_eq!(ready.code, 200, "{}", ready.body);
    assert!(ready.body.starts_with("ready: leader 0"), "{}", ready.body);

    let metrics = respond("/metrics?x=1", &registry, &node);
    assert_eq!(metrics.code, 200);
    assert!(metrics
        .content_type
        .starts_with("text/plain; version=0.0.4"));
    let scrape = parse(&metrics.body).unwrap_or_else(|e| panic!("{e}\n{}", metrics.body));
    assert_eq!(
        scrape.sum("raftkv_raft_role", &[("role", "Leader")]),
        Some(1.0)
    );
    assert_eq!(scrape.sum("raftkv_raft_role", &[]), Some(1.0), "one role");
    assert_eq!(scrape.sum("raftkv_raft_leader_id", &[]), Some(0.0));
    assert_eq!(
        scrape.sum("raftkv_raft_leader_changes_total", &[]),
        Some(1.0)
    );
    // A node of one has no peer to count calls to.
    assert_eq!(
        scrape
            .family("raftkv_raft_rpcs_sent_total")
            .unwrap()
            .samples,
        vec![]
    );

    assert_eq!(respond("/nothing", &registry, &node).code, 404);
    node.kv.shutdown();
}

#[test]
fn a_node_whose_raft_failed_is_neither_healthy_nor_ready() {
    let node = leader();
    let registry = registry(&node);
    node.kv.fail("the disk is on fire");
    let health = respond("/health", &registry, &node);
    assert_eq!(
        (health.code, health.body.as_str()),
        (503, "failed: the disk is on fire\n")
    );
    let ready = respond("/ready", &registry, &node);
    assert_eq!(ready.code, 503);
    assert!(ready.body.contains("the disk is on fire"), "{}", ready.body);
    // The metrics still answer: an operator wants to see the last state.
    assert_eq!(respond("/metrics", &registry, &node).code, 200);
}

#[test]
fn the_server_answers_over_http_and_stops() {
    let node = leader();
    let mut server = MetricsServer::start("127.0.0.1:0".parse().unwrap(), node.clone()).unwrap();
    let addr = server.local_addr();
    assert_ne!(addr.port(), 0);
    let wait = Duration::from_secs(10);
    let (code, body) = get(addr, "/metrics", wait).unwrap();
    assert_eq!(code, 200);
    parse(&body).unwrap();
    assert_eq!(get(addr, "/health", wait).unwrap(), (200, "alive\n".into()));
    server.shutdown();
    assert!(get(addr, "/health", wait).is_err(), "still answering");
    node.kv.shutdown();
}
