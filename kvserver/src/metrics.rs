//! What the KvServer counts for monitoring: each request's latency by
//! operation and result, and its snapshots. Lock-free (the histograms are
//! `raft::metrics::Histogram`s); read by whoever exports them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use proto::KvErr;
use raft::metrics::{Histogram, HistogramSnapshot, LATENCY_BUCKETS, LONG_BUCKETS};

/// What a request asked for, as its latency is filed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestKind {
    Get,
    Put,
    Append,
    Delete,
    Cas,
    Scan,
}

impl RequestKind {
    /// The metric label: the operation's name in lower case.
    pub fn label(self) -> &'static str {
        match self {
            RequestKind::Get => "get",
            RequestKind::Put => "put",
            RequestKind::Append => "append",
            RequestKind::Delete => "delete",
            RequestKind::Cas => "cas",
            RequestKind::Scan => "scan",
        }
    }
}

/// Every operation, in the order of [`KvMetrics`]' rows.
pub const OPS: [RequestKind; 6] = [
    RequestKind::Get,
    RequestKind::Put,
    RequestKind::Append,
    RequestKind::Delete,
    RequestKind::Cas,
    RequestKind::Scan,
];

/// Every result a request can get, in the order of [`KvMetrics`]' columns.
pub const RESULTS: [KvErr; 6] = [
    KvErr::Ok,
    KvErr::NoKey,
    KvErr::WrongLeader,
    KvErr::Timeout,
    KvErr::SessionExpired,
    KvErr::TooLarge,
];

fn op_slot(op: RequestKind) -> usize {
    op as usize
}

fn result_slot(result: KvErr) -> usize {
    match result {
        KvErr::Ok => 0,
        KvErr::NoKey => 1,
        KvErr::WrongLeader => 2,
        KvErr::Timeout => 3,
        KvErr::SessionExpired => 4,
        KvErr::TooLarge => 5,
    }
}

/// The KvServer's counters; see [`KvServer::metrics`](crate::KvServer::metrics).
#[derive(Debug)]
pub struct KvMetrics {
    /// Request latency from the handler's call to its answer, by
    /// operation (rows, as [`OPS`]) and result (columns, as [`RESULTS`]).
    requests: [[Histogram; RESULTS.len()]; OPS.len()],
    /// How long a snapshot took, from freezing the state to Raft having
    /// installed it.
    snapshot_seconds: Histogram,
    /// Snapshots the state machine was replaced with (a leader's, or the
    /// node's own at start-up).
    snapshots_restored: AtomicU64,
}

impl Default for KvMetrics {
    fn default() -> Self {
        KvMetrics {
            requests: std::array::from_fn(|_| {
                std::array::from_fn(|_| Histogram::new(LATENCY_BUCKETS))
            }),
            snapshot_seconds: Histogram::new(LONG_BUCKETS),
            snapshots_restored: AtomicU64::new(0),
        }
    }
}

impl KvMetrics {
    /// Starts timing a request of kind `op`; the timer is stopped by the
    /// request's answer.
    pub(crate) fn start(self: &Arc<Self>, op: RequestKind) -> RequestTimer {
        RequestTimer {
            metrics: self.clone(),
            op,
            started: Instant::now(),
        }
    }

    /// The latency histogram of requests of kind `op` that got `result`.
    pub fn requests(&self, op: RequestKind, result: KvErr) -> HistogramSnapshot {
        self.requests[op_slot(op)][result_slot(result)].snapshot()
    }

    /// How long the snapshots this server took lasted.
    pub fn snapshot_seconds(&self) -> HistogramSnapshot {
        self.snapshot_seconds.snapshot()
    }

    /// Snapshots the state machine was replaced with since the start
    /// (a leader's sent to this node, or its own read back at start-up).
    pub fn snapshots_restored(&self) -> u64 {
        self.snapshots_restored.load(Ordering::Relaxed)
    }

    pub(crate) fn snapshot_taken(&self, took: Duration) {
        self.snapshot_seconds.observe(took);
    }

    pub(crate) fn snapshot_restored(&self) {
        self.snapshots_restored.fetch_add(1, Ordering::Relaxed);
    }
}

/// One request being timed; [`finish`](Self::finish) records it.
pub struct RequestTimer {
    metrics: Arc<KvMetrics>,
    op: RequestKind,
    started: Instant,
}

impl RequestTimer {
    /// Records the request's latency under its operation and `result`.
    pub(crate) fn finish(self, result: KvErr) {
        self.metrics.requests[op_slot(self.op)][result_slot(result)]
            .observe(self.started.elapsed());
    }
}

/// Counts from the state machine, read at one moment (one lock).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KvStats {
    /// The log index of the last entry applied.
    pub last_applied: u64,
    /// Client sessions the dedup table holds (see `dedup.rs`).
    pub sessions: usize,
    /// Keys in the store.
    pub keys: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_counted_under_its_operation_and_result() {
        let metrics = Arc::new(KvMetrics::default());
        metrics.start(RequestKind::Put).finish(KvErr::Ok);
        metrics.start(RequestKind::Put).finish(KvErr::Ok);
        metrics.start(RequestKind::Get).finish(KvErr::NoKey);
        assert_eq!(metrics.requests(RequestKind::Put, KvErr::Ok).count, 2);
        assert_eq!(metrics.requests(RequestKind::Get, KvErr::NoKey).count, 1);
        for op in OPS {
            for result in RESULTS {
                let expected = match (op, result) {
                    (RequestKind::Put, KvErr::Ok) => 2,
                    (RequestKind::Get, KvErr::NoKey) => 1,
                    _ => 0,
                };
                assert_eq!(metrics.requests(op, result).count, expected);
            }
        }
    }

    #[test]
    fn snapshots_are_counted() {
        let metrics = KvMetrics::default();
        metrics.snapshot_taken(Duration::from_millis(30));
        metrics.snapshot_restored();
        assert_eq!(metrics.snapshot_seconds().count, 1);
        assert_eq!(metrics.snapshots_restored(), 1);
    }
}
