//! The applier: hands committed entries and installed snapshots to the
//! service through the apply queue, in order, exactly once.
//!
//! Whoever moves the commit index delivers what it committed at once
//! ([`deliver`], called from `Inner::committed`), one batch at most. The
//! applier thread only carries on with longer runs (a follower catching up
//! by thousands of entries) and with snapshots the handler installed. The
//! original's applier woke on a 10 ms tick; waking a thread of ours from
//! the committing one still cost a hand-off on the path of every write.
//! Every delivery happens under the state lock: that alone keeps them in
//! log order, whichever thread makes them. The queue is unbounded, so a
//! push never waits for the service.

use std::sync::Arc;

use parking_lot::MutexGuard;

use crate::config::APPLY_BATCH;
use crate::node::Inner;
use crate::state::State;
use crate::{ApplyMsg, Configuration};

/// Whether something waits to be delivered: a snapshot, or committed
/// entries the service has not been handed.
pub(crate) fn ready(st: &State) -> bool {
    st.pending_snapshot.is_some() || st.last_applied < st.commit_index
}

/// Pushes the pending snapshot, or else up to [`APPLY_BATCH`] committed
/// entries, to the apply queue. False if it could deliver nothing.
pub(crate) fn deliver(inner: &Inner, st: &mut State) -> bool {
    if st.dead {
        return false;
    }
    if let Some(snap) = st.pending_snapshot.take() {
        // The handler only installs snapshots past the commit index, so
        // this moves forward; later commands start at snap.index + 1.
        st.last_applied = st.last_applied.max(snap.index);
        inner.apply_queue.push(ApplyMsg::Snapshot {
            index: snap.index,
            term: snap.term,
            data: snap.data,
        });
        return true;
    }
    if st.last_applied >= st.commit_index {
        return false;
    }
    let from = st.last_applied + 1;
    let to = st.commit_index.min(from + APPLY_BATCH as u64 - 1);
    let batch: Vec<ApplyMsg> = st
        .log
        .range(from, to)
        .map(|e| match &e.config {
            Some(c) => ApplyMsg::Membership {
                index: e.log_index,
                term: e.log_term,
                config: Configuration::from_proto(c).unwrap_or_default(),
            },
            None => ApplyMsg::Command {
                index: e.log_index,
                term: e.log_term,
                command: e.command.clone(),
            },
        })
        .collect();
    let Some(last) = batch.last() else {
        tracing::error!(
            me = inner.me,
            from,
            "committed entries missing from the log"
        );
        return false;
    };
    st.last_applied = last.index();
    inner.apply_queue.push_all(batch);
    true
}

/// Delivers batch after batch while there is something to deliver,
/// letting other threads at the state lock between batches; sleeps
/// otherwise, until `Inner::committed` or the snapshot handler wakes it.
pub(crate) fn applier_ticker(inner: Arc<Inner>) {
    let mut st = inner.state.lock();
    loop {
        if st.dead {
            return;
        }
        if ready(&st) && deliver(&inner, &mut st) {
            MutexGuard::bump(&mut st);
        } else {
            inner.apply_cv.wait(&mut st);
        }
    }
}
