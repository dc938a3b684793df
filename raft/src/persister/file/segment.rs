//! The log's segment files: `log-<index of its first entry, 20 digits>`,
//! each a run of records (see `record.rs`) with increasing indexes.
//!
//! Segments let log compaction delete files instead of copying what is
//! kept: once a snapshot covers every entry of a segment, the segment is
//! removed, and nothing is rewritten under the persister's lock.

use std::fs;
use std::path::{Path, PathBuf};

use super::io_err;
use crate::persister::PersistError;

/// A new segment is started once the active one holds this many bytes.
pub const DEFAULT_SEGMENT_BYTES: u64 = 8 << 20;

const PREFIX: &str = "log-";

/// One segment file, as the persister tracks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// The index its name carries: no entry in it is below, and every entry
    /// of a later segment is at or above the next segment's name.
    pub first_index: u64,
    /// Its length in bytes, buffered appends included.
    pub len: u64,
}

impl Segment {
    pub fn path(&self, dir: &Path) -> PathBuf {
        path(dir, self.first_index)
    }
}

/// The path of the segment whose first entry is `first_index`.
pub fn path(dir: &Path, first_index: u64) -> PathBuf {
    dir.join(format!("{PREFIX}{first_index:020}"))
}

/// The first indexes of the segment files in `dir`, in order.
pub fn list(dir: &Path) -> Result<Vec<u64>, PersistError> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let name = entry.map_err(io_err(dir))?.file_name();
        if let Some(index) = parse(&name.to_string_lossy()) {
            found.push(index);
        }
    }
    found.sort_unstable();
    Ok(found)
}

fn parse(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(PREFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// How many leading segments hold only entries at or below `covered`: each
/// of them is followed by a segment that starts at or below `covered + 1`.
/// The last segment is never counted (appends go there).
pub fn fully_covered(segments: &[Segment], covered: u64) -> usize {
    segments
        .windows(2)
        .take_while(|pair| pair[1].first_index <= covered.saturating_add(1))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(firsts: &[u64]) -> Vec<Segment> {
        firsts
            .iter()
            .map(|&first_index| Segment {
                first_index,
                len: 1,
            })
            .collect()
    }

    #[test]
    fn names_round_trip_and_sort_by_index() {
        let dir = tempfile::tempdir().unwrap();
        for index in [1000, 1, 20] {
            fs::write(path(dir.path(), index), b"").unwrap();
        }
        fs::write(dir.path().join("log-12"), b"").unwrap();
        fs::write(dir.path().join("log"), b"").unwrap();
        fs::write(dir.path().join("log-0000000000000000001x"), b"").unwrap();
        assert_eq!(list(dir.path()).unwrap(), vec![1, 20, 1000]);
    }

    #[test]
    fn a_segment_is_covered_once_the_next_one_starts_inside_the_snapshot() {
        let s = segs(&[1, 11, 21]);
        assert_eq!(fully_covered(&s, 0), 0);
        assert_eq!(fully_covered(&s, 9), 0);
        // Entries 1..=10 are covered once the snapshot reaches 10.
        assert_eq!(fully_covered(&s, 10), 1);
        assert_eq!(fully_covered(&s, 20), 2);
        // The last segment stays, however far the snapshot reaches.
        assert_eq!(fully_covered(&s, 1000), 2);
        assert_eq!(fully_covered(&segs(&[5]), 1000), 0);
    }
}
