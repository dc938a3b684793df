//! The replicated state machine: the skip list plus the dedup table, and
//! the pure apply step both the leader and the followers run.

use proto::KvErr;
use serde::{Deserialize, Serialize};
use skiplist::SkipList;

use crate::codec;
use crate::config::MAX_STORED_VALUE_BYTES;
use crate::dedup::DedupTable;
use crate::op::{Op, OpKind};

/// The store's data and what it needs to apply each request at most once.
#[derive(Default)]
pub struct KvStateMachine {
    data: SkipList<Vec<u8>, Vec<u8>>,
    /// The writes each client had applied recently.
    dedup: DedupTable,
    /// The log index of the last entry applied (or the snapshot's index).
    last_applied: u64,
}

/// What a snapshot holds: everything `KvStateMachine` is.
#[derive(Serialize, Deserialize)]
struct SnapshotImage {
    last_applied: u64,
    data: Vec<(Vec<u8>, Vec<u8>)>,
    dedup: DedupTable,
}

impl KvStateMachine {
    /// Applies the op committed at `index` and returns what a Get reads
    /// (`None` for a missing key, and for Put and Append).
    ///
    /// A Put or Append already applied for its client is skipped: that is
    /// what makes the Clerk's retries safe. Gets change nothing, so they are
    /// simply executed at their place in the log, which makes them
    /// linearizable. A write that would leave a value over
    /// [`MAX_STORED_VALUE_BYTES`] changes nothing and is `Err(TooLarge)`:
    /// decided here, from the log alone, so every replica decides alike.
    pub fn apply(&mut self, index: u64, op: &Op) -> Result<Option<Vec<u8>>, KvErr> {
        self.last_applied = index;
        match op.kind {
            OpKind::Get => Ok(self.data.search(&op.key).cloned()),
            OpKind::Put | OpKind::Append => {
                if self.dedup.is_duplicate(op) {
                    return Ok(None);
                }
                if self.stored_len_after(op) > MAX_STORED_VALUE_BYTES {
                    // Not recorded as applied: a retry is refused alike.
                    return Err(KvErr::TooLarge);
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
                Ok(None)
            }
        }
    }

    /// How long the value of `op.key` would be after the write `op`.
    fn stored_len_after(&self, op: &Op) -> usize {
        match op.kind {
            OpKind::Append => self
                .data
                .search(&op.key)
                .map_or(0, Vec::len)
                .saturating_add(op.value.len()),
            OpKind::Put | OpKind::Get => op.value.len(),
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

    /// Serializes the whole state for Raft's snapshot.
    pub fn snapshot(&self) -> Vec<u8> {
        let image = SnapshotImage {
            last_applied: self.last_applied,
            data: self
                .data
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            dedup: self.dedup.clone(),
        };
        codec::encode(&image)
    }

    /// Rebuilds the state from a snapshot taken by [`snapshot`](Self::snapshot).
    pub fn restore(bytes: &[u8]) -> Result<KvStateMachine, String> {
        let image: SnapshotImage = codec::decode(bytes)?;
        let mut data = SkipList::new();
        for (key, value) in image.data {
            data.insert_or_set(key, value);
        }
        Ok(KvStateMachine {
            data,
            dedup: image.dedup,
            last_applied: image.last_applied,
        })
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
        assert_eq!(sm.apply(1, &op(OpKind::Get, "k", "", "c", 1)), Ok(None));
        sm.apply(2, &op(OpKind::Append, "k", "a", "c", 2)).unwrap();
        sm.apply(3, &op(OpKind::Append, "k", "b", "c", 3)).unwrap();
        assert_eq!(
            sm.apply(4, &op(OpKind::Get, "k", "", "c", 4)),
            Ok(Some(b"ab".to_vec()))
        );
        sm.apply(5, &op(OpKind::Put, "k", "x", "c", 5)).unwrap();
        assert_eq!(sm.read(b"k"), Some(&b"x".to_vec()));
        assert_eq!(sm.last_applied(), 5);
    }

    #[test]
    fn a_retried_append_applies_once_per_client() {
        let mut sm = KvStateMachine::default();
        sm.apply(1, &op(OpKind::Append, "k", "a", "c1", 1)).unwrap();
        sm.apply(2, &op(OpKind::Append, "k", "a", "c1", 1)).unwrap();
        sm.apply(3, &op(OpKind::Append, "k", "b", "c2", 1)).unwrap();
        sm.apply(4, &op(OpKind::Append, "k", "c", "c1", 2)).unwrap();
        assert_eq!(sm.read(b"k"), Some(&b"abc".to_vec()));
        assert!(sm.is_duplicate(&op(OpKind::Append, "k", "c", "c1", 2)));
        assert!(!sm.is_duplicate(&op(OpKind::Append, "k", "d", "c1", 3)));
        assert!(!sm.is_duplicate(&op(OpKind::Append, "k", "a", "new", 1)));
    }

    #[test]
    fn an_append_past_the_stored_value_cap_changes_nothing_on_any_replica() {
        let mut sm = KvStateMachine::default();
        let base = vec![b'x'; MAX_STORED_VALUE_BYTES - 10];
        let put = Op {
            kind: OpKind::Put,
            key: b"k".to_vec(),
            value: base,
            client_id: b"c".to_vec(),
            request_id: 1,
        };
        assert_eq!(sm.apply(1, &put), Ok(None));
        // Exactly up to the cap is fine.
        let fill = op(OpKind::Append, "k", "0123456789", "c", 2);
        assert_eq!(sm.apply(2, &fill), Ok(None));
        assert_eq!(sm.read(b"k").map(Vec::len), Some(MAX_STORED_VALUE_BYTES));
        // One byte more is refused, changes nothing, and is not a "duplicate"
        // a retry would be told OK for.
        let over = op(OpKind::Append, "k", "!", "c", 3);
        assert_eq!(sm.apply(3, &over), Err(KvErr::TooLarge));
        assert_eq!(sm.apply(4, &over), Err(KvErr::TooLarge));
        assert_eq!(sm.read(b"k").map(Vec::len), Some(MAX_STORED_VALUE_BYTES));
        assert!(!sm.is_duplicate(&over));
        assert_eq!(sm.last_applied(), 4);
        // Another key, and a Put that shrinks the value, are untouched by it.
        assert_eq!(sm.apply(5, &op(OpKind::Append, "j", "!", "c", 5)), Ok(None));
        assert_eq!(
            sm.apply(6, &op(OpKind::Put, "k", "small", "c", 6)),
            Ok(None)
        );
        assert_eq!(sm.apply(7, &over), Ok(None));
        assert_eq!(sm.read(b"k"), Some(&b"small!".to_vec()));
    }

    #[test]
    fn snapshot_round_trips_data_and_dedup() {
        let mut sm = KvStateMachine::default();
        for i in 0..50 {
            sm.apply(
                i + 1,
                &op(OpKind::Put, &format!("k{i}"), "v", "c", i as i64 + 1),
            )
            .unwrap();
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
            )
            .unwrap();
        }
        assert!(sm.snapshot().len() < 500, "{} bytes", sm.snapshot().len());
    }
}
