//! The leader's log writer: makes the entries `start` appended durable with
//! group commit (one sync for all that arrived meanwhile), then counts them
//! as the leader's own match index (§5.3). Followers persist in their
//! handlers instead, since they must sync before they reply.

use std::sync::Arc;

use crate::node::Inner;
use crate::replication::maybe_commit;
use crate::state::{Role, State};

/// Whether a leader has appended entries the persister has not seen.
fn has_unwritten(st: &State) -> bool {
    st.role == Role::Leader && st.log.last_index() > st.written_index
}

pub(crate) fn log_writer(inner: Arc<Inner>) {
    loop {
        {
            let mut st = inner.state.lock();
            while !st.dead && !has_unwritten(&st) {
                inner.writer_cv.wait(&mut st);
            }
            if st.dead {
                return;
            }
        }
        // Lock order: storage, then state. The state lock is released for the
        // sync (see `persist_unlocked`), so `start` and the replicators carry
        // on meanwhile.
        let mut storage = inner.storage.lock();
        let mut st = inner.state.lock();
        if st.dead {
            return;
        }
        let before = st.durable_index;
        if !inner.persist_unlocked(&mut st, &mut **storage) {
            return;
        }
        if st.durable_index > before && maybe_commit(&mut st) {
            inner.committed(&mut st);
            if st.links_stale {
                drop(st);
                drop(storage);
                inner.refresh_links();
            }
        }
    }
}
