//! `raft-node --metrics-addr HOST:PORT`: the node's metrics in the
//! Prometheus text format and its health checks, over HTTP.
//!
//! - `http.rs`: the server (tiny_http, one thread, no async runtime):
//!   `/metrics`, `/health`, `/ready`.
//! - `health.rs`: when a node is healthy and ready, as pure decisions.
//! - `raft.rs`, `kv.rs`, `storage.rs`, `peers.rs`: one prometheus-client
//!   collector each, reading at scrape time what the crates keep: status
//!   getters for gauges, and the lock-free counters and histograms of
//!   `raft::metrics` and `kvserver::metrics` bumped where things happen.
//!   `peers.rs` also counts the Raft RPCs, by wrapping each peer's transport.
//! - `encode.rs`: writing those values as metric families.
//! - `scrape.rs`: the client side, for tests and tools: an HTTP GET and a
//!   strict reader of the text format.
//!
//! The original had nothing of the kind: its only window was stdout.

mod encode;
mod health;
mod http;
mod kv;
mod peers;
mod raft;
pub mod scrape;
mod storage;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use ::raft::metrics::FsyncMetrics;
use kvserver::KvServer;
use prometheus_client::registry::Registry;

pub use self::health::{
    check_health, check_ready, health, readiness, Health, Readiness, READY_PATIENCE,
};
pub use self::http::{respond, MetricsServer, Response};
pub use self::peers::{PeerRpcs, RaftRpc};

/// What a node exports: its server (and the Raft node under it), its
/// persister's fsync timings, and its peers' RPC counts.
#[derive(Clone)]
pub struct Node {
    pub kv: KvServer,
    pub fsyncs: Arc<FsyncMetrics>,
    pub peers: Arc<PeerRpcs>,
}

/// A registry whose every scrape reads `node` afresh.
pub fn registry(node: &Node) -> Registry {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(raft::RaftCollector(node.kv.raft().clone())));
    registry.register_collector(Box::new(kv::KvCollector(node.kv.clone())));
    registry.register_collector(Box::new(storage::FsyncCollector(node.fsyncs.clone())));
    registry.register_collector(Box::new(peers::PeerCollector(node.peers.clone())));
    registry
}
