//! A node's links to the other members: per member, its transport, the
//! replicator's condvar and the sender lanes. The set follows the
//! configuration: a member added to the log gets a link (made from its
//! address by the [`PeerFactory`]), a member gone from it loses its link
//! and its threads end.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use parking_lot::{Condvar, Mutex};

use crate::node::Inner;
use crate::sender::{self, Outgoing, LANES};
use crate::{replication, RaftPeer};

/// Makes the transport to member `id` at `address` (`HOST:PORT`, or empty
/// when a configuration was built from ids alone); `None` if it cannot be
/// reached that way (an address that does not resolve), logged and retried
/// at the next configuration change.
pub type PeerFactory = Arc<dyn Fn(usize, &str) -> Option<Arc<dyn RaftPeer>> + Send + Sync>;

/// One other member, as this node reaches it.
pub(crate) struct Link {
    pub id: usize,
    pub peer: Arc<dyn RaftPeer>,
    /// Wakes this member's replicator.
    pub replicate_cv: Condvar,
    /// Hands RPCs to its sender threads (one per lane); emptied when the
    /// link retires or the node stops, which ends those threads.
    pub senders: [Mutex<Option<crossbeam_channel::Sender<Outgoing>>>; LANES],
    retired: AtomicBool,
}

impl Link {
    pub fn is_retired(&self) -> bool {
        self.retired.load(Ordering::SeqCst)
    }

    /// Ends the link's threads: the replicator sees the flag, the senders
    /// their closed channel.
    pub fn retire(&self) {
        self.retired.store(true, Ordering::SeqCst);
        for tx in &self.senders {
            tx.lock().take();
        }
        self.replicate_cv.notify_all();
    }
}

/// The links of a node, by member id.
pub(crate) type Links = Mutex<BTreeMap<usize, Arc<Link>>>;

/// Makes the links follow the members the state wants (`State::peer_ids`)
/// once they changed. Takes the state lock, then (not nested) the links
/// lock; call with neither held.
pub(crate) fn refresh(inner: &Arc<Inner>) {
    let wanted: Vec<(usize, String)> = {
        let mut st = inner.state.lock();
        if st.dead || !st.links_stale {
            return;
        }
        st.links_stale = false;
        let committed = st.membership.at(st.commit_index).clone();
        st.peer_ids()
            .into_iter()
            .map(|id| {
                let address = st
                    .config()
                    .address(id)
                    .or_else(|| committed.address(id))
                    .unwrap_or_default();
                (id, address.to_string())
            })
            .collect()
    };
    let mut links = inner.links.lock();
    links.retain(|id, link| {
        let keep = wanted.iter().any(|(w, _)| w == id);
        if !keep {
            tracing::info!(
                me = inner.me,
                peer = id,
                "drops its link to a former member"
            );
            link.retire();
        }
        keep
    });
    for (id, address) in wanted {
        if links.contains_key(&id) {
            continue;
        }
        let Some(peer) = (inner.factory)(id, &address) else {
            tracing::warn!(me = inner.me, peer = id, %address, "cannot reach a member at its address");
            continue;
        };
        match spawn_link(inner, id, peer) {
            Ok(link) => {
                links.insert(id, link);
            }
            Err(e) => {
                tracing::error!(me = inner.me, peer = id, error = %e, "cannot start a member's threads")
            }
        }
    }
    drop(links);
    inner.wake_replicators();
}

/// Starts the sender lanes and the replicator of a new link.
fn spawn_link(
    inner: &Arc<Inner>,
    id: usize,
    peer: Arc<dyn RaftPeer>,
) -> std::io::Result<Arc<Link>> {
    let me = inner.me;
    let link = Arc::new(Link {
        id,
        peer,
        replicate_cv: Condvar::new(),
        senders: std::array::from_fn(|_| Mutex::new(None)),
        retired: AtomicBool::new(false),
    });
    for lane in 0..LANES {
        let (tx, rx) = crossbeam_channel::unbounded();
        let worker = inner.clone();
        // Not guarded: these run the peer transport, whose panics count as
        // a lost reply (see `sender.rs`), not a node failure.
        thread::Builder::new()
            .name(format!("raft{me}-send{id}-{lane}"))
            .spawn(move || sender::sender(worker, rx))?;
        *link.senders[lane].lock() = Some(tx);
    }
    let replicator_link = link.clone();
    inner.spawn_guarded(format!("raft{me}-repl{id}"), move |inner| {
        replication::replicator(inner, replicator_link)
    })?;
    Ok(link)
}
