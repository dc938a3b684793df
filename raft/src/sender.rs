//! Making a replicator's RPCs off its thread: each peer has [`LANES`]
//! sender threads, each making one call at a time. The first carries the
//! common case; the second lets a heartbeat or a read probe overtake a slow
//! call (a follower's fsync) without a thread being spawned for it, which
//! under a mix of writes and reads would happen thousands of times a second.
//! Only when every lane is busy does an RPC get a short-lived thread of its
//! own, so a slow or dead peer never stalls its replicator.

use std::sync::Arc;
use std::thread;

use proto::raft::AppendEntriesArgs;

use crate::links::Link;
use crate::node::Inner;
use crate::replication::{handle_append_reply, handle_snapshot_reply};
use crate::state::State;
use crate::transfer::Chunk;
use crate::{Defer, PeerError};

/// What a replicator sends next.
pub(crate) enum Rpc {
    Append(AppendEntriesArgs),
    /// A snapshot chunk, read from the snapshot by the sender thread.
    Snapshot(Chunk),
}

/// One RPC on its way to a peer, with what to settle when it ends.
pub(crate) struct Outgoing {
    pub peer: usize,
    /// The peer's link: its transport and its replicator's condvar.
    pub link: Arc<Link>,
    pub rpc: Rpc,
    pub carries_data: bool,
    /// The read round current when it left (see `read_index.rs`).
    pub round: u64,
    /// Sent to confirm reads rather than because a heartbeat was due.
    pub read_probe: bool,
    /// The sender lane making it (`None`: a thread of its own).
    pub lane: Option<usize>,
}

/// Sender threads per peer.
pub(crate) const LANES: usize = 2;

/// The sender thread of one peer: makes the RPCs its replicator hands it,
/// one at a time, until the node shuts down (which drops the channel).
/// Not joined on shutdown: it may be stuck in a call to a dead peer, and
/// it touches nothing once the node is dead.
pub(crate) fn sender(inner: Arc<Inner>, jobs: crossbeam_channel::Receiver<Outgoing>) {
    while let Ok(out) = jobs.recv() {
        deliver(&inner, out);
        // A reply may have committed a configuration.
        if inner
            .links_dirty
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            inner.refresh_links();
        }
    }
}

/// Makes the call and hands the reply back.
fn deliver(inner: &Arc<Inner>, out: Outgoing) {
    // A node shut down meanwhile sends nothing more.
    if inner.is_dead() {
        return;
    }
    let peer = out.link.peer.clone();
    // Should the transport panic, the call still counts as unanswered, so
    // this peer's in-flight bookkeeping is not wedged (the original's DEFER).
    let unanswered = Defer::new(|| {
        let lost = || PeerError("the peer transport panicked".into());
        match &out.rpc {
            Rpc::Append(args) => handle_append_reply(inner, &out, args, Err(lost())),
            Rpc::Snapshot(chunk) => handle_snapshot_reply(inner, &out, &chunk.args, Err(lost())),
        }
    });
    match &out.rpc {
        Rpc::Append(args) => {
            let reply = peer.append_entries(args);
            unanswered.cancel();
            handle_append_reply(inner, &out, args, reply);
        }
        Rpc::Snapshot(chunk) => {
            let (args, reply) = match chunk.read() {
                Ok(args) => {
                    let reply = peer.install_snapshot(&args);
                    (args, reply)
                }
                Err(e) => {
                    tracing::error!(me = inner.me, error = %e, "cannot read the snapshot to send");
                    let failed = PeerError(format!("cannot read the snapshot: {e}"));
                    (chunk.args.clone(), Err(failed))
                }
            };
            unanswered.cancel();
            handle_snapshot_reply(inner, &out, &args, reply);
        }
    }
}

/// Hands an RPC to an idle sender lane of the peer; if none is idle, to a
/// short-lived thread of its own.
pub(crate) fn send(inner: &Arc<Inner>, st: &mut State, mut out: Outgoing) {
    let (peer, carries_data, read_probe) = (out.peer, out.carries_data, out.read_probe);
    let link = out.link.clone();
    for lane in 0..LANES {
        if st.progress.get(&peer).is_none_or(|p| p.lane_busy[lane]) {
            continue;
        }
        out.lane = Some(lane);
        let sent = match &*link.senders[lane].lock() {
            Some(tx) => tx.send(out).map_err(|e| e.into_inner()),
            None => Err(out),
        };
        match sent {
            Ok(()) => {
                if let Some(p) = st.progress.get_mut(&peer) {
                    p.lane_busy[lane] = true;
                }
                return;
            }
            Err(back) => out = back,
        }
    }
    out.lane = None;
    let worker = inner.clone();
    let spawned = thread::Builder::new()
        .name(format!("raft{}-rpc{peer}", inner.me))
        .spawn(move || deliver(&worker, out));
    if let Err(e) = spawned {
        // Counted as "no reply"; the next heartbeat slot retries.
        tracing::warn!(error = %e, "cannot spawn an RPC thread");
        let Some(pr) = st.progress.get_mut(&peer) else {
            return;
        };
        pr.inflight = pr.inflight.saturating_sub(1);
        if carries_data {
            pr.data_inflight = false;
        }
        if read_probe {
            pr.read_probe_inflight = false;
        }
        pr.backoff = true;
    }
}
