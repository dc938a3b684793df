//! What a node counts for monitoring: plain atomics and lock-free latency
//! histograms, bumped where the events happen and read by whoever exports
//! them (`raft-node --metrics-addr` turns them into Prometheus metrics).
//!
//! Nothing here takes a lock: a hot path pays one or two relaxed atomic
//! adds. Gauges (role, term, indexes) need no counting at all; they are read
//! from [`Raft::status`](crate::Raft::status) when someone asks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Bucket bounds, in seconds, for things that take microseconds to a few
/// seconds: an fsync, a client request.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0,
];

/// Bucket bounds, in seconds, for things that take milliseconds to
/// minutes: writing a snapshot of the whole store.
pub const LONG_BUCKETS: &[f64] = &[
    0.001, 0.01, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// A histogram of durations with fixed buckets, safe to observe from any
/// thread without a lock.
#[derive(Debug)]
pub struct Histogram {
    /// Upper bounds of the buckets, in seconds, ascending.
    bounds: &'static [f64],
    /// The same bounds in nanoseconds, for comparing without floats.
    bounds_nanos: Box<[u64]>,
    /// Observations per bucket, not cumulative; the last one is +Inf.
    buckets: Box<[AtomicU64]>,
    sum_nanos: AtomicU64,
}

/// A histogram's content at one moment, in the shape exporters want.
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramSnapshot {
    /// (upper bound in seconds, observations at or below it), ascending,
    /// without the +Inf bucket (whose count is `count`).
    pub buckets: Vec<(f64, u64)>,
    pub count: u64,
    pub sum_seconds: f64,
}

impl Histogram {
    /// An empty histogram with `bounds` (seconds, ascending) as the upper
    /// bounds of its buckets.
    pub fn new(bounds: &'static [f64]) -> Histogram {
        debug_assert!(bounds.windows(2).all(|w| w[0] < w[1]));
        Histogram {
            bounds,
            bounds_nanos: bounds.iter().map(|s| (s * 1e9) as u64).collect(),
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_nanos: AtomicU64::new(0),
        }
    }

    /// Counts one duration.
    pub fn observe(&self, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        // The first bucket whose bound is at least `nanos` (`le` semantics).
        let bucket = self.bounds_nanos.partition_point(|&bound| bound < nanos);
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// The buckets as cumulative counts. Read while others observe, the
    /// count and the buckets agree with each other (the count is their
    /// total); the sum may include an observation or two more or less.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut total = 0;
        let mut buckets = Vec::with_capacity(self.bounds.len());
        for (bound, n) in self.bounds.iter().zip(self.buckets.iter()) {
            total += n.load(Ordering::Relaxed);
            buckets.push((*bound, total));
        }
        total += self.buckets[self.bounds.len()].load(Ordering::Relaxed);
        HistogramSnapshot {
            buckets,
            count: total,
            sum_seconds: self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9,
        }
    }
}

/// How long a [`FilePersister`](crate::FilePersister)'s syncs take: the
/// log's group commit is an `fdatasync`; the hard state, snapshots and
/// directories get a full `fsync`.
#[derive(Debug)]
pub struct FsyncMetrics {
    pub fdatasync: Histogram,
    pub fsync: Histogram,
}

impl Default for FsyncMetrics {
    fn default() -> Self {
        FsyncMetrics {
            fdatasync: Histogram::new(LATENCY_BUCKETS),
            fsync: Histogram::new(LATENCY_BUCKETS),
        }
    }
}

/// The events a Raft node counts; see [`Raft::metrics`](crate::Raft::metrics).
#[derive(Debug, Default)]
pub struct RaftMetrics {
    /// Leaders this node learned of (a leader of a newer term than the last
    /// one it knew a leader for, itself included).
    leader_changes: AtomicU64,
    /// The term of the last leader counted; written under the state lock only.
    leader_term: AtomicU64,
    /// Elections this node started as a candidate (not pre-votes).
    elections: AtomicU64,
}

impl RaftMetrics {
    /// Notes that this node knows the leader of `term`; counts a leader
    /// change the first time for each newer term. Called under the state
    /// lock, so the load and store below cannot interleave.
    pub(crate) fn saw_leader(&self, term: u64) {
        if term > self.leader_term.load(Ordering::Relaxed) {
            self.leader_term.store(term, Ordering::Relaxed);
            self.leader_changes.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn started_election(&self) {
        self.elections.fetch_add(1, Ordering::Relaxed);
    }

    /// Leaders this node has learned of since it started: one per term that
    /// had a leader it heard from (or was).
    pub fn leader_changes(&self) -> u64 {
        self.leader_changes.load(Ordering::Relaxed)
    }

    /// Elections this node started since it started (pre-votes not counted).
    pub fn elections(&self) -> u64 {
        self.elections.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_the_first_bucket_that_holds_them() {
        let h = Histogram::new(&[0.001, 0.01, 0.1]);
        h.observe(Duration::from_micros(500));
        h.observe(Duration::from_millis(1)); // on the bound: le
        h.observe(Duration::from_millis(5));
        h.observe(Duration::from_secs(3)); // only +Inf
        let s = h.snapshot();
        assert_eq!(s.buckets, vec![(0.001, 2), (0.01, 3), (0.1, 3)]);
        assert_eq!(s.count, 4);
        assert!((s.sum_seconds - 3.0065).abs() < 1e-9, "{}", s.sum_seconds);
    }

    #[test]
    fn an_empty_histogram_has_zero_everywhere() {
        let s = Histogram::new(LATENCY_BUCKETS).snapshot();
        assert_eq!(s.count, 0);
        assert_eq!(s.buckets.len(), LATENCY_BUCKETS.len());
        assert!(s.buckets.iter().all(|&(_, n)| n == 0));
    }

    #[test]
    fn the_bucket_bounds_ascend() {
        for bounds in [LATENCY_BUCKETS, LONG_BUCKETS] {
            assert!(bounds.windows(2).all(|w| w[0] < w[1]));
        }
    }

    #[test]
    fn concurrent_observers_lose_nothing() {
        let h = std::sync::Arc::new(Histogram::new(LATENCY_BUCKETS));
        let threads: Vec<_> = (0..4)
            .map(|i| {
                let h = h.clone();
                std::thread::spawn(move || {
                    for j in 0..1000 {
                        h.observe(Duration::from_micros(i * 100 + j));
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(h.snapshot().count, 4000);
    }

    #[test]
    fn a_leader_change_counts_once_per_newer_term() {
        let m = RaftMetrics::default();
        m.saw_leader(1);
        m.saw_leader(1); // every heartbeat of the same leader
        assert_eq!(m.leader_changes(), 1);
        m.saw_leader(3);
        m.saw_leader(2); // a stale message: not a change
        assert_eq!(m.leader_changes(), 2);
    }
}
