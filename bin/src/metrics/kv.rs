//! The KvServer's metrics: applied index, sessions and keys read at scrape
//! time (`KvServer::stats`), request latencies and snapshots it counted
//! (`KvServer::metrics`).

use std::fmt;

use kvserver::metrics::{OPS, RESULTS};
use kvserver::KvServer;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;

use super::encode::{counter_one, gauge_one, histogram, histogram_one};

/// Writes one node's KvServer metrics.
pub struct KvCollector(pub KvServer);

impl fmt::Debug for KvCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KvCollector")
    }
}

impl Collector for KvCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let e = &mut encoder;
        let kv = &self.0;
        let stats = kv.stats();
        gauge_one(
            e,
            "raftkv_kv_applied_index",
            "Log index of the last entry applied to the key-value state machine",
            stats.last_applied,
        )?;
        gauge_one(
            e,
            "raftkv_kv_sessions",
            "Live client sessions in the dedup table",
            stats.sessions as u64,
        )?;
        gauge_one(e, "raftkv_kv_keys", "Keys in the store", stats.keys as u64)?;

        let metrics = kv.metrics();
        // Every OK series always, so a dashboard has them from the start;
        // an error's series once it has happened.
        let requests: Vec<_> = OPS
            .iter()
            .flat_map(|&op| RESULTS.iter().map(move |&result| (op, result)))
            .map(|(op, result)| (op, result, metrics.requests(op, result)))
            .filter(|(_, result, h)| *result == proto::KvErr::Ok || h.count > 0)
            .map(|(op, result, h)| {
                let labels = vec![
                    ("op", op.label().to_string()),
                    ("result", result.as_str().to_string()),
                ];
                (labels, h)
            })
            .collect();
        histogram(
            e,
            "raftkv_kv_request_duration_seconds",
            "Time from a request's arrival to its answer, by operation and result (the wire's Err)",
            &requests,
        )?;
        counter_one(
            e,
            "raftkv_kv_snapshots_taken",
            "Snapshots this node took of its state",
            kv.snapshots_taken(),
        )?;
        histogram_one(
            e,
            "raftkv_kv_snapshot_duration_seconds",
            "Time to take a snapshot, from freezing the state to Raft having installed it",
            &metrics.snapshot_seconds(),
        )?;
        counter_one(
            e,
            "raftkv_kv_snapshots_restored",
            "Snapshots the state was replaced with: a leader's, or its own at start-up",
            metrics.snapshots_restored(),
        )
    }
}
