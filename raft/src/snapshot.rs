//! Log compaction (§7): the service's `snapshot()` and the
//! InstallSnapshot handler (Figure 13) for followers whose entries are gone.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use proto::raft::{InstallSnapshotRequest, InstallSnapshotResponse};

use crate::node::Inner;
use crate::state::PendingSnapshot;
use crate::SnapshotMeta;

/// The service's state machine covers the log through `index`: save its
/// snapshot and discard those entries. Ignored if `index` is not newer than
/// the current snapshot or not yet applied. Safe to call from the thread
/// that pops the apply queue: no lock is held while the queue is pushed.
pub(crate) fn snapshot(inner: &Inner, index: u64, data: Vec<u8>) {
    let mut storage = inner.storage.lock();
    let mut st = inner.state.lock();
    if st.dead || index <= st.log.snapshot_index() || index > st.last_applied {
        tracing::debug!(
            me = inner.me,
            index,
            snapshot_index = st.log.snapshot_index(),
            "ignores snapshot"
        );
        return;
    }
    let Some(term) = st.log.term(index) else {
        return;
    };
    let meta = SnapshotMeta {
        last_included_index: index,
        last_included_term: term,
    };
    if let Err(e) = storage.save_snapshot(meta, &data) {
        inner.die(&mut st, &e);
        return;
    }
    st.log.compact_to(index, term);
    // The persister's log now starts after `index` too, synced.
    st.written_index = st.written_index.max(index);
    st.durable_index = st.durable_index.max(index);
    st.snapshot = Some(Arc::new(data));
    inner
        .raft_state_bytes
        .store(storage.raft_state_size(), Ordering::Relaxed);
    tracing::debug!(me = inner.me, index, term, "log compacted");
}

/// The InstallSnapshot handler: a leader sends its snapshot because the
/// entries this follower needs are gone from its log.
pub(crate) fn install_snapshot(
    inner: &Inner,
    args: InstallSnapshotRequest,
) -> InstallSnapshotResponse {
    let now = Instant::now();
    let mut storage = inner.storage.lock();
    let mut st = inner.state.lock();
    if st.dead || args.term < st.current_term {
        return InstallSnapshotResponse {
            term: st.current_term,
        };
    }
    st.observe_term(args.term, &inner.config, now);
    st.become_follower(&inner.config, now);
    st.leader = Some(args.leader_id as usize);
    st.last_leader_contact = Some(now);
    st.reset_election_deadline(&inner.config, now);

    let index = args.last_snap_shot_include_index;
    let term = args.last_snap_shot_include_term;
    // A snapshot of what is already committed here brings nothing new.
    // (An index no real log reaches is a garbled request: ignored.)
    if index > st.commit_index && index < u64::MAX / 2 {
        let kept = st.log.compact_to(index, term);
        let result = (|| {
            if !kept && st.written_index > index {
                // Our entries after `index` conflict with the leader's.
                storage.truncate_suffix(index + 1)?;
            }
            storage.save_snapshot(
                SnapshotMeta {
                    last_included_index: index,
                    last_included_term: term,
                },
                &args.data,
            )
        })();
        if let Err(e) = result {
            inner.die(&mut st, &e);
            return InstallSnapshotResponse {
                term: st.current_term,
            };
        }
        st.written_index = if kept {
            st.written_index.max(index)
        } else {
            index
        };
        st.durable_index = st.durable_index.min(st.written_index).max(index);
        st.log_epoch += 1;
        st.commit_index = index;
        let data = Arc::new(args.data);
        st.snapshot = Some(data.clone());
        st.pending_snapshot = Some(PendingSnapshot { index, term, data });
        inner.apply_cv.notify_one();
        tracing::info!(
            me = inner.me,
            index,
            term,
            kept_suffix = kept,
            "installs a snapshot"
        );
    }
    // Nothing is acknowledged before it is durable.
    if Inner::needs_persist(&st) {
        inner.persist(&mut st, &mut **storage);
    }
    inner
        .raft_state_bytes
        .store(storage.raft_state_size(), Ordering::Relaxed);
    InstallSnapshotResponse {
        term: st.current_term,
    }
}
