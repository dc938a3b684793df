//! Reading a node's directory back: parse and check every file.

use std::path::Path;

use proto::raft::LogEntry;

use super::record::{self, Scan};
use super::segment::{self, Segment};
use super::snapshot_file::FileSnapshot;
use super::{corrupt, durable, hard_state, io_err, HARD_STATE, SNAPSHOT};
use crate::persister::{HardState, PersistError, SnapshotSource};

/// Everything read back from the directory.
pub struct Loaded {
    pub hard_state: Option<HardState>,
    pub snapshot: Option<FileSnapshot>,
    /// The entries after the snapshot.
    pub entries: Vec<LogEntry>,
    /// Each entry's record offset in its segment.
    pub offsets: Vec<u64>,
    /// The segments to keep, each as long as its last good record's end.
    pub segments: Vec<Segment>,
    /// Never-synced records (torn, or written out of order by a power
    /// loss): bytes past the end of the last kept segment, and the segments
    /// after it, whose names are listed here.
    pub unsynced: Unsynced,
}

/// The unsynced tail recovery found; see [`Loaded::unsynced`].
#[derive(Debug, Default)]
pub struct Unsynced {
    pub bytes: u64,
    pub later_segments: Vec<u64>,
}

/// Reads and checks the hard state, the snapshot and the log segments.
pub fn load(dir: &Path) -> Result<Loaded, PersistError> {
    let path = dir.join(HARD_STATE);
    let hard_state = match durable::read_if_exists(&path).map_err(io_err(&path))? {
        Some(buf) => Some(hard_state::decode(&buf).map_err(corrupt(&path))?),
        None => None,
    };

    let snapshot = FileSnapshot::open(&dir.join(SNAPSHOT))?;
    let last_included = snapshot
        .as_ref()
        .map_or(0, |s| s.meta().last_included_index);

    // Every segment is scanned before any is judged: a claim in a later
    // segment can make damage in an earlier one corruption.
    let mut scans = Vec::new();
    for first in segment::list(dir)? {
        let path = segment::path(dir, first);
        let buf = durable::read_if_exists(&path)
            .map_err(io_err(&path))?
            .unwrap_or_default();
        scans.push((first, buf.len() as u64, record::scan(&buf)));
    }
    let max_synced = scans.iter().map(|(_, _, s)| s.max_synced).max();
    let mut log = LogReader::new(last_included);
    let mut unsynced = Unsynced::default();
    let mut scans = scans.into_iter();
    for (first, file_len, scan) in scans.by_ref() {
        let path = segment::path(dir, first);
        let Scan {
            records,
            good_len,
            damage,
            zero_tail,
            ..
        } = scan;
        for (offset, entry) in records {
            log.push(first, offset, entry).map_err(corrupt(&path))?;
        }
        log.segments.push(Segment {
            first_index: first,
            len: good_len,
        });
        if let Some(damage) = damage {
            // The damaged record would hold the entry after the last good one.
            let index = log.next_index().max(first);
            if max_synced.unwrap_or(0) >= index {
                let reason = format!(
                    "{} in the record of entry {index}, which a later record says was synced \
                     (entries through {} were)",
                    damage.reason,
                    max_synced.unwrap_or(0)
                );
                return Err(corrupt(&path)((damage.offset, reason)));
            }
            // Zeros are space no record was written to (or none survived):
            // the file keeps them, and appends overwrite them.
            if !zero_tail {
                unsynced.bytes = file_len - good_len;
            }
            break;
        }
    }
    unsynced.later_segments = scans.map(|(first, _, _)| first).collect();
    Ok(Loaded {
        hard_state,
        snapshot,
        entries: log.entries,
        offsets: log.offsets,
        segments: log.segments,
        unsynced,
    })
}

/// Collects the entries after the snapshot, checking that they follow it
/// without a gap and each other in order.
struct LogReader {
    last_included: u64,
    /// The index of the last record read, covered by the snapshot or not.
    last_read: Option<u64>,
    entries: Vec<LogEntry>,
    offsets: Vec<u64>,
    segments: Vec<Segment>,
}

impl LogReader {
    fn new(last_included: u64) -> LogReader {
        LogReader {
            last_included,
            last_read: None,
            entries: Vec::new(),
            offsets: Vec::new(),
            segments: Vec::new(),
        }
    }

    /// The index the next record should hold.
    fn next_index(&self) -> u64 {
        self.last_read
            .map_or(self.last_included + 1, |i| i.max(self.last_included) + 1)
    }

    fn push(&mut self, segment: u64, offset: u64, entry: LogEntry) -> Result<(), (u64, String)> {
        let index = entry.log_index;
        if index < segment {
            let reason = format!("entry index {index} in the segment of entries from {segment}");
            return Err((offset, reason));
        }
        self.last_read = Some(index);
        // Records the snapshot covers may be left from before it: a segment
        // is only deleted once all of it is covered.
        if index <= self.last_included {
            return Ok(());
        }
        match self.entries.last() {
            Some(prev) if index != prev.log_index + 1 => {
                let reason = format!("entry index {index} follows {}", prev.log_index);
                return Err((offset, reason));
            }
            None if index != self.last_included + 1 => {
                let reason = format!(
                    "log starts at index {index}, leaving a gap after the snapshot through {}",
                    self.last_included
                );
                return Err((offset, reason));
            }
            _ => {}
        }
        self.offsets.push(offset);
        self.entries.push(entry);
        Ok(())
    }
}
