//! Saving and restoring a whole list (the original's `SkipListDump`, `dump_file`, `load_file`).
//!
//! A list serializes as a sequence of `(key, value)` pairs in key order, so
//! the KvServer can embed a `SkipList` in its own snapshot struct; `dump` and
//! `load` wrap that in the crate's codec for callers that want bytes.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{DeserializeOwned, Error as _, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::config::MAX_LEVEL_CAP;
use crate::node::Pos;
use crate::{codec, SkipList, SkipListError};

impl<K: Ord, V> SkipList<K, V> {
    /// The whole list as bytes (the original's `dump_file`, which went
    /// through a boost text archive).
    pub fn dump(&self) -> Result<Vec<u8>, SkipListError>
    where
        K: Serialize,
        V: Serialize,
    {
        codec::encode(self)
    }

    /// A list rebuilt from [`dump`](Self::dump)'s bytes (the original's
    /// `load_file`). Empty input is an empty list, as in the original: a
    /// server with no snapshot yet hands over no bytes. Corrupt, truncated or
    /// out-of-order input is an error.
    pub fn load(bytes: &[u8]) -> Result<Self, SkipListError>
    where
        K: DeserializeOwned,
        V: DeserializeOwned,
    {
        if bytes.is_empty() {
            return Ok(Self::new());
        }
        codec::decode(bytes)
    }
}

impl<K: Serialize, V: Serialize> Serialize for SkipList<K, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.len()))?;
        for entry in self {
            seq.serialize_element(&entry)?;
        }
        seq.end()
    }
}

impl<'de, K, V> Deserialize<'de> for SkipList<K, V>
where
    K: Ord + Deserialize<'de>,
    V: Deserialize<'de>,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(PairsVisitor(PhantomData))
    }
}

struct PairsVisitor<K, V>(PhantomData<fn() -> (K, V)>);

impl<'de, K, V> Visitor<'de> for PairsVisitor<K, V>
where
    K: Ord + Deserialize<'de>,
    V: Deserialize<'de>,
{
    type Value = SkipList<K, V>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence of (key, value) pairs in strictly ascending key order")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut list = SkipList::new();
        // A dump is sorted, so each pair goes after the last one in O(height)
        // instead of a fresh descent; anything unsorted was not written by us.
        let mut tail = [Pos::Head; MAX_LEVEL_CAP];
        while let Some((key, value)) = seq.next_element::<(K, V)>()? {
            if list.key_at(tail[0]).is_some_and(|last| *last >= key) {
                return Err(A::Error::custom("keys are not in strictly ascending order"));
            }
            list.push_last(&mut tail, key, value);
        }
        Ok(list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_then_load_gives_the_same_entries() {
        let mut list = SkipList::seeded(1);
        for (k, v) in [("b:1", "x"), ("a", ""), ("c:d:e", "y:z")] {
            list.insert(k.to_string(), v.to_string());
        }
        let bytes = list.dump().unwrap();
        let back: SkipList<String, String> = SkipList::load(&bytes).unwrap();
        assert_eq!(back, list);
        assert_eq!(back.search("c:d:e").map(String::as_str), Some("y:z"));
    }

    #[test]
    fn empty_input_is_an_empty_list_but_garbage_is_an_error() {
        let empty: SkipList<u64, u64> = SkipList::load(&[]).unwrap();
        assert!(empty.is_empty());
        let dumped = empty.dump().unwrap();
        assert_eq!(SkipList::<u64, u64>::load(&dumped), Ok(SkipList::new()));
        assert!(SkipList::<u64, u64>::load(&[0x05, 0x01]).is_err());
    }

    #[test]
    fn unsorted_or_duplicate_keys_are_rejected() {
        for pairs in [vec![(2u64, 0u64), (1, 0)], vec![(1, 0), (1, 1)]] {
            let bytes = codec::encode(&pairs).unwrap();
            let err = SkipList::<u64, u64>::load(&bytes).unwrap_err();
            assert!(
                matches!(&err, SkipListError::Decode(m) if m.contains("ascending")),
                "{err}"
            );
        }
    }

    #[test]
    fn a_list_embeds_in_a_larger_snapshot_struct() {
        #[derive(Serialize, Deserialize)]
        struct Snapshot {
            db: SkipList<String, String>,
            last_applied: u64,
        }
        let mut db = SkipList::new();
        db.insert("k".to_string(), "v".to_string());
        let bytes = codec::encode(&Snapshot {
            db,
            last_applied: 42,
        })
        .unwrap();
        let back: Snapshot = codec::decode(&bytes).unwrap();
        assert_eq!(back.last_applied, 42);
        assert_eq!(back.db.search("k").map(String::as_str), Some("v"));
    }
}
