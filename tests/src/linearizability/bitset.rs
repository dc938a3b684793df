//! A fixed-size set of operation indices: which operations the search has linearized so far.

/// A set of `0..len` packed in 64-bit words; cheap to clone, hash and compare.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Bitset {
    words: Vec<u64>,
}

impl Bitset {
    /// The empty set over `0..len`.
    pub(crate) fn new(len: usize) -> Self {
        Bitset {
            words: vec![0; len.div_ceil(64)],
        }
    }

    pub(crate) fn set(&mut self, i: usize) {
        self.words[i / 64] |= 1 << (i % 64);
    }

    pub(crate) fn clear(&mut self, i: usize) {
        self.words[i / 64] &= !(1 << (i % 64));
    }

    #[cfg(test)]
    pub(crate) fn contains(&self, i: usize) -> bool {
        self.words[i / 64] & (1 << (i % 64)) != 0
    }

    pub(crate) fn words(&self) -> &[u64] {
        &self.words
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_and_clear_touch_only_their_bit() {
        let mut set = Bitset::new(130);
        set.set(0);
        set.set(64);
        set.set(129);
        assert!(set.contains(0) && set.contains(64) && set.contains(129));
        assert!(!set.contains(1) && !set.contains(63) && !set.contains(128));
        set.clear(64);
        assert!(!set.contains(64) && set.contains(129));
        assert_eq!(set.words().len(), 3);
    }
}
