//! A persister that keeps everything in memory, for tests (the 6.5840 way).
//!
//! Writes queue up until `sync`, which applies them to the durable state; a
//! [`deep_copy`](MemoryPersister::deep_copy) sees only durable state, so a
//! test that crashes a node by copying its persister also catches a node that
//! acknowledged something it never synced. [`power_loss`](MemoryPersister::power_loss)
//! is the harsher crash: some unsynced writes may survive, torn or out of
//! order, as on a real disk. Every operation costs what it touches, never
//! the size of the whole log.
//!
//! Faults: [`fail_next_append`](MemoryPersister::fail_next_append) and
//! [`fail_next_sync`](MemoryPersister::fail_next_sync) make the next call
//! fail with an OS error (ENOSPC, EIO), after which the persister is
//! poisoned like a [`FilePersister`](super::FilePersister).

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use prost::Message;
use proto::raft::LogEntry;

use super::{
    BufferWriter, HardState, PersistError, Persister, Recovered, SnapshotData, SnapshotMeta,
    SnapshotWriter,
};

mod power_loss;

/// Bytes the hard state takes as encoded (term and vote).
const HARD_STATE_BYTES: u64 = 16;

/// An in-memory persister. A cheap handle: clones share the same state.
#[derive(Clone, Default)]
pub struct MemoryPersister {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    durable: Stored,
    /// Writes since the last sync, in order.
    pending: Vec<Op>,
    /// Where the log would end and start if `pending` were applied, to
    /// reject misuse at the call rather than at the sync.
    pending_last_index: u64,
    pending_snapshot_index: u64,
    /// How long finishing a snapshot takes (see `set_snapshot_delay`).
    snapshot_delay: Duration,
    /// OS errors the next append / sync fails with.
    append_fault: Option<i32>,
    sync_fault: Option<i32>,
    /// Why every call fails: an earlier (injected) write or sync failed.
    poisoned: Option<String>,
}

#[derive(Clone)]
enum Op {
    HardState(HardState),
    Append(Vec<LogEntry>),
    Truncate(u64),
    Snapshot(SnapshotData),
}

#[derive(Clone, Default)]
struct Stored {
    hard_state: HardState,
    snapshot: Option<SnapshotData>,
    entries: Vec<LogEntry>,
    /// Sum of the encoded sizes of `entries`.
    entry_bytes: u64,
}

impl Stored {
    fn snapshot_index(&self) -> u64 {
        self.snapshot
            .as_ref()
            .map_or(0, |s| s.meta().last_included_index)
    }

    fn raft_state_size(&self) -> u64 {
        HARD_STATE_BYTES + self.entry_bytes
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::HardState(hs) => self.hard_state = hs,
            Op::Append(entries) => {
                self.entry_bytes += entries.iter().map(entry_bytes).sum::<u64>();
                self.entries.extend(entries);
            }
            Op::Truncate(from) => {
                let keep = (from - self.snapshot_index() - 1) as usize;
                if keep < self.entries.len() {
                    let gone: u64 = self.entries[keep..].iter().map(entry_bytes).sum();
                    self.entry_bytes -= gone;
                    self.entries.truncate(keep);
                }
            }
            Op::Snapshot(data) => {
                let meta = data.meta();
                let drop = meta
                    .last_included_index
                    .saturating_sub(self.snapshot_index())
                    .min(self.entries.len() as u64) as usize;
                let gone: u64 = self.entries[..drop].iter().map(entry_bytes).sum();
                self.entry_bytes -= gone;
                self.entries.drain(..drop);
                if self
                    .entries
                    .first()
                    .is_some_and(|e| e.log_index != meta.last_included_index + 1)
                {
                    self.entries.clear();
                    self.entry_bytes = 0;
                }
                self.snapshot = Some(data);
            }
        }
    }
}

fn entry_bytes(e: &LogEntry) -> u64 {
    e.encoded_len() as u64
}

impl Inner {
    fn sync(&mut self) {
        for op in self.pending.drain(..) {
            self.durable.apply(op);
        }
    }

    /// A fresh, unpoisoned persister over `durable` (a restarted node).
    fn restarted(durable: Stored) -> Inner {
        let last = durable
            .entries
            .last()
            .map_or(durable.snapshot_index(), |e| e.log_index);
        Inner {
            pending_last_index: last,
            pending_snapshot_index: durable.snapshot_index(),
            durable,
            ..Inner::default()
        }
    }

    fn usable(&self) -> Result<(), PersistError> {
        match &self.poisoned {
            Some(why) => Err(PersistError::Poisoned(why.clone())),
            None => Ok(()),
        }
    }

    /// Fails with an injected OS error and poisons the persister.
    fn fail(&mut self, errno: i32) -> PersistError {
        let err = PersistError::Io {
            path: PathBuf::from("<memory>"),
            source: io::Error::from_raw_os_error(errno),
        };
        self.poisoned = Some(err.to_string());
        err
    }
}

impl MemoryPersister {
    pub fn new() -> Self {
        Self::default()
    }

    /// An independent deep copy of the durable state: what a crashed
    /// server's successor starts from (unsynced writes are lost).
    pub fn deep_copy(&self) -> MemoryPersister {
        let durable = self.inner.lock().durable.clone();
        MemoryPersister {
            inner: Arc::new(Mutex::new(Inner::restarted(durable))),
        }
    }

    /// Makes every snapshot written from now on take `delay` to finish, as
    /// on a slow disk: tests check that nothing else waits for it.
    pub fn set_snapshot_delay(&self, delay: Duration) {
        self.inner.lock().snapshot_delay = delay;
    }

    /// The next [`append`](Persister::append) fails with OS error `errno`
    /// (e.g. `libc::ENOSPC`) and poisons the persister.
    pub fn fail_next_append(&self, errno: i32) {
        self.inner.lock().append_fault = Some(errno);
    }

    /// The next [`sync`](Persister::sync) fails with OS error `errno` and
    /// poisons the persister; what it was to make durable is lost.
    pub fn fail_next_sync(&self, errno: i32) {
        self.inner.lock().sync_fault = Some(errno);
    }

    /// Whether an injected failure has poisoned this persister.
    pub fn is_poisoned(&self) -> bool {
        self.inner.lock().poisoned.is_some()
    }

    /// Bytes of durable hard state and log, as encoded.
    pub fn raft_state_size(&self) -> u64 {
        self.inner.lock().durable.raft_state_size()
    }

    /// Bytes of the durable snapshot.
    pub fn snapshot_size(&self) -> u64 {
        self.inner
            .lock()
            .durable
            .snapshot
            .as_ref()
            .map_or(0, |s| s.len())
    }

    /// The durable snapshot's bytes, if any (what a test's service restores).
    pub fn snapshot(&self) -> Option<Vec<u8>> {
        let inner = self.inner.lock();
        let data = inner.durable.snapshot.as_ref()?;
        Some(data.to_vec().expect("a snapshot in memory reads back"))
    }
}

impl Persister for MemoryPersister {
    fn recover(&mut self) -> Result<Recovered, PersistError> {
        let mut inner = self.inner.lock();
        inner.usable()?;
        // A live node's view includes what it wrote but did not sync yet.
        inner.sync();
        let s = &inner.durable;
        Ok(Recovered {
            hard_state: s.hard_state,
            snapshot: s.snapshot.clone(),
            entries: s.entries.clone(),
        })
    }

    fn save_hard_state(&mut self, hard_state: HardState) -> Result<(), PersistError> {
        let mut inner = self.inner.lock();
        inner.usable()?;
        inner.pending.push(Op::HardState(hard_state));
        Ok(())
    }

    fn append(&mut self, entries: &[LogEntry]) -> Result<(), PersistError> {
        let mut inner = self.inner.lock();
        inner.usable()?;
        if let Some(errno) = inner.append_fault.take() {
            return Err(inner.fail(errno));
        }
        for (i, e) in entries.iter().enumerate() {
            let want = inner.pending_last_index + 1 + i as u64;
            if e.log_index != want {
                return Err(PersistError::Misuse(format!(
                    "append of index {} where {want} is next",
                    e.log_index
                )));
            }
        }
        inner.pending_last_index += entries.len() as u64;
        inner.pending.push(Op::Append(entries.to_vec()));
        Ok(())
    }

    fn truncate_suffix(&mut self, from: u64) -> Result<(), PersistError> {
        let mut inner = self.inner.lock();
        inner.usable()?;
        if from <= inner.pending_snapshot_index {
            return Err(PersistError::Misuse(format!(
                "truncate from {from} into the snapshot through {}",
                inner.pending_snapshot_index
            )));
        }
        inner.pending_last_index = inner.pending_last_index.min(from - 1);
        inner.pending.push(Op::Truncate(from));
        Ok(())
    }

    fn begin_snapshot(
        &mut self,
        meta: SnapshotMeta,
    ) -> Result<Box<dyn SnapshotWriter>, PersistError> {
        let delay = self.inner.lock().snapshot_delay;
        Ok(Box::new(BufferWriter::new(meta, delay)))
    }

    fn install_snapshot(&mut self, snapshot: Box<dyn SnapshotWriter>) -> Result<(), PersistError> {
        let writer = snapshot
            .into_any()
            .downcast::<BufferWriter>()
            .map_err(|_| PersistError::Misuse("a snapshot from another persister".into()))?;
        let mut inner = self.inner.lock();
        inner.usable()?;
        let index = writer.meta.last_included_index;
        if index < inner.pending_snapshot_index {
            return Err(PersistError::Misuse(format!(
                "snapshot through index {index} is older than the stored one through {}",
                inner.pending_snapshot_index
            )));
        }
        if index >= inner.pending_last_index {
            inner.pending_last_index = index;
        }
        inner.pending_snapshot_index = index;
        let data = SnapshotData::from_bytes(writer.meta, writer.data);
        inner.pending.push(Op::Snapshot(data));
        // Snapshots are durable when the call returns.
        inner.sync();
        Ok(())
    }

    fn current_snapshot(&self) -> Option<SnapshotData> {
        self.inner.lock().durable.snapshot.clone()
    }

    fn sync(&mut self) -> Result<(), PersistError> {
        let mut inner = self.inner.lock();
        inner.usable()?;
        if let Some(errno) = inner.sync_fault.take() {
            // A failed fsync may have dropped the pages it was to write.
            inner.pending.clear();
            return Err(inner.fail(errno));
        }
        inner.sync();
        Ok(())
    }

    fn raft_state_size(&self) -> u64 {
        self.inner.lock().durable.raft_state_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn e(index: u64, term: u64) -> LogEntry {
        LogEntry {
            command: vec![1, 2, 3],
            log_term: term,
            log_index: index,
            config: None,
        }
    }

    #[test]
    fn round_trips_what_was_synced() {
        let mut p = MemoryPersister::new();
        let hs = HardState {
            current_term: 3,
            voted_for: Some(1),
        };
        p.save_hard_state(hs).unwrap();
        p.append(&[e(1, 1), e(2, 3)]).unwrap();
        p.sync().unwrap();
        let r = p.clone().recover().unwrap();
        assert_eq!(r.hard_state, hs);
        assert_eq!(r.entries, vec![e(1, 1), e(2, 3)]);
        assert_eq!(r.snapshot, None);
    }

    #[test]
    fn deep_copy_loses_unsynced_writes_and_is_independent() {
        let mut p = MemoryPersister::new();
        p.append(&[e(1, 1)]).unwrap();
        p.sync().unwrap();
        p.append(&[e(2, 1)]).unwrap();
        let mut copy = p.deep_copy();
        assert_eq!(copy.recover().unwrap().entries.len(), 1);
        p.sync().unwrap();
        assert_eq!(copy.recover().unwrap().entries.len(), 1);
        assert_eq!(p.deep_copy().recover().unwrap().entries.len(), 2);
    }

    #[test]
    fn rejects_gaps_and_truncates_suffix() {
        let mut p = MemoryPersister::new();
        assert!(matches!(p.append(&[e(2, 1)]), Err(PersistError::Misuse(_))));
        p.append(&[e(1, 1), e(2, 1), e(3, 1)]).unwrap();
        p.truncate_suffix(2).unwrap();
        p.append(&[e(2, 2)]).unwrap();
        p.sync().unwrap();
        assert_eq!(p.recover().unwrap().entries, vec![e(1, 1), e(2, 2)]);
    }

    #[test]
    fn snapshot_discards_prefix_and_shrinks_size() {
        let mut p = MemoryPersister::new();
        p.append(&(1..=10).map(|i| e(i, 1)).collect::<Vec<_>>())
            .unwrap();
        p.sync().unwrap();
        let full = p.raft_state_size();
        assert_eq!(full, HARD_STATE_BYTES + 10 * e(1, 1).encoded_len() as u64);
        let meta = SnapshotMeta {
            last_included_index: 7,
            last_included_term: 1,
        };
        p.save_snapshot(meta, b"state").unwrap();
        assert!(p.raft_state_size() < full);
        assert_eq!(p.snapshot_size(), 5);
        let r = p.deep_copy().recover().unwrap();
        assert_eq!(
            r.snapshot,
            Some(SnapshotData::from_bytes(meta, b"state".to_vec()))
        );
        assert_eq!(
            r.entries.iter().map(|e| e.log_index).collect::<Vec<_>>(),
            vec![8, 9, 10]
        );
        // Past the end: the whole log goes; appends continue after the snapshot.
        let meta = SnapshotMeta {
            last_included_index: 20,
            last_included_term: 2,
        };
        p.save_snapshot(meta, b"s2").unwrap();
        assert!(p.recover().unwrap().entries.is_empty());
        p.append(&[e(21, 2)]).unwrap();
        assert!(p.append(&[e(23, 2)]).is_err());
    }
    #[test]
    fn injected_failures_poison_and_lose_only_unsynced_writes() {
        for fail_sync in [false, true] {
            for errno in [libc::ENOSPC, libc::EIO] {
                let mut p = MemoryPersister::new();
                p.append(&[e(1, 1)]).unwrap();
                p.sync().unwrap();
                let result = if fail_sync {
                    p.append(&[e(2, 1)]).unwrap();
                    p.fail_next_sync(errno);
                    p.sync()
                } else {
                    p.fail_next_append(errno);
                    p.append(&[e(2, 1)])
                };
                match result {
                    Err(PersistError::Io { source, .. }) => {
                        assert_eq!(source.raw_os_error(), Some(errno))
                    }
                    other => panic!("expected the injected error, got {other:?}"),
                }
                assert!(p.is_poisoned());
                assert!(matches!(p.sync(), Err(PersistError::Poisoned(_))));
                assert!(matches!(
                    p.append(&[e(2, 1)]),
                    Err(PersistError::Poisoned(_))
                ));
                for seed in 0..10 {
                    let r = p.power_loss(seed).recover().unwrap();
                    assert_eq!(r.entries, vec![e(1, 1)]);
                }
            }
        }
    }
}
