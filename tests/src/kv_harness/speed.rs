//! 6.5840's `GenericTestSpeed`: one client's sequential appends must not
//! wait for heartbeats to commit.

use std::time::{Duration, Instant};

use super::checks::{append_value, check_clnt_appends};
use super::KvCluster;

/// Appends per speed test (6.5840: 1000).
pub const SPEED_OPS: usize = 1000;

/// 6.5840's bound, a third of its 100 ms heartbeat interval per operation,
/// scaled to our 50 ms heartbeat: a store that commits only on heartbeat
/// ticks (the original's ~25 ms per operation) fails it.
pub const MAX_TIME_PER_OP: Duration = Duration::from_micros(50_000 / 3);

/// Runs [`SPEED_OPS`] sequential appends through 3 servers and asserts the
/// average stays under [`MAX_TIME_PER_OP`], and that all of them landed.
pub fn speed_test(title: &str, max_raft_state: Option<u64>) {
    let cluster = KvCluster::new(3, false, max_raft_state);
    let client = cluster.make_client();
    eprintln!("{title} ...");
    // The first op waits for an election and finds the leader.
    client.put("x", "");
    let started = Instant::now();
    for i in 0..SPEED_OPS {
        client.append("x", &append_value(0, i));
    }
    let took = started.elapsed();
    check_clnt_appends(0, &client.get("x"), SPEED_OPS);
    let per_op = took / SPEED_OPS as u32;
    assert!(
        per_op < MAX_TIME_PER_OP,
        "operations completed too slowly: {per_op:?} per op > {MAX_TIME_PER_OP:?}"
    );
    if let Some(max) = max_raft_state {
        let size = cluster.log_size();
        assert!(size <= 8 * max, "Raft state of {size} bytes > 8 × {max}");
    }
    eprintln!("  ... Passed -- {SPEED_OPS} appends, {per_op:?} per op");
}
