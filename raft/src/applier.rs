//! The applier: hands committed entries and installed snapshots to the
//! service through the apply queue, in order, exactly once.

use std::sync::Arc;

use crate::config::APPLY_BATCH;
use crate::node::Inner;
use crate::{ApplyMsg, Configuration};

/// Sleeps until the commit index moves or a snapshot arrives, then pushes
/// the messages without holding the state lock (the service may call
/// `snapshot()` from the thread that pops them).
pub(crate) fn applier_ticker(inner: Arc<Inner>) {
    let mut st = inner.state.lock();
    loop {
        if st.dead {
            return;
        }
        let mut batch = Vec::new();
        if let Some(snap) = st.pending_snapshot.take() {
            // The handler only installs snapshots past the commit index, so
            // this moves forward; later commands start at snap.index + 1.
            st.last_applied = st.last_applied.max(snap.index);
            batch.push(ApplyMsg::Snapshot {
                index: snap.index,
                term: snap.term,
                data: snap.data,
            });
        } else if st.last_applied < st.commit_index {
            let from = st.last_applied + 1;
            let to = st.commit_index.min(from + APPLY_BATCH as u64 - 1);
            batch.extend(st.log.range(from, to).map(|e| match &e.config {
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
            }));
            match batch.last() {
                Some(last) => st.last_applied = last.index(),
                None => {
                    tracing::error!(
                        me = inner.me,
                        from,
                        "committed entries missing from the log"
                    );
                    inner.apply_cv.wait(&mut st);
                    continue;
                }
            }
        } else {
            inner.apply_cv.wait(&mut st);
            continue;
        }
        drop(st);
        if inner.is_dead() {
            return;
        }
        // One lock and one wake-up for the batch (see `LockQueue::push_all`).
        inner.apply_queue.push_all(batch);
        st = inner.state.lock();
    }
}
