//! The leader's log writer: makes the entries `start` appended durable with
//! group commit (one sync for all that arrived meanwhile), then counts them
//! as the leader's own match index (§5.3). Followers persist in their
//! handlers instead, since they must sync before they reply.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::node::{write_out, Inner};
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
        // sync, so `start` and the replicators carry on meanwhile; the storage
        // lock keeps any other persister write behind this one.
        let mut storage = inner.storage.lock();
        let mut st = inner.state.lock();
        if st.dead {
            return;
        }
        let epoch = st.log_epoch;
        let written = write_out(&mut st, &mut **storage);
        let upto = st.written_index;
        drop(st);
        let result = written.and_then(|()| storage.sync());
        inner
            .raft_state_bytes
            .store(storage.raft_state_size(), Ordering::Relaxed);
        let mut st = inner.state.lock();
        if let Err(e) = result {
            inner.die(&mut st, &e);
            return;
        }
        // Entries truncated meanwhile (we lost leadership) are not counted.
        if st.log_epoch == epoch && upto > st.durable_index {
            st.durable_index = upto;
            if maybe_commit(&mut st) {
                inner.apply_cv.notify_one();
            }
        }
    }
}
