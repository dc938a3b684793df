//! FilePersister with preallocated segments (lab 2C, persistence): a new
//! segment is a spare file of zeros made ahead of time, so the last segment
//! usually ends in zeros. Appends, truncations, reopens and crashes must
//! read back exactly what was written, as with segments that grow.

use std::fs;
use std::path::{Path, PathBuf};

mod common;

use common::{entries, entry};
use raft::{FilePersister, Persister};

const SEGMENT_BYTES: u64 = 4096;

fn open(dir: &Path) -> FilePersister {
    let mut p = FilePersister::open(dir).unwrap();
    p.set_segment_bytes(SEGMENT_BYTES);
    p
}

/// Appends entries one sync at a time from `from` until the persister has
/// started a second segment, the spare being ready by then; returns the
/// last index written and the bytes of the records before it.
fn fill_into_second_segment(p: &mut FilePersister, from: u64) -> (u64, u64) {
    let mut index = from;
    loop {
        let before = p.raft_state_size();
        append_synced(p, entry(index, 1));
        if p.segment_paths().len() == 2 {
            return (index, before);
        }
        index += 1;
    }
}

/// Appends `entry` with one sync. The spare is made on the reaper thread:
/// this waits for it, so that the next segment certainly starts in it.
fn append_synced(p: &mut FilePersister, entry: proto::raft::LogEntry) {
    p.append(&[entry]).unwrap();
    p.sync().unwrap();
    p.wait_for_deletions();
}

fn last_segment(p: &FilePersister) -> PathBuf {
    p.segment_paths().last().unwrap().clone()
}

#[test]
fn a_segment_started_in_a_spare_keeps_its_zeros_and_reads_back_across_reopens() {
    let tmp = tempfile::tempdir().unwrap();
    let mut p = open(tmp.path());
    p.recover().unwrap();
    let (last, closed_records) = fill_into_second_segment(&mut p, 1);
    let active = last_segment(&p);
    assert_eq!(
        fs::metadata(&active).unwrap().len(),
        SEGMENT_BYTES,
        "the new segment is the preallocated spare"
    );
    assert_eq!(
        fs::metadata(&p.segment_paths()[0]).unwrap().len(),
        closed_records,
        "the closed segment holds its records and nothing more"
    );
    drop(p);

    let mut p = open(tmp.path());
    assert_eq!(p.recover().unwrap().entries, entries(1..=last, 1));
    assert_eq!(
        fs::metadata(&active).unwrap().len(),
        SEGMENT_BYTES,
        "reopening keeps the zeros: they are no unsynced tail"
    );
    p.append(&entries(last + 1..=last + 5, 1)).unwrap();
    p.sync().unwrap();
    drop(p);
    assert_eq!(
        open(tmp.path()).recover().unwrap().entries,
        entries(1..=last + 5, 1)
    );
}

#[test]
fn truncating_inside_a_preallocated_segment_leaves_no_stale_record() {
    let tmp = tempfile::tempdir().unwrap();
    let mut p = open(tmp.path());
    p.recover().unwrap();
    let (last, _) = fill_into_second_segment(&mut p, 1);
    p.append(&entries(last + 1..=last + 4, 1)).unwrap();
    p.sync().unwrap();
    // Cut inside the new segment, then write entries of a later term in
    // place of the dropped ones (§5.3: a conflicting suffix).
    p.truncate_suffix(last + 2).unwrap();
    p.append(&entries(last + 2..=last + 3, 2)).unwrap();
    p.sync().unwrap();
    drop(p);
    let mut want = entries(1..=last + 1, 1);
    want.extend(entries(last + 2..=last + 3, 2));
    assert_eq!(open(tmp.path()).recover().unwrap().entries, want);
}

#[test]
fn a_crash_right_after_the_spare_became_a_segment_recovers_its_predecessor() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let mut p = open(tmp.path());
        p.recover().unwrap();
        p.append(&entries(1..=3, 1)).unwrap();
        p.sync().unwrap();
    }
    // What a crash between the spare's rename and its first record leaves.
    let zeros = tmp.path().join("log-00000000000000000004");
    fs::write(&zeros, vec![0u8; SEGMENT_BYTES as usize]).unwrap();
    let mut p = open(tmp.path());
    assert_eq!(p.recover().unwrap().entries, entries(1..=3, 1));
    p.append(&entries(4..=6, 1)).unwrap();
    p.sync().unwrap();
    drop(p);
    assert_eq!(
        open(tmp.path()).recover().unwrap().entries,
        entries(1..=6, 1)
    );
}

#[test]
fn unsynced_records_in_preallocated_space_are_dropped_and_appends_follow() {
    let tmp = tempfile::tempdir().unwrap();
    let mut p = open(tmp.path());
    p.recover().unwrap();
    let (last, _) = fill_into_second_segment(&mut p, 1);
    let active = last_segment(&p);
    drop(p);
    // A torn record after the synced ones, then the zeros: a crash in the
    // middle of an append.
    let mut bytes = fs::read(&active).unwrap();
    let end = bytes.iter().rposition(|&b| b != 0).unwrap() + 1;
    bytes[end + 7] = 0x5a;
    fs::write(&active, &bytes).unwrap();

    let mut p = open(tmp.path());
    assert_eq!(p.recover().unwrap().entries, entries(1..=last, 1));
    p.append(&entries(last + 1..=last + 2, 1)).unwrap();
    p.sync().unwrap();
    drop(p);
    assert_eq!(
        open(tmp.path()).recover().unwrap().entries,
        entries(1..=last + 2, 1)
    );
}

#[test]
fn a_spare_left_by_a_crash_is_removed_on_open() {
    let tmp = tempfile::tempdir().unwrap();
    let spare = tmp.path().join("log-spare.tmp");
    fs::write(&spare, vec![0u8; 100]).unwrap();
    let mut p = open(tmp.path());
    assert!(p.recover().unwrap().entries.is_empty());
    assert!(!spare.exists(), "no spare is made before the first append");
}

#[test]
fn segments_written_in_few_large_syncs_get_no_spare_and_small_syncs_bring_it_back() {
    let tmp = tempfile::tempdir().unwrap();
    let spare = tmp.path().join("log-spare.tmp");
    let mut p = open(tmp.path());
    p.recover().unwrap();
    let large = |index| {
        let mut e = entry(index, 1);
        e.command = vec![b'x'; 1500];
        e
    };
    // Two or three records fill a segment: after the first such segment
    // closes, no spare is made, so the third starts empty.
    let mut index = 1;
    while p.segment_paths().len() < 3 {
        append_synced(&mut p, large(index));
        index += 1;
    }
    let third = last_segment(&p);
    assert!(
        fs::metadata(&third).unwrap().len() < SEGMENT_BYTES,
        "a segment after large syncs grows as it is written"
    );
    assert!(!spare.exists(), "no spare is made for large syncs");

    // A segment of small syncs (about a hundred) makes spares pay again.
    while p.segment_paths().len() < 6 {
        append_synced(&mut p, entry(index, 1));
        index += 1;
    }
    assert_eq!(
        fs::metadata(last_segment(&p)).unwrap().len(),
        SEGMENT_BYTES,
        "after a segment of small syncs the next one is preallocated"
    );
    drop(p);
    let want: Vec<u64> = (1..index).collect();
    let got: Vec<u64> = open(tmp.path())
        .recover()
        .unwrap()
        .entries
        .iter()
        .map(|e| e.log_index)
        .collect();
    assert_eq!(got, want);
}
