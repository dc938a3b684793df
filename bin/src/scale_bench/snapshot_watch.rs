//! Whether each node is writing a snapshot right now, read from the node's
//! log as it grows ("snapshot begun" and "snapshot taken" lines): the mixed
//! phase reports how much of its window had a snapshot in progress, not
//! only how many finished in it, since at 10M keys one takes longer than
//! the whole window.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

/// What the KvServer logs when a snapshot starts, and the ways one ends:
/// installed, abandoned, failed (`kvserver/src/server/snapshots.rs`).
const BEGUN: &str = "snapshot begun";
const ENDED: [&str; 3] = [
    "snapshot taken",
    "snapshot abandoned",
    "cannot write a snapshot",
];

/// One node's log, read from where the last look stopped.
pub struct SnapshotWatch {
    path: PathBuf,
    offset: u64,
    writing: bool,
    /// Text after the last newline read: a line still being written.
    partial: String,
}

impl SnapshotWatch {
    /// Starts watching `path`, reading what is already there to learn
    /// whether a snapshot is in progress now.
    pub fn new(path: PathBuf) -> SnapshotWatch {
        let mut watch = SnapshotWatch {
            path,
            offset: 0,
            writing: false,
            partial: String::new(),
        };
        watch.look();
        watch
    }

    /// Reads what the node logged since the last look. Returns whether a
    /// snapshot was being written at any moment since then.
    pub fn look(&mut self) -> bool {
        let mut during = self.writing;
        for line in self.new_lines() {
            if line.contains(BEGUN) {
                self.writing = true;
                during = true;
            } else if ENDED.iter().any(|end| line.contains(end)) {
                self.writing = false;
                during = true;
            }
        }
        during
    }

    fn new_lines(&mut self) -> Vec<String> {
        let Ok(mut file) = File::open(&self.path) else {
            return Vec::new();
        };
        if file.seek(SeekFrom::Start(self.offset)).is_err() {
            return Vec::new();
        }
        let mut bytes = Vec::new();
        if file.read_to_end(&mut bytes).is_err() {
            return Vec::new();
        }
        self.offset += bytes.len() as u64;
        let mut text = std::mem::take(&mut self.partial);
        text.push_str(&String::from_utf8_lossy(&bytes));
        let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
        self.partial = lines.pop().unwrap_or_default();
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn append(path: &std::path::Path, text: &str) {
        let mut file = File::options()
            .append(true)
            .create(true)
            .open(path)
            .unwrap();
        file.write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn a_snapshot_is_seen_from_its_first_line_to_its_last() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node0.log");
        append(&path, "x INFO snapshot begun node=0 index=5\n");
        let mut watch = SnapshotWatch::new(path.clone());
        assert!(watch.look(), "begun before the watch: still in progress");
        append(&path, "x INFO snapshot taken node=0 index=5 ms=9\n");
        assert!(watch.look(), "it ran until this look");
        assert!(!watch.look(), "nothing since");
        append(&path, "x INFO snapshot beg");
        assert!(!watch.look(), "half a line is not a line yet");
        append(&path, "un node=0 index=9\nx INFO other\n");
        assert!(watch.look());
        assert!(watch.look(), "still in progress");
        append(&path, "x INFO snapshot abandoned: the node is stopping\n");
        assert!(watch.look(), "it ran until this look");
        assert!(!watch.look(), "an abandoned snapshot is over too");
    }
}
