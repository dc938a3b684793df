//! The follower's half of a streamed InstallSnapshot (Figure 13): chunks are
//! written to a staging file with no lock of the node held, and the snapshot
//! is installed, atomically, only once the last chunk is in and the whole
//! checks out against the leader's checksum.
//!
//! Whatever happens mid-transfer — the leader crashes or is replaced, this
//! node crashes, a chunk is lost — no partial snapshot is ever installed:
//! the staging file is dropped (or removed at the next start), and the next
//! leader's transfer starts at offset 0 or resumes at the offset this node
//! reports.

use std::sync::atomic::Ordering;
use std::time::Instant;

use proto::raft::{InstallSnapshotRequest, InstallSnapshotResponse};

use crate::envelope;
use crate::node::Inner;
use crate::persister::{PersistError, SnapshotMeta, SnapshotWriter};
use crate::state::PendingSnapshot;

/// A snapshot arriving in chunks.
pub(crate) struct Incoming {
    /// The leader's term when it started sending; a later leader starts over.
    term: u64,
    meta: SnapshotMeta,
    total: u64,
    crc: u32,
    writer: Box<dyn SnapshotWriter>,
}

impl Incoming {
    fn is_for(&self, args: &InstallSnapshotRequest) -> bool {
        self.term == args.term
            && self.meta.last_included_index == args.last_snap_shot_include_index
            && self.meta.last_included_term == args.last_snap_shot_include_term
            && self.total == args.total_size
            && self.crc == args.crc
    }
}

fn reply(term: u64, saved: bool, next_offset: u64) -> InstallSnapshotResponse {
    InstallSnapshotResponse {
        term,
        saved,
        next_offset,
    }
}

/// The InstallSnapshot handler: a leader sends its snapshot, a chunk at a
/// time, because the entries this follower needs are gone from its log.
pub(crate) fn install_snapshot(
    inner: &Inner,
    args: InstallSnapshotRequest,
) -> InstallSnapshotResponse {
    let index = args.last_snap_shot_include_index;
    let term = match hear_leader(inner, &args) {
        Heard::Stale(term) => return reply(term, false, 0),
        // It covers nothing new: the leader may go on with entries.
        Heard::AlreadyCommitted(term) => return reply(term, true, 0),
        Heard::Current(term) => term,
    };

    let mut incoming = inner.incoming.lock();
    let restart = args.offset == 0
        && !incoming
            .as_ref()
            .is_some_and(|i| i.is_for(&args) && i.writer.written() == 0);
    if restart {
        // Dropping the writer of an older transfer removes its staging file.
        *incoming = None;
        let meta = SnapshotMeta {
            last_included_index: index,
            last_included_term: args.last_snap_shot_include_term,
        };
        let writer = match inner.storage.lock().begin_snapshot(meta) {
            Ok(writer) => writer,
            Err(e) => return failed(inner, &e),
        };
        *incoming = Some(Incoming {
            term: args.term,
            meta,
            total: args.total_size,
            crc: args.crc,
            writer,
        });
    }
    let Some(arriving) = incoming.as_mut().filter(|i| i.is_for(&args)) else {
        // A chunk of a transfer this node does not hold: start over.
        return reply(term, false, 0);
    };
    let written = arriving.writer.written();
    if args.offset != written {
        return reply(term, false, written);
    }
    if written + args.data.len() as u64 > arriving.total {
        tracing::warn!(
            me = inner.me,
            index,
            "snapshot chunk runs past its stated size"
        );
        *incoming = None;
        return reply(term, false, 0);
    }
    if let Err(e) = arriving.writer.write(&args.data) {
        *incoming = None;
        return failed(inner, &e);
    }
    if !args.done {
        return reply(term, false, arriving.writer.written());
    }

    let Some(Incoming { mut writer, .. }) = incoming.take() else {
        return reply(term, false, 0);
    };
    drop(incoming);
    if writer.written() != args.total_size || writer.crc() != args.crc {
        tracing::warn!(
            me = inner.me,
            index,
            received = writer.written(),
            expected = args.total_size,
            "assembled snapshot does not match what the leader sent; starting over"
        );
        return reply(term, false, 0);
    }
    // The data's fsync, the slow part, happens with no lock held.
    if let Err(e) = writer.finish() {
        return failed(inner, &e);
    }
    install(inner, term, writer)
}

enum Heard {
    /// The sender is not the leader of this node's term (or this node is dead).
    Stale(u64),
    AlreadyCommitted(u64),
    Current(u64),
}

/// The rules every leader message obeys: refuse an older term, adopt a
/// newer one (saved before anything is answered), follow the sender.
fn hear_leader(inner: &Inner, args: &InstallSnapshotRequest) -> Heard {
    let now = Instant::now();
    let mut storage = inner.storage.lock();
    let mut st = inner.state.lock();
    if st.dead || args.term < st.current_term {
        return Heard::Stale(st.current_term);
    }
    st.observe_term(args.term, &inner.config, now);
    st.become_follower(&inner.config, now);
    st.leader = Some(args.leader_id as usize);
    inner.metrics.saw_leader(st.current_term);
    st.last_leader_contact = Some(now);
    st.reset_election_deadline(&inner.config, now);
    if Inner::needs_persist(&st) && !inner.persist(&mut st, &mut **storage) {
        return Heard::Stale(st.current_term);
    }
    let index = args.last_snap_shot_include_index;
    // (An index no real log reaches is a garbled request: refused.)
    if index >= u64::MAX / 2 {
        return Heard::Stale(st.current_term);
    }
    if index <= st.commit_index {
        return Heard::AlreadyCommitted(st.current_term);
    }
    Heard::Current(st.current_term)
}

/// Makes the assembled snapshot this node's state: saved first, then the
/// log is cut to match, then the service hears of it through the applier.
fn install(inner: &Inner, term: u64, writer: Box<dyn SnapshotWriter>) -> InstallSnapshotResponse {
    let meta = writer.meta();
    let (index, snap_term) = (meta.last_included_index, meta.last_included_term);
    // Declared before the guards, so the discarded log and the replaced
    // snapshot's handle are freed after they are released.
    let mut _discarded = Vec::new();
    let mut _replaced = None;
    let mut storage = inner.storage.lock();
    let mut st = inner.state.lock();
    if st.dead || st.current_term != term {
        // A newer leader meanwhile: it sends its own snapshot.
        return reply(st.current_term, false, 0);
    }
    if index <= st.commit_index {
        return reply(term, true, 0);
    }
    let compaction = st.log.compact_to(index, snap_term);
    let kept = compaction.kept_suffix;
    _discarded = compaction.discarded;
    let result = (|| {
        if !kept && st.written_index > index {
            // Our entries after `index` conflict with the leader's.
            storage.truncate_suffix(index + 1)?;
        }
        storage.install_snapshot(writer)
    })();
    if let Err(e) = result {
        inner.die(&mut st, &e);
        return reply(st.current_term, false, 0);
    }
    st.written_index = if kept {
        st.written_index.max(index)
    } else {
        index
    };
    st.durable_index = st.durable_index.min(st.written_index).max(index);
    st.log_epoch += 1;
    let data = storage.current_snapshot();
    _replaced = std::mem::replace(&mut st.snapshot, data.clone());
    if let Some(data) = data {
        let (config, view) = match envelope::open(&data) {
            Ok(opened) => opened,
            Err(e) => {
                inner.fail(
                    &mut st,
                    format!("the snapshot through index {index} from the leader: {e}"),
                );
                return reply(st.current_term, false, 0);
            }
        };
        // The configuration in force at `index`; entries of a kept suffix
        // still follow it. (A snapshot without one changes nothing.)
        let config = config.unwrap_or_else(|| st.membership.at(index).clone());
        st.membership.install(index, config, kept);
        st.sync_progress(Instant::now());
        st.pending_snapshot = Some(PendingSnapshot {
            index,
            term: snap_term,
            data: view,
        });
        inner.apply_cv.notify_one();
    }
    if st.advance_commit(index) {
        inner.committed(&mut st);
    }
    tracing::info!(
        me = inner.me,
        index,
        term = snap_term,
        bytes = st.snapshot.as_ref().map_or(0, |s| s.len()),
        kept_suffix = kept,
        "installs a snapshot"
    );
    // Nothing is acknowledged before it is durable.
    if Inner::needs_persist(&st) && !inner.persist(&mut st, &mut **storage) {
        return reply(st.current_term, false, 0);
    }
    inner
        .raft_state_bytes
        .store(storage.raft_state_size(), Ordering::Relaxed);
    let stale = st.links_stale;
    drop(st);
    drop(storage);
    if stale {
        inner.refresh_links();
    }
    reply(term, true, 0)
}

/// A storage failure while receiving: the node stops (see `Inner::die`).
fn failed(inner: &Inner, err: &PersistError) -> InstallSnapshotResponse {
    let mut st = inner.state.lock();
    inner.die(&mut st, err);
    reply(st.current_term, false, 0)
}
