//! FilePersister after crashes and damage (lab 2C, persistence): a crash at
//! any point recovers a consistent state; corruption is an error naming the
//! file and offset, never a silent reset to empty.

use std::fs;
use std::path::Path;

mod common;

use common::{entries, entry};
use raft::{
    FilePersister, HardState, PersistError, Persister, Recovered, SnapshotData, SnapshotMeta,
};

/// The log segment of a log that starts at entry 1 and never grew past
/// one segment: the only one these tests write.
const FIRST_SEGMENT: &str = "log-00000000000000000001";

fn recover(dir: &Path) -> Result<Recovered, PersistError> {
    FilePersister::open(dir)?.recover()
}

/// Writes entries 1..=n one sync at a time; returns each record's offset.
fn write_log(dir: &Path, n: u64) -> Vec<u64> {
    let mut p = FilePersister::open(dir).unwrap();
    let mut offsets = Vec::new();
    for e in entries(1..=n, 1) {
        offsets.push(p.raft_state_size());
        p.append(&[e]).unwrap();
        p.sync().unwrap();
    }
    offsets
}

fn assert_corrupt(result: Result<Recovered, PersistError>, file: &Path, want_offset: u64) {
    match result {
        Err(PersistError::Corrupt { path, offset, .. }) => {
            assert_eq!(path, file);
            assert_eq!(offset, want_offset);
        }
        other => panic!("expected Corrupt in {}, got {other:?}", file.display()),
    }
}

#[test]
fn crash_mid_append_drops_only_the_torn_record() {
    let tmp = tempfile::tempdir().unwrap();
    let offsets = write_log(tmp.path(), 4);
    let full = fs::read(tmp.path().join(FIRST_SEGMENT)).unwrap();
    let last = offsets[3] as usize;
    for cut in last + 1..full.len() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(FIRST_SEGMENT), &full[..cut]).unwrap();
        let got = recover(dir.path()).unwrap();
        assert_eq!(got.entries, entries(1..=3, 1), "cut at {cut}");
        // The torn bytes are gone from disk, so new appends follow record 3.
        let len = fs::metadata(dir.path().join(FIRST_SEGMENT)).unwrap().len();
        assert_eq!(len, last as u64, "cut at {cut}");
    }
}

#[test]
fn appends_after_a_torn_tail_are_readable() {
    let tmp = tempfile::tempdir().unwrap();
    write_log(tmp.path(), 3);
    let log = tmp.path().join(FIRST_SEGMENT);
    let len = fs::metadata(&log).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(len - 2)
        .unwrap();
    {
        let mut p = FilePersister::open(tmp.path()).unwrap();
        assert_eq!(p.recover().unwrap().entries, entries(1..=2, 1));
        p.append(&entries(3..=5, 1)).unwrap();
        p.sync().unwrap();
    }
    assert_eq!(recover(tmp.path()).unwrap().entries, entries(1..=5, 1));
}

#[test]
fn crash_mid_snapshot_keeps_the_old_snapshot_and_log() {
    let tmp = tempfile::tempdir().unwrap();
    let old = SnapshotMeta {
        last_included_index: 2,
        last_included_term: 1,
    };
    {
        let mut p = FilePersister::open(tmp.path()).unwrap();
        p.append(&entries(1..=6, 1)).unwrap();
        p.save_snapshot(old, b"old").unwrap();
        p.sync().unwrap();
    }
    // The crash came after part of the new snapshot's temp file was written.
    let tmp_file = tmp.path().join("snapshot.tmp");
    fs::write(&tmp_file, b"RKSN half a header").unwrap();
    let got = recover(tmp.path()).unwrap();
    assert_eq!(
        got.snapshot,
        Some(SnapshotData::from_bytes(old, b"old".to_vec()))
    );
    assert_eq!(got.entries, entries(3..=6, 1));
    assert!(!tmp_file.exists(), "leftover temp file is removed");
}

/// Opens `dir` with one-byte segments: every append batch starts a segment.
fn open_one_batch_per_segment(dir: &Path) -> FilePersister {
    let mut p = FilePersister::open(dir).unwrap();
    p.set_segment_bytes(1);
    p
}

/// The log segment files in `dir` with their bytes, in order.
fn segments_on_disk(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut found: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with("log-") && !name.ends_with(".tmp")
        })
        .map(|p| {
            let bytes = fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    found.sort();
    found
}

#[test]
fn crash_after_snapshot_rename_before_segments_are_deleted_is_consistent() {
    let tmp = tempfile::tempdir().unwrap();
    let meta = SnapshotMeta {
        last_included_index: 4,
        last_included_term: 1,
    };
    {
        let mut p = open_one_batch_per_segment(tmp.path());
        for e in entries(1..=7, 1) {
            p.append(&[e]).unwrap();
        }
        p.sync().unwrap();
    }
    let before = segments_on_disk(tmp.path());
    assert_eq!(before.len(), 7, "one segment per entry");
    {
        let mut p = FilePersister::open(tmp.path()).unwrap();
        p.save_snapshot(meta, b"through 4").unwrap();
    }
    // Segments of entries 1..=4 were deleted; the crash put them back (the
    // deletions never reached the disk), and left a log.tmp of an older
    // version half written.
    assert_eq!(segments_on_disk(tmp.path()), before[4..].to_vec());
    for (path, bytes) in &before {
        fs::write(path, bytes).unwrap();
    }
    fs::write(tmp.path().join("log.tmp"), &before[0].1[..10]).unwrap();
    {
        let mut p = FilePersister::open(tmp.path()).unwrap();
        let got = p.recover().unwrap();
        assert_eq!(
            got.snapshot,
            Some(SnapshotData::from_bytes(meta, b"through 4".to_vec()))
        );
        assert_eq!(got.entries, entries(5..=7, 1));
        // Recovery finished the job: only the segments of 5..=7 are left.
        p.wait_for_deletions();
        assert_eq!(segments_on_disk(tmp.path()), before[4..].to_vec());
        assert!(!tmp.path().join("log.tmp").exists());
        let live: u64 = before[4..].iter().map(|(_, b)| b.len() as u64).sum();
        assert_eq!(p.raft_state_size(), live);
        p.append(&entries(8..=8, 1)).unwrap();
        p.sync().unwrap();
    }
    assert_eq!(recover(tmp.path()).unwrap().entries, entries(5..=8, 1));
}

#[test]
fn a_snapshot_deletes_exactly_the_segments_it_covers_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let mut p = FilePersister::open(tmp.path()).unwrap();
    p.set_segment_bytes(1);
    for range in [1..=3, 4..=6, 7..=9] {
        p.append(&entries(range, 1)).unwrap();
    }
    p.sync().unwrap();
    let names = |p: &FilePersister| -> Vec<String> {
        p.segment_paths()
            .iter()
            .map(|s| s.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    };
    let meta = |index| SnapshotMeta {
        last_included_index: index,
        last_included_term: 1,
    };
    assert_eq!(
        names(&p),
        [
            "log-00000000000000000001",
            "log-00000000000000000004",
            "log-00000000000000000007"
        ]
    );
    // Through 5: the first segment is covered, the second only in part.
    p.save_snapshot(meta(5), b"5").unwrap();
    assert_eq!(
        names(&p),
        ["log-00000000000000000004", "log-00000000000000000007"]
    );
    p.wait_for_deletions();
    assert_eq!(segments_on_disk(tmp.path()).len(), 2);
    // Beyond the log's end: every entry is covered, but the last segment
    // stays (the next append goes there) until a new one starts.
    p.save_snapshot(meta(12), b"12").unwrap();
    assert_eq!(names(&p), ["log-00000000000000000007"]);
    assert_eq!(p.raft_state_size(), 0);
    p.append(&entries(13..=13, 1)).unwrap();
    assert_eq!(names(&p), ["log-00000000000000000013"]);
    p.sync().unwrap();
    drop(p);
    let got = recover(tmp.path()).unwrap();
    assert_eq!(got.entries, entries(13..=13, 1));
}

#[test]
fn truncation_deletes_the_segments_after_the_cut() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let mut p = open_one_batch_per_segment(tmp.path());
        for range in [1..=3, 4..=6, 7..=9] {
            p.append(&entries(range, 1)).unwrap();
        }
        p.truncate_suffix(5).unwrap();
        assert_eq!(segments_on_disk(tmp.path()).len(), 2);
        // A conflicting entry 5 from a newer term, then more.
        p.append(&[entry(5, 2)]).unwrap();
        p.append(&[entry(6, 2)]).unwrap();
        p.sync().unwrap();
    }
    let mut want = entries(1..=4, 1);
    want.extend([entry(5, 2), entry(6, 2)]);
    assert_eq!(recover(tmp.path()).unwrap().entries, want);
}

#[test]
fn damage_in_an_earlier_segment_is_corrupt_and_in_the_last_an_unsynced_tail() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let mut p = open_one_batch_per_segment(tmp.path());
        p.append(&entries(1..=3, 1)).unwrap();
        p.sync().unwrap();
        // Starting the second segment synced the first; 4..=6 never were.
        p.append(&entries(4..=6, 1)).unwrap();
    }
    let segs = segments_on_disk(tmp.path());
    assert_eq!(segs.len(), 2);
    let (first, last) = (&segs[0], &segs[1]);

    // Entry 5's record torn: entries 4 and after were never synced.
    let mut torn = last.1.clone();
    let at = torn.len() / 3 + 3;
    torn[at] ^= 0x10;
    fs::write(&last.0, &torn).unwrap();
    assert_eq!(recover(tmp.path()).unwrap().entries, entries(1..=4, 1));

    // Entry 2's record damaged: the second segment's records claim it.
    let tmp = tempfile::tempdir().unwrap();
    for (path, bytes) in &segs {
        fs::write(tmp.path().join(path.file_name().unwrap()), bytes).unwrap();
    }
    let path = tmp.path().join(first.0.file_name().unwrap());
    let mut bad = first.1.clone();
    let record = bad.len() / 3;
    bad[record + 5] ^= 0x01;
    fs::write(&path, &bad).unwrap();
    assert_corrupt(recover(tmp.path()), &path, record as u64);
}

#[test]
fn a_single_file_log_of_an_earlier_version_is_adopted() {
    let tmp = tempfile::tempdir().unwrap();
    write_log(tmp.path(), 3);
    fs::rename(tmp.path().join(FIRST_SEGMENT), tmp.path().join("log")).unwrap();
    let mut p = FilePersister::open(tmp.path()).unwrap();
    assert_eq!(p.recover().unwrap().entries, entries(1..=3, 1));
    assert!(!tmp.path().join("log").exists());
    p.append(&entries(4..=4, 1)).unwrap();
    p.sync().unwrap();
    drop(p);
    assert_eq!(recover(tmp.path()).unwrap().entries, entries(1..=4, 1));
}

#[test]
fn flipped_byte_in_a_middle_record_is_corrupt_at_its_offset() {
    let tmp = tempfile::tempdir().unwrap();
    let offsets = write_log(tmp.path(), 5);
    let log = tmp.path().join(FIRST_SEGMENT);
    let good = fs::read(&log).unwrap();
    for at in offsets[2]..offsets[3] {
        let mut bad = good.clone();
        bad[at as usize] ^= 0x20;
        fs::write(&log, &bad).unwrap();
        assert_corrupt(recover(tmp.path()), &log, offsets[2]);
        // Recovery refused without touching the evidence.
        assert_eq!(fs::read(&log).unwrap(), bad);
    }
}

#[test]
fn non_contiguous_indexes_are_corrupt() {
    // Build a log holding entries 1..=3 followed by a log holding only 5.
    let a = tempfile::tempdir().unwrap();
    write_log(a.path(), 3);
    let b = tempfile::tempdir().unwrap();
    {
        let mut p = FilePersister::open(b.path()).unwrap();
        let meta = SnapshotMeta {
            last_included_index: 4,
            last_included_term: 1,
        };
        p.save_snapshot(meta, b"").unwrap();
        p.append(&entries(5..=5, 1)).unwrap();
        p.sync().unwrap();
    }
    let head = fs::read(a.path().join(FIRST_SEGMENT)).unwrap();
    let tail = fs::read(b.path().join(FIRST_SEGMENT)).unwrap();

    let gap = tempfile::tempdir().unwrap();
    let log = gap.path().join(FIRST_SEGMENT);
    fs::write(&log, [head.clone(), tail.clone()].concat()).unwrap();
    assert_corrupt(recover(gap.path()), &log, head.len() as u64);

    // A log starting at 5 without a snapshot through 4 has lost entries.
    fs::write(&log, &tail).unwrap();
    assert_corrupt(recover(gap.path()), &log, 0);
}

#[test]
fn corrupt_hard_state_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let mut p = FilePersister::open(tmp.path()).unwrap();
        p.save_hard_state(HardState {
            current_term: 9,
            voted_for: Some(2),
        })
        .unwrap();
        p.append(&entries(1..=2, 1)).unwrap();
        p.sync().unwrap();
    }
    let path = tmp.path().join("hard_state");
    let good = fs::read(&path).unwrap();
    let mut flipped = good.clone();
    flipped[5] ^= 1;
    for bad in [flipped, good[..10].to_vec(), Vec::new()] {
        fs::write(&path, &bad).unwrap();
        match recover(tmp.path()) {
            Err(PersistError::Corrupt { path: p, .. }) => assert_eq!(p, path),
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }
}

#[test]
fn corrupt_snapshot_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let mut p = FilePersister::open(tmp.path()).unwrap();
        p.append(&entries(1..=3, 1)).unwrap();
        let meta = SnapshotMeta {
            last_included_index: 2,
            last_included_term: 1,
        };
        p.save_snapshot(meta, b"the state machine").unwrap();
    }
    let path = tmp.path().join("snapshot");
    let good = fs::read(&path).unwrap();
    // A flip in the header is reported at the header, in the data after it.
    for (at, want_offset) in [(6, 32), (good.len() - 1, 36)] {
        let mut bad = good.clone();
        bad[at] ^= 0x40;
        fs::write(&path, &bad).unwrap();
        assert_corrupt(recover(tmp.path()), &path, want_offset);
    }
}

/// Syncs entries 1..=synced, then appends the rest without a sync and
/// closes (the buffered bytes reach the file but were never fsynced, as
/// after a kill -9). Returns each record's offset.
fn write_unsynced_tail(dir: &Path, synced: u64, total: u64) -> Vec<u64> {
    let mut p = FilePersister::open(dir).unwrap();
    let mut offsets = Vec::new();
    for e in entries(1..=total, 1) {
        offsets.push(p.raft_state_size());
        p.append(&[e]).unwrap();
        if offsets.len() as u64 == synced {
            p.sync().unwrap();
        }
    }
    offsets
}

#[test]
fn power_loss_reordering_unsynced_records_drops_the_tail_from_the_hole() {
    let tmp = tempfile::tempdir().unwrap();
    let offsets = write_unsynced_tail(tmp.path(), 3, 7);
    let log = tmp.path().join(FIRST_SEGMENT);
    let full = fs::read(&log).unwrap();
    // The power loss wrote the pages of records 6 and 7 but not those of 5
    // (zeros, or half of it): valid records after a hole.
    for hole in [4usize, 5] {
        for torn in [false, true] {
            let mut after = full.clone();
            let (start, end) = (offsets[hole - 1] as usize, offsets[hole] as usize);
            let from = if torn { (start + end) / 2 } else { start };
            after[from..end].fill(0);
            fs::write(&log, &after).unwrap();
            let mut p = FilePersister::open(tmp.path()).unwrap();
            let got = p.recover().unwrap();
            assert_eq!(
                got.entries,
                entries(1..=hole as u64 - 1, 1),
                "hole at {hole}"
            );
            assert_eq!(fs::metadata(&log).unwrap().len(), start as u64);
            // The log goes on from the cut.
            p.append(&entries(hole as u64..=hole as u64, 1)).unwrap();
            p.sync().unwrap();
            drop(p);
            assert_eq!(
                recover(tmp.path()).unwrap().entries,
                entries(1..=hole as u64, 1)
            );
        }
    }
}

#[test]
fn damage_to_a_synced_record_is_corrupt_even_with_an_unsynced_tail_after_it() {
    let tmp = tempfile::tempdir().unwrap();
    // 1..=3 synced in one batch; 4 and 5 written after it claim 3.
    let mut p = FilePersister::open(tmp.path()).unwrap();
    p.append(&entries(1..=3, 1)).unwrap();
    p.sync().unwrap();
    p.append(&entries(4..=5, 1)).unwrap();
    drop(p);
    let log = tmp.path().join(FIRST_SEGMENT);
    let good = fs::read(&log).unwrap();
    let record_len = good.len() / 5; // every record here has the same size
                                     // Zeros over entry 2's record; a flipped bit in entry 3's body.
    for (record, zeroed) in [(1usize, true), (2, false)] {
        let mut bad = good.clone();
        let at = record * record_len;
        if zeroed {
            bad[at..at + record_len].fill(0);
        } else {
            bad[at + record_len - 1] ^= 0x08;
        }
        fs::write(&log, &bad).unwrap();
        assert_corrupt(recover(tmp.path()), &log, at as u64);
        assert_eq!(fs::read(&log).unwrap(), bad, "the evidence is kept");
    }
}

#[test]
fn reopening_claims_what_it_read_back_as_synced() {
    // A node that read entries 1..=3 back (and synced them at open) then
    // appended 4: damage to 3 is now corruption, not an unsynced tail.
    let tmp = tempfile::tempdir().unwrap();
    let offsets = write_unsynced_tail(tmp.path(), 0, 3);
    {
        let mut p = FilePersister::open(tmp.path()).unwrap();
        assert_eq!(p.recover().unwrap().entries, entries(1..=3, 1));
        p.append(&entries(4..=4, 1)).unwrap();
    }
    let log = tmp.path().join(FIRST_SEGMENT);
    let mut bad = fs::read(&log).unwrap();
    bad[offsets[2] as usize + 2] ^= 0x01;
    fs::write(&log, &bad).unwrap();
    assert_corrupt(recover(tmp.path()), &log, offsets[2]);
}
