//! The configurations a node holds: the one in force at its snapshot's
//! last index, and every configuration entry of its log after that. A node
//! uses the latest one, committed or not (thesis §4.1); truncating a
//! conflicting suffix reverts to the one before it, and compaction folds
//! the entries a snapshot covers into its base.

use super::Configuration;

/// A node's configurations, by log index.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct History {
    /// The configuration in force at `base_index` (the snapshot's last
    /// index, or 0 for the one a node starts with).
    base_index: u64,
    base: Configuration,
    /// Configuration entries after `base_index`, in index order.
    entries: Vec<(u64, Configuration)>,
}

impl History {
    pub fn new(base_index: u64, base: Configuration) -> History {
        History {
            base_index,
            base,
            entries: Vec::new(),
        }
    }

    /// The configuration in force: the latest in the log.
    pub fn current(&self) -> &Configuration {
        self.entries.last().map_or(&self.base, |(_, c)| c)
    }

    /// The log index of the entry that made `current` (the base index if none).
    pub fn current_index(&self) -> u64 {
        self.entries.last().map_or(self.base_index, |(i, _)| *i)
    }

    /// The configuration in force at `index` (what a snapshot through
    /// `index` must record).
    pub fn at(&self, index: u64) -> &Configuration {
        self.entries
            .iter()
            .rev()
            .find(|(i, _)| *i <= index)
            .map_or(&self.base, |(_, c)| c)
    }

    /// A configuration entry appended at `index`, which must be past every
    /// entry held (the log only grows at its end).
    pub fn push(&mut self, index: u64, config: Configuration) {
        debug_assert!(index > self.current_index());
        self.entries.push((index, config));
    }

    /// Forgets the entries from `from` on (a conflicting suffix, §5.3);
    /// returns whether the configuration in force changed.
    pub fn truncate_from(&mut self, from: u64) -> bool {
        let before = self.entries.len();
        self.entries.retain(|(i, _)| *i < from);
        self.entries.len() != before
    }

    /// A snapshot through `index` now holds what the log did: the base
    /// becomes the configuration in force there.
    pub fn compact_to(&mut self, index: u64) {
        if index <= self.base_index {
            return;
        }
        self.base = self.at(index).clone();
        self.base_index = index;
        self.entries.retain(|(i, _)| *i > index);
    }

    /// A snapshot through `index` from a leader, carrying `config`: it
    /// becomes the base; entries after it stay only if the log kept them.
    pub fn install(&mut self, index: u64, config: Configuration, kept_suffix: bool) {
        self.base = config;
        self.base_index = index;
        if kept_suffix {
            self.entries.retain(|(i, _)| *i > index);
        } else {
            self.entries.clear();
        }
    }

    /// The index of an uncommitted configuration entry, if any: a leader
    /// starts no new change until it is committed (one at a time, §4.1).
    pub fn pending(&self, commit_index: u64) -> Option<u64> {
        let index = self.current_index();
        (index > commit_index).then_some(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::membership::configuration::tests::conf;

    #[test]
    fn latest_entry_is_in_force_and_truncation_reverts() {
        let mut h = History::new(0, conf(&[0, 1, 2], &[]));
        h.push(5, conf(&[0, 1, 2], &[3]));
        h.push(9, conf(&[0, 1, 2, 3], &[]));
        assert_eq!(h.current(), &conf(&[0, 1, 2, 3], &[]));
        assert_eq!(h.current_index(), 9);
        assert_eq!(h.at(8), &conf(&[0, 1, 2], &[3]));
        assert_eq!(h.at(4), &conf(&[0, 1, 2], &[]));
        assert!(h.truncate_from(7));
        assert_eq!(h.current(), &conf(&[0, 1, 2], &[3]));
        assert!(!h.truncate_from(7));
        assert!(h.truncate_from(5));
        assert_eq!(h.current(), &conf(&[0, 1, 2], &[]));
        assert_eq!(h.current_index(), 0);
    }

    #[test]
    fn compaction_folds_covered_entries_into_the_base() {
        let mut h = History::new(0, conf(&[0], &[]));
        h.push(3, conf(&[0], &[1]));
        h.push(6, conf(&[0, 1], &[]));
        h.compact_to(4);
        assert_eq!(h.at(4), &conf(&[0], &[1]));
        assert_eq!(h.current(), &conf(&[0, 1], &[]));
        // Truncating after the snapshot cannot lose the base.
        h.truncate_from(5);
        assert_eq!(h.current(), &conf(&[0], &[1]));
        assert_eq!(h.current_index(), 4);
    }

    #[test]
    fn a_leaders_snapshot_replaces_the_base() {
        let mut h = History::new(0, Configuration::default());
        h.push(2, conf(&[9], &[]));
        h.install(10, conf(&[0, 1, 2], &[]), false);
        assert_eq!(h.current(), &conf(&[0, 1, 2], &[]));
        assert_eq!(h.current_index(), 10);
    }

    #[test]
    fn pending_until_committed() {
        let mut h = History::new(0, conf(&[0], &[]));
        assert_eq!(h.pending(0), None);
        h.push(4, conf(&[0], &[1]));
        assert_eq!(h.pending(3), Some(4));
        assert_eq!(h.pending(4), None);
    }
}
