//! A full or failing disk under a FilePersister: every injected ENOSPC and
//! EIO, on a write and on an fsync, is returned, poisons the persister, and
//! a reopen recovers exactly what was synced.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use proto::raft::LogEntry;

use super::disk::Disk;
use super::faults::{Faults, Op};
use super::FilePersister;
use crate::persister::{HardState, PersistError, Persister, SnapshotMeta};

const CASES: [(Op, i32); 4] = [
    (Op::Write, libc::ENOSPC),
    (Op::Write, libc::EIO),
    (Op::Sync, libc::ENOSPC),
    (Op::Sync, libc::EIO),
];

fn entries(range: std::ops::RangeInclusive<u64>) -> Vec<LogEntry> {
    range
        .map(|i| LogEntry {
            command: format!("command {i}").into_bytes(),
            log_term: 1,
            log_index: i,
            config: None,
        })
        .collect()
}

fn open_faulty(dir: &Path) -> (FilePersister, Arc<Faults>) {
    let faults = Arc::new(Faults::default());
    let p = FilePersister::open_on(dir, Disk::faulty(Arc::clone(&faults))).unwrap();
    (p, faults)
}

fn assert_os_error(result: Result<(), PersistError>, errno: i32) {
    match result {
        Err(PersistError::Io { source, .. }) => assert_eq!(source.raw_os_error(), Some(errno)),
        other => panic!("expected the injected error {errno}, got {other:?}"),
    }
}

fn assert_poisoned<T: std::fmt::Debug>(result: Result<T, PersistError>) {
    assert!(
        matches!(result, Err(PersistError::Poisoned(_))),
        "expected Poisoned, got {result:?}"
    );
}

/// Every later call is refused, and a retried sync is not reported OK.
fn assert_refuses_everything(p: &mut FilePersister) {
    assert_poisoned(p.sync());
    assert_poisoned(p.append(&entries(6..=6)));
    assert_poisoned(p.truncate_suffix(2));
    assert_poisoned(p.save_hard_state(HardState::default()));
    assert_poisoned(p.recover());
}

#[test]
fn a_failed_log_write_or_sync_poisons_and_reopen_recovers_the_synced_log() {
    for (op, errno) in CASES {
        let tmp = tempfile::tempdir().unwrap();
        let log = super::segment::path(tmp.path(), 1);
        let (mut p, faults) = open_faulty(tmp.path());
        p.recover().unwrap();
        p.append(&entries(1..=3)).unwrap();
        p.sync().unwrap();
        let synced_len = fs::metadata(&log).unwrap().len();

        p.append(&entries(4..=5)).unwrap();
        faults.fail_next(op, errno);
        assert_os_error(p.sync(), errno);
        assert_refuses_everything(&mut p);
        drop(p);

        // Without a power loss the file may still hold part or all of the
        // unsynced tail: a reopen keeps the synced entries and at most a
        // contiguous run of the rest, never a damaged record.
        let got = FilePersister::open(tmp.path()).unwrap().recover().unwrap();
        assert!(
            got.entries.len() >= 3,
            "{op:?} {errno}: lost synced entries"
        );
        assert_eq!(got.entries[..], entries(1..=5)[..got.entries.len()]);

        // After a power loss only what was synced is on disk.
        fs::OpenOptions::new()
            .write(true)
            .open(&log)
            .unwrap()
            .set_len(synced_len)
            .unwrap();
        let got = FilePersister::open(tmp.path()).unwrap().recover().unwrap();
        assert_eq!(got.entries, entries(1..=3), "{op:?} {errno}");
    }
}

#[test]
fn a_failed_write_leaves_a_torn_record_that_reopen_drops() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut p, faults) = open_faulty(tmp.path());
    p.append(&entries(1..=2)).unwrap();
    p.sync().unwrap();
    p.append(&entries(3..=3)).unwrap();
    faults.fail_next(Op::Write, libc::ENOSPC);
    assert_os_error(p.sync(), libc::ENOSPC);
    drop(p);
    // Half of record 3 reached the file before the disk filled up.
    let got = FilePersister::open(tmp.path()).unwrap().recover().unwrap();
    assert_eq!(got.entries, entries(1..=2));
}

#[test]
fn a_failed_hard_state_write_or_sync_keeps_the_old_one() {
    let old = HardState {
        current_term: 2,
        voted_for: Some(1),
    };
    let new = HardState {
        current_term: 5,
        voted_for: Some(0),
    };
    for (op, errno) in CASES {
        let tmp = tempfile::tempdir().unwrap();
        let (mut p, faults) = open_faulty(tmp.path());
        p.save_hard_state(old).unwrap();
        p.sync().unwrap();
        p.save_hard_state(new).unwrap();
        faults.fail_next(op, errno);
        assert_os_error(p.sync(), errno);
        assert_refuses_everything(&mut p);
        drop(p);
        let got = FilePersister::open(tmp.path()).unwrap().recover().unwrap();
        assert_eq!(got.hard_state, old, "{op:?} {errno}");
    }
}

#[test]
fn open_syncs_what_it_read_back() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let mut p = FilePersister::open(tmp.path()).unwrap();
        p.append(&entries(1..=3)).unwrap();
        let meta = SnapshotMeta {
            last_included_index: 1,
            last_included_term: 1,
        };
        p.save_snapshot(meta, b"state").unwrap();
        p.save_hard_state(HardState {
            current_term: 1,
            voted_for: None,
        })
        .unwrap();
        p.sync().unwrap();
        // Unsynced: only open's fsync of the log makes it durable.
        p.append(&entries(4..=4)).unwrap();
    }
    // Open fsyncs the log, hard_state, snapshot and the directory, and
    // fails if any of them fails.
    for nth in 0..4 {
        let faults = Arc::new(Faults::default());
        faults.fail_after_syncs(nth, libc::EIO);
        let result = FilePersister::open_on(tmp.path(), Disk::faulty(Arc::clone(&faults)));
        assert!(
            matches!(&result, Err(PersistError::Io { source, .. }) if source.raw_os_error() == Some(libc::EIO)),
            "sync {nth} of open: {result:?}"
        );
    }
    let faults = Arc::new(Faults::default());
    faults.fail_after_syncs(4, libc::EIO);
    let mut p = FilePersister::open_on(tmp.path(), Disk::faulty(faults)).unwrap();
    assert_eq!(p.recover().unwrap().entries, entries(2..=4));
}
