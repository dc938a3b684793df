//! Log entries for the FilePersister tests. Each command names its own
//! index, so an entry read back in the wrong place shows in the diff.

use proto::raft::LogEntry;

pub fn entry(index: u64, term: u64) -> LogEntry {
    LogEntry {
        command: format!("put k{index} v{index}").into_bytes(),
        log_term: term,
        log_index: index,
        config: None,
    }
}

pub fn entries(range: std::ops::RangeInclusive<u64>, term: u64) -> Vec<LogEntry> {
    range.map(|i| entry(i, term)).collect()
}
