//! FilePersister round trips (lab 2C, persistence): what was synced comes
//! back after a reopen, checked against an in-memory model.

use proptest::prelude::*;
use proto::raft::LogEntry;
use raft::{
    FilePersister, HardState, PersistError, Persister, Recovered, SnapshotData, SnapshotMeta,
};

fn entry(index: u64, term: u64, len: usize) -> LogEntry {
    LogEntry {
        command: vec![(index % 251) as u8; len],
        log_term: term,
        log_index: index,
        config: None,
    }
}

fn entries(range: std::ops::RangeInclusive<u64>, term: u64) -> Vec<LogEntry> {
    range.map(|i| entry(i, term, 20)).collect()
}

fn reopen(dir: &std::path::Path) -> Recovered {
    FilePersister::open(dir).unwrap().recover().unwrap()
}

/// Bytes of the log segments and `hard_state` as the files say.
fn files_size(dir: &std::path::Path) -> u64 {
    segment_files(dir)
        .iter()
        .chain([dir.join("hard_state")].iter())
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum()
}

/// The log segment files in `dir`, in order (not the spare segment being
/// prepared, a temp file).
fn segment_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with("log-") && !name.ends_with(".tmp")
        })
        .collect();
    found.sort();
    found
}

/// What `raft_state_size` should say for these live entries: one record
/// (a 20-byte header and the encoded entry) each, and the 24-byte hard state.
fn live_size(entries: &[LogEntry], has_hard_state: bool) -> u64 {
    use prost::Message;
    let records: usize = entries.iter().map(|e| 20 + e.encoded_len()).sum();
    records as u64 + if has_hard_state { 24 } else { 0 }
}

#[test]
fn fresh_directory_recovers_empty_state() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node-0");
    let mut p = FilePersister::open(&dir).unwrap();
    assert_eq!(p.recover().unwrap(), Recovered::default());
    assert_eq!(p.raft_state_size(), 0);
    drop(p);
    assert_eq!(reopen(&dir), Recovered::default());
}

#[test]
fn synced_state_survives_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let hs = HardState {
        current_term: 3,
        voted_for: Some(1),
    };
    {
        let mut p = FilePersister::open(tmp.path()).unwrap();
        p.recover().unwrap();
        p.save_hard_state(hs).unwrap();
        p.append(&entries(1..=10, 1)).unwrap();
        p.truncate_suffix(7).unwrap();
        p.append(&entries(7..=12, 3)).unwrap();
        p.sync().unwrap();
        assert_eq!(p.raft_state_size(), files_size(tmp.path()));
        assert_eq!(
            p.raft_state_size(),
            live_size(&entries(1..=6, 1), true) + live_size(&entries(7..=12, 3), false)
        );
    }
    let mut want = entries(1..=6, 1);
    want.extend(entries(7..=12, 3));
    assert_eq!(
        reopen(tmp.path()),
        Recovered {
            hard_state: hs,
            snapshot: None,
            entries: want,
        }
    );
}

#[test]
fn snapshot_discards_covered_entries_and_keeps_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let meta = SnapshotMeta {
        last_included_index: 6,
        last_included_term: 1,
    };
    {
        let mut p = FilePersister::open(tmp.path()).unwrap();
        p.append(&entries(1..=10, 1)).unwrap();
        let before = p.raft_state_size();
        p.save_snapshot(meta, b"kv state through 6").unwrap();
        assert!(p.raft_state_size() < before);
        // Entries 1..=6 stay in the file (its segment is not all covered)
        // but no longer count.
        assert_eq!(p.raft_state_size(), live_size(&entries(7..=10, 1), false));
        p.append(&entries(11..=11, 2)).unwrap();
        p.sync().unwrap();
    }
    let mut want = entries(7..=10, 1);
    want.extend(entries(11..=11, 2));
    let got = reopen(tmp.path());
    assert_eq!(
        got.snapshot,
        Some(SnapshotData::from_bytes(
            meta,
            b"kv state through 6".to_vec()
        ))
    );
    assert_eq!(got.entries, want);
}

#[test]
fn snapshot_past_the_log_end_empties_the_log() {
    let tmp = tempfile::tempdir().unwrap();
    let meta = SnapshotMeta {
        last_included_index: 50,
        last_included_term: 4,
    };
    {
        let mut p = FilePersister::open(tmp.path()).unwrap();
        p.append(&entries(1..=5, 1)).unwrap();
        p.save_snapshot(meta, b"installed").unwrap();
        assert_eq!(p.raft_state_size(), 0);
        let err = p.append(&entries(6..=6, 4)).unwrap_err();
        assert!(matches!(err, PersistError::Misuse(_)), "{err}");
        p.append(&entries(51..=52, 4)).unwrap();
        p.sync().unwrap();
    }
    let got = reopen(tmp.path());
    assert_eq!(
        got.snapshot,
        Some(SnapshotData::from_bytes(meta, b"installed".to_vec()))
    );
    assert_eq!(got.entries, entries(51..=52, 4));
}

#[test]
fn misuse_is_an_error_not_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let mut p = FilePersister::open(tmp.path()).unwrap();
    assert!(matches!(
        p.append(&entries(2..=3, 1)),
        Err(PersistError::Misuse(_))
    ));
    let gap = vec![entry(1, 1, 1), entry(3, 1, 1)];
    assert!(matches!(p.append(&gap), Err(PersistError::Misuse(_))));
    assert_eq!(p.raft_state_size(), 0, "a rejected append writes nothing");
    let meta = |i| SnapshotMeta {
        last_included_index: i,
        last_included_term: 1,
    };
    p.save_snapshot(meta(5), b"a").unwrap();
    assert!(matches!(
        p.save_snapshot(meta(4), b"b"),
        Err(PersistError::Misuse(_))
    ));
}

#[test]
fn second_open_of_a_directory_in_use_fails_until_the_first_drops() {
    let tmp = tempfile::tempdir().unwrap();
    let first = FilePersister::open(tmp.path()).unwrap();
    match FilePersister::open(tmp.path()) {
        Err(PersistError::Io { path, source }) => {
            assert_eq!(path, tmp.path().join("LOCK"));
            assert!(source.to_string().contains("already in use"), "{source}");
        }
        other => panic!("second open should fail, got {other:?}"),
    }
    drop(first);
    FilePersister::open(tmp.path()).unwrap();
}

/// One step of the model test.
#[derive(Clone, Debug)]
enum Op {
    HardState(u64, Option<u32>),
    Append(Vec<usize>),
    /// Truncate at a point between the first and one past the last index, as
    /// a fraction of the log.
    Truncate(f64),
    /// Snapshot at a point from the current snapshot to a few past the log.
    Snapshot(f64, Vec<u8>),
    Sync,
    /// Sync, drop, open again, and compare `recover()` with the model.
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (0..100u64, proptest::option::of(0..5u32)).prop_map(|(t, v)| Op::HardState(t, v)),
        3 => proptest::collection::vec(0..300usize, 1..8).prop_map(Op::Append),
        1 => (0.0..1.0f64).prop_map(Op::Truncate),
        1 => (0.0..1.2f64, proptest::collection::vec(any::<u8>(), 0..64))
            .prop_map(|(f, d)| Op::Snapshot(f, d)),
        2 => Just(Op::Sync),
        1 => Just(Op::Reopen),
    ]
}

/// The in-memory truth the persister must reproduce.
#[derive(Clone, Debug, Default)]
struct Model {
    state: Recovered,
    term: u64,
    has_hard_state: bool,
}

impl Model {
    fn first_index(&self) -> u64 {
        self.state
            .snapshot
            .as_ref()
            .map_or(1, |s| s.meta().last_included_index + 1)
    }

    fn next_index(&self) -> u64 {
        self.first_index() + self.state.entries.len() as u64
    }
}

/// The segment size the model test runs with: a few records each.
const SEGMENT_BYTES: u64 = 1024;

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_operations_round_trip(ops in proptest::collection::vec(op(), 1..40)) {
        let tmp = tempfile::tempdir().unwrap();
        let mut p = FilePersister::open(tmp.path()).unwrap();
        // Tiny segments, so appends start new ones, truncations cross them
        // and snapshots delete them.
        p.set_segment_bytes(SEGMENT_BYTES);
        prop_assert_eq!(p.recover().unwrap(), Recovered::default());
        let mut model = Model::default();
        for op in ops {
            let flushed = matches!(op, Op::Sync | Op::Reopen);
            match op {
                Op::HardState(term, vote) => {
                    let hs = HardState { current_term: term, voted_for: vote };
                    p.save_hard_state(hs).unwrap();
                    model.state.hard_state = hs;
                    model.has_hard_state = true;
                }
                Op::Append(sizes) => {
                    model.term += 1;
                    let start = model.next_index();
                    let new: Vec<_> = sizes
                        .iter()
                        .enumerate()
                        .map(|(i, &len)| entry(start + i as u64, model.term, len))
                        .collect();
                    p.append(&new).unwrap();
                    model.state.entries.extend(new);
                }
                Op::Truncate(f) => {
                    let len = model.state.entries.len();
                    let keep = ((len + 1) as f64 * f) as usize;
                    p.truncate_suffix(model.first_index() + keep as u64).unwrap();
                    model.state.entries.truncate(keep);
                }
                Op::Snapshot(f, data) => {
                    let base = model.first_index() - 1;
                    let index = base + ((model.state.entries.len() + 1) as f64 * f) as u64;
                    let meta = SnapshotMeta { last_included_index: index, last_included_term: model.term };
                    p.save_snapshot(meta, &data).unwrap();
                    let covered = ((index - base) as usize).min(model.state.entries.len());
                    model.state.entries.drain(..covered);
                    model.state.snapshot = Some(SnapshotData::from_bytes(meta, data));
                }
                Op::Sync => p.sync().unwrap(),
                Op::Reopen => {
                    p.sync().unwrap();
                    drop(p);
                    p = FilePersister::open(tmp.path()).unwrap();
                    p.set_segment_bytes(SEGMENT_BYTES);
                    prop_assert_eq!(&p.recover().unwrap(), &model.state);
                }
            }
            prop_assert_eq!(p.raft_state_size(), live_size(&model.state.entries, model.has_hard_state));
            p.wait_for_deletions();
            prop_assert_eq!(p.segment_paths(), segment_files(tmp.path()));
            if flushed {
                // Covered records linger only in the first segment, which holds
                // at most a segment's worth plus one batch (8 records of < 330
                // bytes); the last segment may end in up to a segment's worth
                // of preallocated zeros.
                let dead = files_size(tmp.path()) - p.raft_state_size();
                prop_assert!(dead <= 2 * SEGMENT_BYTES + 8 * 330, "{} dead bytes", dead);
            }
        }
        p.sync().unwrap();
        drop(p);
        prop_assert_eq!(reopen(tmp.path()), model.state);
    }
}

#[test]
fn recover_called_again_reads_the_current_state_back() {
    let tmp = tempfile::tempdir().unwrap();
    let mut p = FilePersister::open(tmp.path()).unwrap();
    assert_eq!(p.recover().unwrap(), Recovered::default());
    let hs = HardState {
        current_term: 2,
        voted_for: None,
    };
    p.save_hard_state(hs).unwrap();
    p.append(&entries(1..=3, 2)).unwrap();
    let again = p.recover().unwrap();
    assert_eq!(again.hard_state, hs);
    assert_eq!(again.entries, entries(1..=3, 2));
}

#[test]
fn every_sync_is_timed_in_the_fsync_histograms() {
    let tmp = tempfile::tempdir().unwrap();
    let mut p = FilePersister::open(tmp.path()).unwrap();
    let fsyncs = p.fsync_metrics();
    let (data0, full0) = (
        fsyncs.fdatasync.snapshot().count,
        fsyncs.fsync.snapshot().count,
    );
    // A group commit of the log: one fdatasync, however many entries.
    p.append(&entries(1..=10, 1)).unwrap();
    p.sync().unwrap();
    assert_eq!(fsyncs.fdatasync.snapshot().count, data0 + 1);
    // Nothing pending: no system call, nothing timed.
    p.sync().unwrap();
    assert_eq!(fsyncs.fdatasync.snapshot().count, data0 + 1);
    // The hard state is replaced atomically: fsync of the file and its dir.
    p.save_hard_state(HardState {
        current_term: 2,
        voted_for: Some(1),
    })
    .unwrap();
    p.sync().unwrap();
    assert!(fsyncs.fsync.snapshot().count >= full0 + 2);
    assert!(fsyncs.fdatasync.snapshot().sum_seconds > 0.0);
}
