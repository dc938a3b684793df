//! Log compaction (§7) on the service's word: the service writes its state
//! into a snapshot writer — on a thread of its own, holding no lock of the
//! node — and Raft then installs it and discards the log it covers.
//!
//! The original serialized, wrote and synced the whole state while holding
//! its one mutex, so heartbeats, votes and new commands all waited; a long
//! write deposed the leader.

use std::sync::atomic::Ordering;
use std::time::Instant;

use parking_lot::MutexGuard;

use crate::envelope;
use crate::node::Inner;
use crate::persister::{SnapshotMeta, SnapshotWriter};

/// Starts a snapshot of the state machine through `index`. `None` if
/// `index` is not newer than the current snapshot or not yet applied (the
/// service has nothing to write), or the node is stopped.
pub(crate) fn begin_snapshot(inner: &Inner, index: u64) -> Option<Box<dyn SnapshotWriter>> {
    let mut storage = inner.storage.lock();
    let mut st = inner.state.lock();
    if st.dead || index <= st.log.snapshot_index() || index > st.last_applied {
        tracing::debug!(
            me = inner.me,
            index,
            snapshot_index = st.log.snapshot_index(),
            "ignores snapshot"
        );
        return None;
    }
    let term = st.log.term(index)?;
    let meta = SnapshotMeta {
        last_included_index: index,
        last_included_term: term,
    };
    // The configuration in force at `index` goes first (see `envelope.rs`).
    let config = st.membership.at(index).clone();
    let begun = storage.begin_snapshot(meta).and_then(|mut writer| {
        envelope::write_header(&mut *writer, &config)?;
        Ok(writer)
    });
    match begun {
        Ok(writer) => Some(writer),
        Err(e) => {
            inner.die(&mut st, &e);
            None
        }
    }
}

/// Syncs a snapshot the service has written (no lock held), then installs
/// it and discards the log it covers. Returns whether it was installed: a
/// newer snapshot (one a leader sent meanwhile) makes it obsolete.
pub(crate) fn finish_snapshot(inner: &Inner, mut writer: Box<dyn SnapshotWriter>) -> bool {
    if let Err(e) = writer.finish() {
        let mut st = inner.state.lock();
        inner.die(&mut st, &e);
        return false;
    }
    let meta = writer.meta();
    let (index, term) = (meta.last_included_index, meta.last_included_term);
    let mut storage = inner.storage.lock();
    let mut st = inner.state.lock();
    if st.dead || index <= st.log.snapshot_index() {
        return false;
    }
    // Installing renames a file, syncs a directory and deletes the log
    // segments the snapshot covers: milliseconds on a busy disk. The state
    // lock is released meanwhile (the storage lock keeps every other
    // persister write out, and only a storage-lock holder moves the
    // snapshot index), so heartbeats, reads and `start` go on.
    let started = Instant::now();
    let installed = MutexGuard::unlocked(&mut st, || storage.install_snapshot(writer));
    if started.elapsed() >= crate::node::SLOW_SYNC {
        tracing::warn!(
            me = inner.me,
            index,
            ms = started.elapsed().as_millis() as u64,
            "installing a snapshot held the log writer up"
        );
    }
    if let Err(e) = installed {
        inner.die(&mut st, &e);
        return false;
    }
    if st.dead {
        return false;
    }
    let discarded = st.log.compact_to(index, term).discarded;
    st.membership.compact_to(index);
    // The persister's log now starts after `index` too, synced.
    st.written_index = st.written_index.max(index);
    st.durable_index = st.durable_index.max(index);
    // The replaced snapshot's handle is dropped after the locks: closing
    // the last handle of a gigabyte file frees its blocks.
    let replaced = std::mem::replace(&mut st.snapshot, storage.current_snapshot());
    inner
        .raft_state_bytes
        .store(storage.raft_state_size(), Ordering::Relaxed);
    drop((st, storage));
    drop((discarded, replaced));
    tracing::debug!(me = inner.me, index, term, "log compacted");
    true
}

/// A snapshot the service holds in memory, written and installed at once.
pub(crate) fn snapshot(inner: &Inner, index: u64, data: &[u8]) -> bool {
    let Some(mut writer) = begin_snapshot(inner, index) else {
        return false;
    };
    if let Err(e) = writer.write(data) {
        let mut st = inner.state.lock();
        inner.die(&mut st, &e);
        return false;
    }
    finish_snapshot(inner, writer)
}
