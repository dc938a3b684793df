//! The memo of (linearized set, state) pairs already explored (Lowe's pruning).
//!
//! Two search paths that linearized the same operations and reached the same state have the
//! same future, so the second is cut. Entries are bucketed by a 64-bit hash computed once;
//! the full pair is compared only inside a bucket. The memo only prunes, so when it reaches
//! its memory budget it stops growing and the search goes on, slower but still exact.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

use super::bitset::Bitset;

/// What one memo entry costs beyond its bitset words and state: the two headers and the
/// hash table's share.
const ENTRY_OVERHEAD: usize = 64;

/// Passes an already-computed hash through, so buckets are not hashed twice.
#[derive(Default)]
struct PreHashed(u64);

impl Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is expected; fold anything else in rather than lose it.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// The set of explored (linearized, state) pairs.
pub(crate) struct Cache<S> {
    buckets: HashMap<u64, Vec<(Bitset, S)>, BuildHasherDefault<PreHashed>>,
    /// Roughly what the entries hold, and the most they may.
    bytes: usize,
    limit: usize,
}

impl<S: Clone + Eq + Hash> Cache<S> {
    /// An empty memo that stops growing past about `limit` bytes.
    pub(crate) fn new(limit: usize) -> Self {
        Cache {
            buckets: HashMap::default(),
            bytes: 0,
            limit,
        }
    }

    /// Records the pair, whose state holds about `state_bytes`; false if it was already there
    /// (the path can be pruned). Past the budget, new pairs are reported new but not kept.
    pub(crate) fn insert(&mut self, linearized: &Bitset, state: &S, state_bytes: usize) -> bool {
        let mut hasher = DefaultHasher::new();
        linearized.words().hash(&mut hasher);
        state.hash(&mut hasher);
        let hash = hasher.finish();
        if let Some(bucket) = self.buckets.get(&hash) {
            if bucket.iter().any(|(l, s)| l == linearized && s == state) {
                return false;
            }
        }
        let entry_bytes = 8 * linearized.words().len() + state_bytes + ENTRY_OVERHEAD;
        if self.bytes + entry_bytes <= self.limit {
            self.bytes += entry_bytes;
            let bucket = self.buckets.entry(hash).or_default();
            bucket.push((linearized.clone(), state.clone()));
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_is_new_once() {
        let mut cache = Cache::new(usize::MAX);
        let mut set = Bitset::new(10);
        assert!(cache.insert(&set, &"x".to_string(), 1));
        assert!(!cache.insert(&set, &"x".to_string(), 1));
        assert!(cache.insert(&set, &"y".to_string(), 1));
        set.set(3);
        assert!(cache.insert(&set, &"x".to_string(), 1));
    }

    #[test]
    fn a_full_cache_forgets_new_pairs_but_remembers_old_ones() {
        let set = Bitset::new(10);
        let mut cache = Cache::new(8 + 1 + ENTRY_OVERHEAD);
        assert!(cache.insert(&set, &1u8, 1));
        assert!(cache.insert(&set, &2u8, 1));
        assert!(cache.insert(&set, &2u8, 1), "over budget: not kept");
        assert!(!cache.insert(&set, &1u8, 1));
    }
}
