//! The memo of (linearized set, state) pairs already explored (Lowe's pruning).
//!
//! Two search paths that linearized the same operations and reached the same state have the
//! same future, so the second is cut. Entries are bucketed by a 64-bit hash computed once;
//! the full pair is compared only inside a bucket.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

use super::bitset::Bitset;

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
}

impl<S: Clone + Eq + Hash> Cache<S> {
    pub(crate) fn new() -> Self {
        Cache {
            buckets: HashMap::default(),
        }
    }

    /// Records the pair; false if it was already there (the path can be pruned).
    pub(crate) fn insert(&mut self, linearized: &Bitset, state: &S) -> bool {
        let mut hasher = DefaultHasher::new();
        linearized.words().hash(&mut hasher);
        state.hash(&mut hasher);
        let bucket = self.buckets.entry(hasher.finish()).or_default();
        if bucket.iter().any(|(l, s)| l == linearized && s == state) {
            return false;
        }
        bucket.push((linearized.clone(), state.clone()));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_is_new_once() {
        let mut cache = Cache::new();
        let mut set = Bitset::new(10);
        assert!(cache.insert(&set, &"x".to_string()));
        assert!(!cache.insert(&set, &"x".to_string()));
        assert!(cache.insert(&set, &"y".to_string()));
        set.set(3);
        assert!(cache.insert(&set, &"x".to_string()));
    }
}
