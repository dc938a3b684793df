//! FilePersister after simulated power losses (lab 3C, persistence, made
//! harsher): random appends, syncs and truncations, then a power loss that
//! keeps every synced byte and, of the unsynced ones, any mix of sectors
//! written, never written (zeros) or cut off, in any order. Recovery must
//! keep every synced entry and return a contiguous prefix of what was
//! appended: never refuse to start, never invent or reorder entries.

use std::fs;
use std::path::Path;

use proto::raft::LogEntry;
use raft::{FilePersister, Persister};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The unit a disk writes atomically, or not at all.
const SECTOR: usize = 512;

/// The log segment of a log that starts at entry 1 and never grew past
/// one segment: the only one these tests write.
const FIRST_SEGMENT: &str = "log-00000000000000000001";

fn entry(index: u64, rng: &mut StdRng) -> LogEntry {
    let len = rng.random_range(0..700);
    LogEntry {
        command: (0..len).map(|_| rng.random()).collect(),
        log_term: 1 + index / 10,
        log_index: index,
        config: None,
    }
}

/// What the test knows the log holds: every entry appended (and not
/// truncated), and how many of them, and how many bytes, were synced.
struct Model {
    entries: Vec<LogEntry>,
    synced_entries: usize,
    synced_len: u64,
}

fn file_len(dir: &Path) -> u64 {
    fs::metadata(dir.join(FIRST_SEGMENT)).unwrap().len()
}

/// Random appends, syncs and truncations, then the persister is dropped
/// without a final sync: its buffered bytes reach the file unsynced.
fn run_workload(dir: &Path, rng: &mut StdRng) -> Model {
    let mut p = FilePersister::open(dir).unwrap();
    let mut m = Model {
        entries: Vec::new(),
        synced_entries: 0,
        synced_len: 0,
    };
    for _ in 0..rng.random_range(1..40) {
        match rng.random_range(0..10) {
            0..=5 => {
                let n = rng.random_range(1..5);
                let next = m.entries.len() as u64 + 1;
                let new: Vec<LogEntry> = (next..next + n).map(|i| entry(i, rng)).collect();
                p.append(&new).unwrap();
                m.entries.extend(new);
            }
            6..=8 => {
                p.sync().unwrap();
                m.synced_entries = m.entries.len();
                m.synced_len = file_len(dir);
            }
            _ if !m.entries.is_empty() => {
                // A conflict (§5.3): synced at once by the persister.
                let from = rng.random_range(1..=m.entries.len() as u64);
                p.truncate_suffix(from).unwrap();
                m.entries.truncate(from as usize - 1);
                m.synced_entries = m.entries.len();
                m.synced_len = file_len(dir);
            }
            _ => {}
        }
    }
    m
}

/// Rewrites the log as a power loss might leave it: synced bytes intact;
/// each later sector written, left unwritten (zeros) or, past a random
/// point, gone.
fn power_loss(dir: &Path, synced_len: u64, rng: &mut StdRng) {
    let path = dir.join(FIRST_SEGMENT);
    let mut bytes = fs::read(&path).unwrap();
    let synced = synced_len as usize;
    let end = rng.random_range(synced..=bytes.len());
    bytes.truncate(end);
    let mut at = synced;
    while at < bytes.len() {
        let sector_end = ((at / SECTOR) + 1) * SECTOR;
        let next = sector_end.min(bytes.len());
        if rng.random_bool(0.4) {
            bytes[at..next].fill(0);
        }
        at = next;
    }
    fs::write(&path, &bytes).unwrap();
}

#[test]
fn every_synced_entry_survives_any_power_loss_and_the_rest_is_a_prefix() {
    let (mut dropped_some, mut kept_unsynced) = (false, false);
    for seed in 0..150 {
        let mut rng = StdRng::seed_from_u64(seed);
        let tmp = tempfile::tempdir().unwrap();
        let model = run_workload(tmp.path(), &mut rng);
        power_loss(tmp.path(), model.synced_len, &mut rng);

        let mut p = FilePersister::open(tmp.path())
            .unwrap_or_else(|e| panic!("seed {seed}: refused to start: {e}"));
        let got = p.recover().unwrap().entries;
        assert!(
            got.len() >= model.synced_entries,
            "seed {seed}: {} entries recovered, {} were synced",
            got.len(),
            model.synced_entries
        );
        assert!(got.len() <= model.entries.len(), "seed {seed}");
        assert!(
            got[..] == model.entries[..got.len()],
            "seed {seed}: not a prefix"
        );
        dropped_some |= got.len() < model.entries.len();
        kept_unsynced |= got.len() > model.synced_entries;

        // The recovered log goes on: an append after it reads back.
        let next = got.len() as u64 + 1;
        let more = entry(next, &mut rng);
        p.append(std::slice::from_ref(&more)).unwrap();
        p.sync().unwrap();
        drop(p);
        let again = FilePersister::open(tmp.path()).unwrap().recover().unwrap();
        assert_eq!(again.entries.len(), got.len() + 1, "seed {seed}");
        assert_eq!(again.entries.last(), Some(&more), "seed {seed}");
    }
    // The power losses did both: lose unsynced entries and keep some.
    assert!(dropped_some && kept_unsynced);
}
