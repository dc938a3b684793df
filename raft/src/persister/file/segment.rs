//! The log's segment files: `log-<index of its first entry, 20 digits>`,
//! each a run of records (see `record.rs`) with increasing indexes; and how
//! the persister starts, cuts and lets go of them.
//!
//! Segments let log compaction delete files instead of copying what is
//! kept: once a snapshot covers every entry of a segment, the segment is
//! removed, and nothing is rewritten under the persister's lock.

use std::fs;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::disk::LogFile;
use super::spare::{self, Preparation, Taken, SPARE};
use super::{durable, io_err, open_log, FilePersister, WRITE_BUFFER};
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

/// The persister's side of segments: the last one takes appends, a
/// truncation cuts one and deletes those after it, a snapshot lets the
/// covered ones go.
impl FilePersister {
    pub(super) fn active(&mut self) -> &mut Segment {
        self.segments
            .last_mut()
            .expect("a persister always has a segment")
    }

    pub(super) fn active_path(&self) -> PathBuf {
        self.segments
            .last()
            .expect("a persister always has a segment")
            .path(&self.dir)
    }

    /// Bytes of records the snapshot does not cover.
    pub(super) fn live_log_bytes(&self) -> u64 {
        let total: u64 = self.segments.iter().map(|s| s.len).sum();
        // Covered segments are deleted, so the first kept entry is in the
        // first segment, after the covered records still in it.
        total - self.offsets.first().copied().unwrap_or(total)
    }

    /// Closes the last segment and starts a new one for entries from
    /// `first_index`, in the spare if one is ready. The closed segment is
    /// cut to its records (dropping preallocated zeros) and synced, and the
    /// new file's name made durable, before any record goes in: so only the
    /// last segment can ever end in unsynced records or in zeros.
    pub(super) fn start_segment(&mut self, first_index: u64) -> Result<(), PersistError> {
        self.seal_active()?;
        self.spares_pay = spare::pays_off(self.active_syncs);
        self.active_syncs = 0;
        let segment = Segment {
            first_index,
            len: 0,
        };
        let path = segment.path(&self.dir);
        let taken = self.spare.take(&self.dir.join(SPARE), &path);
        if !matches!(taken, Taken::NotReady) {
            // Used up, whether usable or not: the next one may be asked for.
            self.spare_pending = false;
        }
        let file = match taken {
            Taken::Ready(file) => file,
            Taken::NotReady | Taken::Unusable => fs::File::options()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&path)
                .map_err(io_err(&path))?,
        };
        durable::sync_dir(&self.disk, &path).map_err(io_err(&self.dir))?;
        self.log = BufWriter::with_capacity(WRITE_BUFFER, LogFile::new(file, self.disk.clone()));
        self.segments.push(segment);
        self.prepare_spare();
        // The closed segment may hold only covered records (a snapshot
        // beyond the log's end): it goes now.
        self.remove_covered_segments();
        Ok(())
    }

    /// Syncs the active segment cut to the length of its records.
    fn seal_active(&mut self) -> Result<(), PersistError> {
        let path = self.active_path();
        self.log.flush().map_err(io_err(&path))?;
        let len = self.active().len;
        let file = &self.log.get_ref().file;
        if file.metadata().map_err(io_err(&path))?.len() > len {
            file.set_len(len).map_err(io_err(&path))?;
            // The sync below makes the new length durable with the data.
            self.log_dirty = true;
        }
        self.sync_log()
    }

    /// Asks the reaper for the next segment's file ahead of time (see
    /// `spare.rs`), unless one is asked for and not yet taken (two
    /// preparations would write the same file, the second one into the
    /// segment the first became), or spares do not pay for this log.
    pub(super) fn prepare_spare(&mut self) {
        if self.spare_pending || !self.spares_pay {
            return;
        }
        self.reaper.prepare(Preparation {
            path: self.dir.join(SPARE),
            bytes: self.segment_bytes,
            slot: self.spare.clone(),
        });
        self.spare_pending = true;
    }

    /// Hands the segments the snapshot covers whole to the reaper. A
    /// deletion lost to a crash is harmless: recovery skips covered records.
    pub(super) fn remove_covered_segments(&mut self) {
        let covered = fully_covered(&self.segments, self.snapshot.last_included_index);
        for gone in self.segments.drain(..covered) {
            self.reaper.delete(gone.path(&self.dir));
        }
    }

    pub(super) fn truncate_records(&mut self, from: u64) -> Result<(), PersistError> {
        // Entries below the first stored one are in the snapshot: already gone.
        let keep = from.saturating_sub(self.first_index()) as usize;
        let Some(&cut) = self.offsets.get(keep) else {
            return Ok(());
        };
        let from = self.first_index() + keep as u64;
        let holder = self
            .segments
            .iter()
            .rposition(|s| s.first_index <= from)
            .expect("a stored entry is in a segment");
        self.log.flush().map_err(io_err(&self.active_path()))?;
        let later = self.segments.split_off(holder + 1);
        if !later.is_empty() {
            for gone in &later {
                let path = gone.path(&self.dir);
                fs::remove_file(&path).map_err(io_err(&path))?;
            }
            // Were a deleted segment to come back after a crash, its stale
            // entries would follow the new ones.
            durable::sync_dir(&self.disk, &later[0].path(&self.dir)).map_err(io_err(&self.dir))?;
            // Positioned at the cut below.
            let file = open_log(&self.active_path())?;
            self.log =
                BufWriter::with_capacity(WRITE_BUFFER, LogFile::new(file, self.disk.clone()));
        }
        let log_path = self.active_path();
        let file = &mut self.log.get_mut().file;
        file.set_len(cut).map_err(io_err(&log_path))?;
        // Writes go where the file's position is, not to its end.
        file.seek(SeekFrom::Start(cut)).map_err(io_err(&log_path))?;
        let file = &self.log.get_ref().file;
        // Synced at once, unlike appends: were the new size to reach disk
        // after later appends' data, a crash could leave new records followed
        // by stale ones, which recovery would have to call corrupt.
        // Truncations are rare (a conflict, §5.3), so the fsync is cheap.
        self.disk.sync_data(file).map_err(io_err(&log_path))?;
        self.offsets.truncate(keep);
        self.active().len = cut;
        self.log_dirty = false;
        // Everything left was flushed and synced just now.
        self.synced_index = self.next_index() - 1;
        Ok(())
    }
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
