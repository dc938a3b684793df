//! The replicated state machine: the skip list plus the dedup table, and
//! the pure apply step both the leader and the followers run.

use skiplist::SkipList;

use crate::dedup::DedupTable;
use crate::op::{Op, OpKind};
use crate::snapshot::{self, FrozenState};

/// The store's data and what it needs to apply each request at most once.
#[derive(Default)]
pub struct KvStateMachine {
    data: SkipList<Vec<u8>, Vec<u8>>,
    /// The writes each client had applied recently.
    dedup: DedupTable,
    /// The log index of the last entry applied (or the snapshot's index).
    last_applied: u64,
}

impl KvStateMachine {
    /// Applies the op committed at `index` and returns what a Get reads
    /// (`None` for a missing key, and for Put and Append).
    ///
    /// A Put or Append already applied for its client is skipped: that is
    /// what makes the Clerk's retries safe. Gets change nothing, so they are
    /// simply executed at their place in the log, which makes them
    /// linearizable.
    pub fn apply(&mut self, index: u64, op: &Op) -> Option<Vec<u8>> {
        self.last_applied = index;
        match op.kind {
            OpKind::Get => self.data.search(&op.key).cloned(),
            OpKind::Put | OpKind::Append => {
                if self.dedup.is_duplicate(op) {
                    return None;
                }
                self.dedup.record(op);
                if op.kind == OpKind::Put {
                    self.data.insert_or_set(op.key.clone(), op.value.clone());
                } else if let Some(value) = self.data.get_mut(&op.key) {
                    // The original's Append overwrote the value; append it is.
                    value.extend_from_slice(&op.value);
                } else {
                    self.data.insert_or_set(op.key.clone(), op.value.clone());
                }
                None
            }
        }
    }

    /// Whether this very write was applied already (a retry).
    pub fn is_duplicate(&self, op: &Op) -> bool {
        self.dedup.is_duplicate(op)
    }

    /// The value of `key` as of the last applied entry.
    pub fn read(&self, key: &[u8]) -> Option<&Vec<u8>> {
        self.data.search(key)
    }

    pub fn last_applied(&self) -> u64 {
        self.last_applied
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The state as of now, detached, for a snapshot written elsewhere.
    pub fn freeze(&self) -> FrozenState {
        FrozenState {
            last_applied: self.last_applied,
            dedup: self.dedup.clone(),
            entries: self
                .data
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }

    /// The whole state as one snapshot buffer (small states and tests).
    pub fn snapshot(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.freeze()
            .write_to(&mut out, || false)
            .expect("writing into a Vec cannot fail");
        out
    }

    /// Rebuilds the state from a snapshot taken by [`snapshot`](Self::snapshot).
    pub fn restore(bytes: &[u8]) -> Result<KvStateMachine, String> {
        snapshot::read_from(bytes)
    }

    /// An empty store with the given dedup state, for a snapshot to fill.
    pub(crate) fn from_parts(last_applied: u64, dedup: DedupTable) -> KvStateMachine {
        KvStateMachine {
            data: SkipList::new(),
            dedup,
            last_applied,
        }
    }

    /// Adds one entry read from a snapshot (they come in key order).
    pub(crate) fn restore_entry(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.data.insert_or_set(key, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(kind: OpKind, key: &str, value: &str, client: &str, request_id: i64) -> Op {
        Op {
            kind,
            key: key.into(),
            value: value.into(),
            client_id: client.into(),
            request_id,
        }
    }

    #[test]
    fn put_append_get() {
        let mut sm = KvStateMachine::default();
        assert_eq!(sm.apply(1, &op(OpKind::Get, "k", "", "c", 1)), None);
        sm.apply(2, &op(OpKind::Append, "k", "a", "c", 2));
        sm.apply(3, &op(OpKind::Append, "k", "b", "c", 3));
        assert_eq!(
            sm.apply(4, &op(OpKind::Get, "k", "", "c", 4)),
            Some(b"ab".to_vec())
        );
        sm.apply(5, &op(OpKind::Put, "k", "x", "c", 5));
        assert_eq!(sm.read(b"k"), Some(&b"x".to_vec()));
        assert_eq!(sm.last_applied(), 5);
    }

    #[test]
    fn a_retried_append_applies_once_per_client() {
        let mut sm = KvStateMachine::default();
        sm.apply(1, &op(OpKind::Append, "k", "a", "c1", 1));
        sm.apply(2, &op(OpKind::Append, "k", "a", "c1", 1));
        sm.apply(3, &op(OpKind::Append, "k", "b", "c2", 1));
        sm.apply(4, &op(OpKind::Append, "k", "c", "c1", 2));
        assert_eq!(sm.read(b"k"), Some(&b"abc".to_vec()));
        assert!(sm.is_duplicate(&op(OpKind::Append, "k", "c", "c1", 2)));
        assert!(!sm.is_duplicate(&op(OpKind::Append, "k", "d", "c1", 3)));
        assert!(!sm.is_duplicate(&op(OpKind::Append, "k", "a", "new", 1)));
    }

    #[test]
    fn snapshot_round_trips_data_and_dedup() {
        let mut sm = KvStateMachine::default();
        for i in 0..50 {
            sm.apply(
                i + 1,
                &op(OpKind::Put, &format!("k{i}"), "v", "c", i as i64 + 1),
            );
        }
        let restored = KvStateMachine::restore(&sm.snapshot()).unwrap();
        assert_eq!(restored.len(), 50);
        assert_eq!(restored.last_applied(), 50);
        assert!(restored.is_duplicate(&op(OpKind::Put, "k49", "v", "c", 50)));
        assert!(KvStateMachine::restore(b"garbage").is_err());
    }

    #[test]
    fn a_one_key_snapshot_is_small() {
        let mut sm = KvStateMachine::default();
        for i in 0..1000 {
            sm.apply(
                i + 1,
                &op(
                    OpKind::Put,
                    "k",
                    "value",
                    "client-0123456789abcdef",
                    i as i64,
                ),
            );
        }
        assert!(sm.snapshot().len() < 500, "{} bytes", sm.snapshot().len());
    }
}
