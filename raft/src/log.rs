//! The replicated log in memory: absolute indexes over a snapshot offset.
//!
//! Index 0 with term 0 is the sentinel before the first entry. After a
//! snapshot through index `s` the log starts at `s + 1`, and `s` keeps its
//! term so the log-matching check (§5.3) still works at the boundary. Every
//! index here and in the rest of the crate is absolute.

use proto::raft::LogEntry;

mod entries;

use entries::Entries;

/// The log entries after the latest snapshot.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Log {
    snapshot_index: u64,
    snapshot_term: u64,
    /// The entry at position `i` has index `snapshot_index + 1 + i`.
    entries: Entries,
}

/// What [`Log::compact_to`] did.
#[must_use]
pub struct Compaction {
    /// The entries after the snapshot stayed (the log held its last entry).
    pub kept_suffix: bool,
    /// The discarded entries, for the caller to drop once it has released
    /// its locks: freeing a million commands takes milliseconds.
    pub discarded: Vec<Vec<LogEntry>>,
}

/// What a follower must do to its log to accept an AppendEntries (§5.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppendCheck {
    /// `prev_log_index`/`prev_log_term` match. Entries from index
    /// `truncate_from` on conflict with the leader's (if any), and the
    /// leader's entries from position `skip` on are to be appended.
    Match {
        truncate_from: Option<u64>,
        skip: usize,
    },
    /// The logs do not match at `prev_log_index`; the leader should try
    /// `next_index` next (fast backup).
    Mismatch { next_index: u64 },
}

impl Log {
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds the log from what a persister recovered. The entries must be
    /// contiguous and start right after the snapshot.
    pub fn restore(
        snapshot_index: u64,
        snapshot_term: u64,
        entries: Vec<LogEntry>,
    ) -> Result<Self, String> {
        let mut prev_term = snapshot_term;
        for (i, e) in entries.iter().enumerate() {
            let want = snapshot_index + 1 + i as u64;
            if e.log_index != want {
                return Err(format!("entry {i} has index {}, want {want}", e.log_index));
            }
            if e.log_term < prev_term {
                return Err(format!("term goes backwards at index {want}"));
            }
            prev_term = e.log_term;
        }
        Ok(Self {
            snapshot_index,
            snapshot_term,
            entries: entries.into(),
        })
    }

    pub fn snapshot_index(&self) -> u64 {
        self.snapshot_index
    }

    pub fn snapshot_term(&self) -> u64 {
        self.snapshot_term
    }

    /// The index of the first entry still held (one past the snapshot).
    pub fn first_index(&self) -> u64 {
        self.snapshot_index + 1
    }

    pub fn last_index(&self) -> u64 {
        self.snapshot_index + self.entries.len() as u64
    }

    pub fn last_term(&self) -> u64 {
        self.entries
            .last()
            .map_or(self.snapshot_term, |e| e.log_term)
    }

    /// The term of the entry at `index`, also known for the snapshot's last
    /// index; `None` if compacted away or not yet written.
    pub fn term(&self, index: u64) -> Option<u64> {
        if index == self.snapshot_index {
            return Some(self.snapshot_term);
        }
        self.entry(index).map(|e| e.log_term)
    }

    pub fn entry(&self, index: u64) -> Option<&LogEntry> {
        let pos = index.checked_sub(self.first_index())?;
        self.entries.get(usize::try_from(pos).ok()?)
    }

    /// Appends a new entry at the end and returns its index.
    pub fn append_new(&mut self, term: u64, command: Vec<u8>) -> u64 {
        let index = self.last_index() + 1;
        self.entries.push(LogEntry {
            command,
            log_term: term,
            log_index: index,
            config: None,
        });
        index
    }

    /// Appends a configuration entry (no command) and returns its index.
    pub fn append_config(&mut self, term: u64, config: proto::raft::Configuration) -> u64 {
        let index = self.last_index() + 1;
        self.entries.push(LogEntry {
            command: Vec::new(),
            log_term: term,
            log_index: index,
            config: Some(config),
        });
        index
    }

    /// Appends entries that continue the log (their indexes are rewritten to
    /// be safe against a sender that numbered them wrongly).
    pub fn extend(&mut self, entries: impl IntoIterator<Item = LogEntry>) {
        for mut e in entries {
            e.log_index = self.last_index() + 1;
            self.entries.push(e);
        }
    }

    /// Drops every entry with an index `>= from` (never the snapshot).
    pub fn truncate_from(&mut self, from: u64) {
        let keep = from.saturating_sub(self.first_index());
        if let Ok(keep) = usize::try_from(keep) {
            self.entries.truncate(keep);
        }
    }

    /// The entries `from..=to`, clipped to what the log holds.
    pub fn range(&self, from: u64, to: u64) -> impl Iterator<Item = &LogEntry> {
        self.runs(from, to).flatten()
    }

    /// The entries `from..=to`, clipped to what the log holds, as a few
    /// contiguous slices (the log is stored in runs; see `log/entries.rs`).
    pub fn runs(&self, from: u64, to: u64) -> impl Iterator<Item = &[LogEntry]> {
        let first = self.first_index();
        let pos = |index: u64| usize::try_from(index.saturating_sub(first)).unwrap_or(usize::MAX);
        let end = if to < first {
            0
        } else {
            pos(to).saturating_add(1)
        };
        self.entries.runs(pos(from), end)
    }

    /// Up to `max_entries` entries from `from` on, stopping once they carry
    /// `max_bytes` of commands (but always at least one entry if any).
    pub fn entries_from(&self, from: u64, max_entries: usize, max_bytes: usize) -> Vec<LogEntry> {
        let mut bytes = 0usize;
        let mut out = Vec::new();
        for e in self.range(from, self.last_index()) {
            if out.len() >= max_entries || (!out.is_empty() && bytes + e.command.len() > max_bytes)
            {
                break;
            }
            bytes += e.command.len();
            out.push(e.clone());
        }
        out
    }

    /// Discards the log through `index` for a snapshot ending there with
    /// `term`. If the log holds that very entry, the suffix after it stays
    /// (§7: "retain log entries following it"); otherwise the whole log goes.
    pub fn compact_to(&mut self, index: u64, term: u64) -> Compaction {
        if index <= self.snapshot_index {
            return Compaction {
                kept_suffix: self.term(index) == Some(term),
                discarded: Vec::new(),
            };
        }
        let kept_suffix = self.term(index) == Some(term);
        let discarded = if kept_suffix {
            let drop = usize::try_from(index - self.snapshot_index).unwrap_or(usize::MAX);
            self.entries.split_front(drop)
        } else {
            self.entries.take_all()
        };
        self.snapshot_index = index;
        self.snapshot_term = term;
        Compaction {
            kept_suffix,
            discarded,
        }
    }

    /// §5.4.1: is a candidate whose log ends at (`last_term`, `last_index`)
    /// at least as up-to-date as this log?
    pub fn is_up_to_date(&self, last_term: u64, last_index: u64) -> bool {
        (last_term, last_index) >= (self.last_term(), self.last_index())
    }

    /// The log-matching check of a follower (§5.3) with fast backup: on a
    /// mismatch, the index the leader should try next is one past our last
    /// entry if our log is too short, else the first index of the
    /// conflicting term. On a match, only a real conflict truncates: entries
    /// that agree with the leader's are kept even when the request is stale
    /// and shorter than our log.
    pub fn check_append(
        &self,
        prev_index: u64,
        prev_term: u64,
        entries: &[LogEntry],
    ) -> AppendCheck {
        // Everything through the snapshot is committed, hence matches.
        let mut skip = 0usize;
        if prev_index < self.snapshot_index {
            let covered = self.snapshot_index - prev_index;
            skip = usize::try_from(covered)
                .unwrap_or(usize::MAX)
                .min(entries.len());
        } else if prev_index > self.last_index() {
            return AppendCheck::Mismatch {
                next_index: self.last_index() + 1,
            };
        } else if self.term(prev_index) != Some(prev_term) {
            let conflict_term = self.term(prev_index).unwrap_or(0);
            let mut first = prev_index;
            while first > self.first_index() && self.term(first - 1) == Some(conflict_term) {
                first -= 1;
            }
            return AppendCheck::Mismatch { next_index: first };
        }
        let mut truncate_from = None;
        while skip < entries.len() {
            let index = prev_index + 1 + skip as u64;
            match self.term(index) {
                Some(t) if t == entries[skip].log_term => skip += 1,
                Some(_) => {
                    truncate_from = Some(index);
                    break;
                }
                None => break,
            }
        }
        AppendCheck::Match {
            truncate_from,
            skip,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    fn e(index: u64, term: u64) -> LogEntry {
        LogEntry {
            command: vec![index as u8],
            log_term: term,
            log_index: index,
            config: None,
        }
    }

    /// A log with the given terms at indexes 1, 2, ...
    /// A log holding one entry per term given, in order (for tests).
    pub(crate) fn log_of(terms: &[u64]) -> Log {
        let mut log = Log::new();
        for &t in terms {
            log.append_new(t, vec![0]);
        }
        log
    }

    #[test]
    fn empty_log_has_the_sentinel() {
        let log = Log::new();
        assert_eq!((log.last_index(), log.last_term()), (0, 0));
        assert_eq!(log.term(0), Some(0));
        assert_eq!(log.term(1), None);
        assert_eq!(log.first_index(), 1);
    }

    #[test]
    fn append_and_lookup_use_absolute_indexes() {
        let mut log = log_of(&[1, 1, 2]);
        assert_eq!(log.last_index(), 3);
        assert_eq!(log.term(3), Some(2));
        assert_eq!(log.entry(2).unwrap().log_index, 2);
        log.truncate_from(2);
        assert_eq!(log.last_index(), 1);
        assert_eq!(log.append_new(3, vec![]), 2);
    }

    #[test]
    fn compaction_keeps_suffix_only_on_matching_entry() {
        let mut log = log_of(&[1, 1, 2, 2, 3]);
        assert!(log.compact_to(3, 2).kept_suffix);
        assert_eq!((log.first_index(), log.last_index()), (4, 5));
        assert_eq!(log.term(3), Some(2));
        assert_eq!(log.term(2), None);
        assert_eq!(log.entry(4).unwrap().log_index, 4);
        // A snapshot whose last entry we do not have wipes the log.
        assert!(!log.compact_to(5, 9).kept_suffix);
        assert_eq!((log.last_index(), log.last_term()), (5, 9));
        // One past the end as well.
        assert!(!log.compact_to(10, 9).kept_suffix);
        assert_eq!(log.last_index(), 10);
        assert_eq!(log.range(1, 100).count(), 0);
    }

    #[test]
    fn a_long_log_compacts_and_reads_across_runs() {
        let mut log = log_of(&[1; 10_000]);
        assert!(log.compact_to(5_000, 1).kept_suffix);
        assert_eq!((log.first_index(), log.last_index()), (5_001, 10_000));
        let got: Vec<u64> = log.range(8_000, 8_300).map(|e| e.log_index).collect();
        assert_eq!(got, (8_000..=8_300).collect::<Vec<_>>());
        let stored: usize = log.runs(1, 10_000).map(<[LogEntry]>::len).sum();
        assert_eq!(stored, 5_000);
        log.truncate_from(9_000);
        assert_eq!(log.last_index(), 8_999);
        assert_eq!(log.entry(8_999).unwrap().log_index, 8_999);
    }

    #[test]
    fn restore_checks_contiguity() {
        assert!(Log::restore(5, 2, vec![e(6, 2), e(7, 3)]).is_ok());
        assert!(Log::restore(5, 2, vec![e(7, 2)]).is_err());
        assert!(Log::restore(5, 2, vec![e(6, 1)]).is_err());
    }

    #[test]
    fn entries_from_respects_both_limits() {
        let log = log_of(&[1; 10]);
        assert_eq!(log.entries_from(3, 4, usize::MAX).len(), 4);
        assert_eq!(log.entries_from(3, 100, 2).len(), 2);
        assert_eq!(log.entries_from(3, 100, 0).len(), 1);
        assert_eq!(log.entries_from(11, 100, 100).len(), 0);
        assert_eq!(log.entries_from(9, 100, 100)[0].log_index, 9);
    }

    #[test]
    fn up_to_date_compares_term_then_index() {
        let log = log_of(&[1, 2, 2]);
        assert!(log.is_up_to_date(2, 3));
        assert!(log.is_up_to_date(3, 1));
        assert!(!log.is_up_to_date(2, 2));
        assert!(!log.is_up_to_date(1, 10));
    }

    #[test]
    fn too_short_follower_asks_for_its_end() {
        let log = log_of(&[1, 1]);
        assert_eq!(
            log.check_append(5, 1, &[]),
            AppendCheck::Mismatch { next_index: 3 }
        );
    }

    #[test]
    fn conflicting_term_backs_up_to_its_first_index() {
        let log = log_of(&[1, 2, 2, 2]);
        assert_eq!(
            log.check_append(4, 3, &[]),
            AppendCheck::Mismatch { next_index: 2 }
        );
    }

    #[test]
    fn stale_shorter_append_never_truncates() {
        let log = log_of(&[1, 1, 1, 1]);
        assert_eq!(
            log.check_append(1, 1, &[e(2, 1)]),
            AppendCheck::Match {
                truncate_from: None,
                skip: 1
            }
        );
    }

    #[test]
    fn real_conflict_truncates_there() {
        let log = log_of(&[1, 1, 1, 1]);
        assert_eq!(
            log.check_append(1, 1, &[e(2, 1), e(3, 2), e(4, 2)]),
            AppendCheck::Match {
                truncate_from: Some(3),
                skip: 1
            }
        );
    }

    #[test]
    fn entries_behind_the_snapshot_are_skipped() {
        let mut log = log_of(&[1, 1, 1, 1]);
        let _ = log.compact_to(3, 1);
        assert_eq!(
            log.check_append(1, 1, &[e(2, 1), e(3, 1), e(4, 1), e(5, 1)]),
            AppendCheck::Match {
                truncate_from: None,
                skip: 3
            }
        );
        assert_eq!(
            log.check_append(0, 0, &[e(1, 1)]),
            AppendCheck::Match {
                truncate_from: None,
                skip: 1
            }
        );
    }

    /// Applies an append as the follower's handler does.
    fn apply(log: &mut Log, prev: u64, prev_term: u64, entries: &[LogEntry]) -> Result<(), u64> {
        match log.check_append(prev, prev_term, entries) {
            AppendCheck::Mismatch { next_index } => Err(next_index),
            AppendCheck::Match {
                truncate_from,
                skip,
            } => {
                if let Some(from) = truncate_from {
                    log.truncate_from(from);
                }
                if prev + 1 + skip as u64 == log.last_index() + 1 {
                    log.extend(entries[skip..].iter().cloned());
                }
                Ok(())
            }
        }
    }

    /// Non-decreasing terms, as every log has.
    fn terms(max_len: usize) -> impl Strategy<Value = Vec<u64>> {
        proptest::collection::vec(0u64..3, 0..max_len).prop_map(|steps| {
            let mut t = 1;
            steps
                .iter()
                .map(|s| {
                    t += s;
                    t
                })
                .collect()
        })
    }

    proptest::proptest! {
        /// Whatever a follower held, a leader's append through `prev + n`
        /// either leaves it agreeing with the leader through that index (and
        /// keeps a longer matching tail), or is refused with a backup hint
        /// that never skips past `prev`.
        #[test]
        fn append_matches_leader_or_backs_up(
            leader in terms(30),
            shared in 0usize..30,
            tail in terms(10),
            prev_pick in 0usize..31,
            n_pick in 0usize..31,
        ) {
            let shared = shared.min(leader.len());
            let base = leader.get(shared.wrapping_sub(1)).copied().unwrap_or(0);
            let mut follower = log_of(&leader[..shared]);
            // A diverging tail with terms the leader never used at those indexes.
            for t in &tail {
                follower.append_new(base + 100 + t, vec![9]);
            }
            let before = follower.clone();
            let leader_log = log_of(&leader);
            let prev = (prev_pick % (leader.len() + 1)) as u64;
            let n = n_pick % (leader.len() - prev as usize + 1);
            let sent: Vec<LogEntry> = leader_log.range(prev + 1, prev + n as u64).cloned().collect();
            match apply(&mut follower, prev, leader_log.term(prev).unwrap(), &sent) {
                Ok(()) => {
                    let through = prev + n as u64;
                    for i in 1..=through {
                        prop_assert_eq!(follower.term(i), leader_log.term(i));
                    }
                    if (1..=before.last_index()).all(|i| before.term(i) == leader_log.term(i)) {
                        prop_assert!(follower.last_index() >= before.last_index());
                    }
                }
                Err(next) => {
                    prop_assert!(next >= 1 && next <= prev);
                    prop_assert_eq!(follower, before);
                }
            }
        }
    }
}
