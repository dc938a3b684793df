//! The dedup table: which writes each client already had applied, so a
//! retried Put or Append is applied at most once.
//!
//! The original kept only the highest request id per client and dropped
//! anything at or below it. That is right for a client with one request in
//! flight (our Clerk guarantees it), but any other client of the wire
//! protocol could lose writes to it: two concurrent requests applied out of
//! order would drop the lower one, and a client reusing a request id would
//! see its new write dropped as an "old" one — acknowledged, yet never
//! applied. So a request counts as a duplicate only if the very same write
//! (same request id, same operation) was applied among that client's last
//! [`WINDOW`] writes (kept small: it is in every snapshot).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::op::{Op, OpKind};

/// How many recent writes per client are remembered. A retry of a write
/// older than this (a client with more requests in flight at once) could
/// apply twice.
pub const WINDOW: usize = 16;

/// A fingerprint of what a write does, stable across builds (it is stored
/// in snapshots).
pub fn digest(op: &Op) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&[op.kind as u8]);
    hasher.update(&(op.key.len() as u64).to_le_bytes());
    hasher.update(&op.key);
    hasher.update(&op.value);
    hasher.finalize()
}

/// Per client id, its last [`WINDOW`] applied writes: request id → digest.
#[derive(Default, Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct DedupTable {
    clients: HashMap<Vec<u8>, BTreeMap<i64, u32>>,
}

impl DedupTable {
    /// Whether this exact write of this client was applied already.
    pub fn is_duplicate(&self, op: &Op) -> bool {
        op.kind != OpKind::Get
            && self
                .clients
                .get(&op.client_id)
                .and_then(|applied| applied.get(&op.request_id))
                .is_some_and(|d| *d == digest(op))
    }

    /// Remembers that `op` was applied.
    pub fn record(&mut self, op: &Op) {
        let applied = self.clients.entry(op.client_id.clone()).or_default();
        applied.insert(op.request_id, digest(op));
        while applied.len() > WINDOW {
            applied.pop_first();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(kind: OpKind, value: &str, client: &str, request_id: i64) -> Op {
        Op {
            kind,
            key: b"k".to_vec(),
            value: value.into(),
            client_id: client.into(),
            request_id,
        }
    }

    #[test]
    fn only_the_same_write_of_the_same_client_is_a_duplicate() {
        let mut table = DedupTable::default();
        let first = op(OpKind::Append, "a", "c1", 1);
        table.record(&first);
        assert!(table.is_duplicate(&first));
        assert!(!table.is_duplicate(&op(OpKind::Append, "a", "c2", 1)));
        assert!(
            !table.is_duplicate(&op(OpKind::Append, "b", "c1", 1)),
            "a reused id with a new write"
        );
        assert!(!table.is_duplicate(&op(OpKind::Put, "a", "c1", 1)));
        assert!(!table.is_duplicate(&op(OpKind::Append, "a", "c1", 2)));
    }

    #[test]
    fn concurrent_requests_applied_out_of_order_are_both_kept() {
        let mut table = DedupTable::default();
        table.record(&op(OpKind::Append, "6", "c", 6));
        assert!(!table.is_duplicate(&op(OpKind::Append, "5", "c", 5)));
    }

    #[test]
    fn the_window_is_bounded() {
        let mut table = DedupTable::default();
        for i in 0..(WINDOW as i64 + 10) {
            table.record(&op(OpKind::Put, &i.to_string(), "c", i));
        }
        assert_eq!(table.clients["c".as_bytes()].len(), WINDOW);
        assert!(table.is_duplicate(&op(
            OpKind::Put,
            &(WINDOW + 9).to_string(),
            "c",
            WINDOW as i64 + 9
        )));
        assert!(!table.is_duplicate(&op(OpKind::Put, "0", "c", 0)));
    }
}
