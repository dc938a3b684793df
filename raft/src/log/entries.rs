//! The log's entries in runs of a fixed size, so that an append never
//! moves the entries already there.
//!
//! The log was one `Vec`, which doubles as it grows: the push that took it
//! past 512k entries copied 48 MB, and the one past 1M entries 96 MB (43
//! and 75 ms measured on the 2-core VM), all under the state lock that
//! `start`, heartbeats and reads wait for. A log grows that long between
//! snapshots of a large store, and without bound when nothing snapshots.

use proto::raft::LogEntry;

/// Entries per run (384 KiB of 96-byte entries).
const RUN: usize = 4096;

/// Entries by position, from 0. Every run is full but the last, which is
/// never empty; so two logs of equal entries are equal runs too.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Entries {
    runs: Vec<Vec<LogEntry>>,
}

impl Entries {
    pub(super) fn len(&self) -> usize {
        self.runs
            .last()
            .map_or(0, |last| (self.runs.len() - 1) * RUN + last.len())
    }

    pub(super) fn get(&self, pos: usize) -> Option<&LogEntry> {
        self.runs.get(pos / RUN)?.get(pos % RUN)
    }

    pub(super) fn last(&self) -> Option<&LogEntry> {
        self.runs.last()?.last()
    }

    pub(super) fn push(&mut self, entry: LogEntry) {
        match self.runs.last_mut() {
            Some(last) if last.len() < RUN => last.push(entry),
            _ => {
                let mut run = Vec::with_capacity(RUN);
                run.push(entry);
                self.runs.push(run);
            }
        }
    }

    /// Keeps the first `keep` entries.
    pub(super) fn truncate(&mut self, keep: usize) {
        if keep >= self.len() {
            return;
        }
        let runs = keep.div_ceil(RUN);
        self.runs.truncate(runs);
        if let Some(last) = self.runs.last_mut() {
            last.truncate(keep - (runs - 1) * RUN);
        }
    }

    /// The entries at positions `from..end` (clipped to the log), as the
    /// contiguous pieces of the runs that hold them.
    pub(super) fn runs(&self, from: usize, end: usize) -> impl Iterator<Item = &[LogEntry]> {
        let end = end.min(self.len());
        let runs = if from < end {
            from / RUN..end.div_ceil(RUN)
        } else {
            0..0
        };
        runs.map(move |r| {
            let base = r * RUN;
            &self.runs[r][from.max(base) - base..end.min(base + RUN) - base]
        })
    }

    /// Removes the first `count` entries and returns them, for the caller
    /// to drop once it has released its locks (freeing a million commands
    /// takes milliseconds). The entries left move only if `count` is not
    /// a whole number of runs.
    pub(super) fn split_front(&mut self, count: usize) -> Vec<Vec<LogEntry>> {
        let count = count.min(self.len());
        let mut old = std::mem::take(&mut self.runs).into_iter();
        let mut front: Vec<Vec<LogEntry>> = old.by_ref().take(count / RUN).collect();
        if !count.is_multiple_of(RUN) {
            if let Some(mut run) = old.next() {
                let rest = run.split_off(count % RUN);
                front.push(run);
                rest.into_iter().for_each(|e| self.push(e));
                old.flatten().for_each(|e| self.push(e));
                return front;
            }
        }
        self.runs.extend(old);
        front
    }

    /// Every entry, for the caller to drop (see [`split_front`](Self::split_front)).
    pub(super) fn take_all(&mut self) -> Vec<Vec<LogEntry>> {
        std::mem::take(&mut self.runs)
    }
}

impl From<Vec<LogEntry>> for Entries {
    fn from(entries: Vec<LogEntry>) -> Self {
        let mut out = Entries::default();
        entries.into_iter().for_each(|e| out.push(e));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(index: u64) -> LogEntry {
        LogEntry {
            command: index.to_le_bytes().to_vec(),
            log_term: 1,
            log_index: index,
            config: None,
        }
    }

    fn indexes(e: &Entries, from: usize, end: usize) -> Vec<u64> {
        e.runs(from, end).flatten().map(|e| e.log_index).collect()
    }

    proptest! {
        /// Against a plain `Vec`: pushes, truncations and front splits
        /// across run boundaries leave the same entries, in canonical runs.
        #[test]
        fn behaves_like_one_vec(
            ops in prop::collection::vec((0u8..3, 0usize..3 * RUN), 1..12),
        ) {
            let (mut runs, mut plain, mut next) = (Entries::default(), Vec::new(), 0u64);
            for (op, n) in ops {
                match op {
                    0 => for _ in 0..n {
                        runs.push(entry(next));
                        plain.push(entry(next));
                        next += 1;
                    },
                    1 => {
                        runs.truncate(n);
                        plain.truncate(n);
                    }
                    _ => {
                        let front: Vec<u64> =
                            runs.split_front(n).into_iter().flatten().map(|e| e.log_index).collect();
                        let want: Vec<u64> =
                            plain.drain(..n.min(plain.len())).map(|e| e.log_index).collect();
                        prop_assert_eq!(front, want);
                    }
                }
                prop_assert_eq!(runs.len(), plain.len());
                prop_assert_eq!(&runs, &Entries::from(plain.clone()));
                let all: Vec<u64> = plain.iter().map(|e| e.log_index).collect();
                prop_assert_eq!(indexes(&runs, 0, usize::MAX), all.clone());
                let (a, b) = (n.min(all.len()), (n * 7 / 3).min(all.len()));
                prop_assert_eq!(indexes(&runs, a, b), all[a..b.max(a)].to_vec());
                prop_assert_eq!(runs.last().map(|e| e.log_index), all.last().copied());
                prop_assert_eq!(runs.get(a).map(|e| e.log_index), all.get(a).copied());
            }
        }
    }

    #[test]
    fn a_run_boundary_splits_a_range_into_pieces() {
        let e = Entries::from((0..RUN as u64 + 10).map(entry).collect::<Vec<_>>());
        let pieces: Vec<usize> = e.runs(RUN - 2, RUN + 3).map(<[LogEntry]>::len).collect();
        assert_eq!(pieces, [2, 3]);
        assert_eq!(e.runs(5, 5).count(), 0);
        assert_eq!(e.runs(RUN + 20, RUN + 30).count(), 0);
    }
}
