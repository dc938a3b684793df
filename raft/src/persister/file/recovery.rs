//! Reading a node's directory back: parse and check every file.

use std::path::Path;

use proto::raft::LogEntry;

use super::snapshot_file::FileSnapshot;
use super::{corrupt, durable, hard_state, io_err, record, HARD_STATE, LOG, SNAPSHOT};
use crate::persister::{HardState, PersistError, SnapshotSource};

/// Everything read back from the directory.
pub struct Loaded {
    pub hard_state: Option<HardState>,
    pub snapshot: Option<FileSnapshot>,
    /// The entries after the snapshot, with their record offsets.
    pub entries: Vec<LogEntry>,
    pub offsets: Vec<u64>,
    /// Where the last good record ends.
    pub good_len: u64,
    /// The file's length; more than `good_len` when it ends in records that
    /// were never synced (torn, or written out of order by a power loss).
    pub file_len: u64,
}

/// Reads and checks the hard state, the snapshot and the log.
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

    let path = dir.join(LOG);
    let buf = durable::read_if_exists(&path)
        .map_err(io_err(&path))?
        .unwrap_or_default();
    let scan = record::scan(&buf);
    if let Some(damage) = &scan.damage {
        // The damaged record would hold the entry after the last good one.
        let index = scan
            .records
            .last()
            .map_or(last_included + 1, |(_, e)| e.log_index + 1);
        if scan.max_synced >= index {
            let reason = format!(
                "{} in the record of entry {index}, which a later record says was synced \
                 (entries through {} were)",
                damage.reason, scan.max_synced
            );
            return Err(corrupt(&path)((damage.offset, reason)));
        }
    }
    let mut entries = Vec::new();
    let mut offsets = Vec::new();
    let mut previous: Option<u64> = None;
    for (offset, entry) in scan.records {
        let index = entry.log_index;
        match previous {
            Some(prev) if index != prev + 1 => {
                let reason = format!("entry index {index} follows {prev}");
                return Err(corrupt(&path)((offset, reason)));
            }
            None if index > last_included + 1 => {
                let reason = format!(
                    "log starts at index {index}, leaving a gap after the snapshot through {last_included}"
                );
                return Err(corrupt(&path)((offset, reason)));
            }
            _ => {}
        }
        previous = Some(index);
        if index > last_included {
            offsets.push(offset);
            entries.push(entry);
        }
    }
    Ok(Loaded {
        hard_state,
        snapshot,
        entries,
        offsets,
        good_len: scan.good_len,
        file_len: buf.len() as u64,
    })
}
