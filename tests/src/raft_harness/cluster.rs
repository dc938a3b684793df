//! A cluster of Raft nodes over the simulated network, and what a test does
//! to it: connect, disconnect, cut one link, crash, restart (6.5840's
//! `config.go`: `make_config`, `connect`, `crash1`, `start1`).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use proto::raft::RaftRpcServer;
use raft::{ApplyMsg, Configuration, LockQueue, MemoryPersister, PeerFactory, Raft, RaftConfig};

use super::applier::{spawn_applier, Applies};
use crate::power_loss::PowerLoss;
use crate::sim::{raft_peers_over, Network, Server};

/// 6.5840's `RaftElectionTimeout`: how long tests give an election.
pub const ELECTION_TIMEOUT: Duration = Duration::from_millis(1000);

/// The Raft timing the suite runs with: 20 heartbeats a second keeps an idle
/// 3-server cluster at 40 RPCs/s, under the lab's 60.
pub fn test_config() -> RaftConfig {
    RaftConfig {
        heartbeat_interval: Duration::from_millis(50),
        election_timeout_min: Duration::from_millis(300),
        election_timeout_max: Duration::from_millis(600),
        ..RaftConfig::default()
    }
}

/// n Raft nodes, each with a memory persister and an applier thread whose
/// applies are cross-checked; the handle tests drive.
pub struct RaftCluster {
    pub(super) n: usize,
    /// Servers `0..voters` start as the cluster's voters; the others start
    /// with no configuration, as nodes that join (see `membership.rs`).
    pub(super) voters: usize,
    pub(super) snapshot: bool,
    pub(super) config: RaftConfig,
    pub(super) net: Network,
    pub(super) applies: Arc<Applies>,
    pub(super) topology: Mutex<Topology>,
    pub(super) run: Mutex<Option<RunStart>>,
    next_end: AtomicU64,
    /// What a crash keeps of a server's unsynced writes.
    power_loss: PowerLoss,
}

pub(super) struct Topology {
    pub(super) slots: Vec<Slot>,
    /// Links cut by [`RaftCluster::cut_link`], as (low, high) pairs.
    cut: HashSet<(usize, usize)>,
}

/// One server position: its current incarnation, if running, and its disk.
pub(super) struct Slot {
    pub(super) raft: Option<Raft>,
    queue: Option<Arc<LockQueue<ApplyMsg>>>,
    applier: Option<JoinHandle<()>>,
    /// What this incarnation persists to; replaced at a crash by a copy of
    /// what a power loss leaves of it (the synced part, maybe some unsynced
    /// writes, torn), so a dying instance cannot write into its successor's
    /// state.
    pub(super) persister: MemoryPersister,
    /// Names of this incarnation's ends to every server (index j → j).
    ends: Vec<String>,
    pub(super) connected: bool,
}

/// Counters at [`RaftCluster::begin`], for the one-line summary at the end.
pub(super) struct RunStart {
    pub(super) description: String,
    pub(super) at: Instant,
    pub(super) rpcs: u64,
    pub(super) bytes: u64,
    pub(super) max_index: u64,
}

fn server_name(i: usize) -> String {
    format!("server-{i}")
}

impl RaftCluster {
    /// `n` connected servers with the suite's timing. `reliable: false`
    /// turns on the lossy network; `snapshot` makes the appliers snapshot.
    pub fn new(n: usize, reliable: bool, snapshot: bool) -> Self {
        Self::with_config(n, reliable, snapshot, test_config())
    }

    /// Like [`new`](Self::new) with a chosen Raft configuration.
    pub fn with_config(n: usize, reliable: bool, snapshot: bool, config: RaftConfig) -> Self {
        Self::build(n, n, reliable, snapshot, config)
    }

    /// `n` connected servers of which only `0..voters` form the initial
    /// configuration; the rest run as joining nodes that know no
    /// configuration until the leader adds them (then they learn it).
    pub fn with_voters(n: usize, voters: usize, reliable: bool, snapshot: bool) -> Self {
        Self::build(n, voters, reliable, snapshot, test_config())
    }

    fn build(n: usize, voters: usize, reliable: bool, snapshot: bool, config: RaftConfig) -> Self {
        let net = Network::new();
        net.set_reliable(reliable);
        // As in every 6.5840 Raft test: a call to a node that is cut off
        // fails only after up to 7 s, which catches a leader that waits for
        // one peer before it calls the next.
        net.set_long_delays(true);
        let slots = (0..n)
            .map(|_| Slot {
                raft: None,
                queue: None,
                applier: None,
                persister: MemoryPersister::new(),
                ends: Vec::new(),
                connected: false,
            })
            .collect();
        let cluster = Self {
            n,
            voters,
            snapshot,
            config,
            net,
            applies: Arc::new(Applies::new(n)),
            topology: Mutex::new(Topology {
                slots,
                cut: HashSet::new(),
            }),
            run: Mutex::new(None),
            next_end: AtomicU64::new(0),
            power_loss: PowerLoss::from_env(),
        };
        for i in 0..n {
            cluster.start1(i);
        }
        for i in 0..n {
            cluster.connect(i);
        }
        cluster
    }

    /// Number of servers.
    pub fn n(&self) -> usize {
        self.n
    }

    /// The network, for its knobs (`set_reliable`, `set_long_reordering`).
    pub fn net(&self) -> &Network {
        &self.net
    }

    pub fn set_reliable(&self, reliable: bool) {
        self.net.set_reliable(reliable);
    }

    pub fn set_long_reordering(&self, on: bool) {
        self.net.set_long_reordering(on);
    }

    /// Server i's current incarnation, or None while it is crashed.
    pub fn raft(&self, i: usize) -> Option<Raft> {
        self.topology.lock().slots[i].raft.clone()
    }

    /// Server i's current persister (a handle sharing its state), e.g. to
    /// inject a disk error with `fail_next_sync`.
    pub fn persister(&self, i: usize) -> MemoryPersister {
        self.topology.lock().slots[i].persister.clone()
    }

    pub fn is_connected(&self, i: usize) -> bool {
        self.topology.lock().slots[i].connected
    }

    /// Reattaches server i to every connected server (except over cut links).
    pub fn connect(&self, i: usize) {
        let mut topology = self.topology.lock();
        topology.slots[i].connected = true;
        for j in 0..self.n {
            if topology.slots[j].connected && !topology.is_cut(i, j) {
                self.enable_link(&topology, i, j, true);
            }
        }
    }

    /// Detaches server i from everyone: nothing in or out.
    pub fn disconnect(&self, i: usize) {
        let mut topology = self.topology.lock();
        topology.slots[i].connected = false;
        for j in 0..self.n {
            self.enable_link(&topology, i, j, false);
        }
    }

    /// Cuts only the link between a and b, both ways; both stay connected
    /// to everyone else.
    pub fn cut_link(&self, a: usize, b: usize) {
        let mut topology = self.topology.lock();
        topology.cut.insert((a.min(b), a.max(b)));
        self.enable_link(&topology, a, b, false);
    }

    /// Restores a link cut by [`cut_link`](Self::cut_link).
    pub fn heal_link(&self, a: usize, b: usize) {
        let mut topology = self.topology.lock();
        topology.cut.remove(&(a.min(b), a.max(b)));
        let up = topology.slots[a].connected && topology.slots[b].connected;
        self.enable_link(&topology, a, b, up);
    }

    /// Splits the servers into `groups` that cannot reach each other; each
    /// group stays connected inside. Undone by [`heal`](Self::heal).
    pub fn partition(&self, groups: &[&[usize]]) {
        for (g, group) in groups.iter().enumerate() {
            for other in &groups[g + 1..] {
                for &a in group.iter() {
                    for &b in other.iter() {
                        self.cut_link(a, b);
                    }
                }
            }
        }
    }

    /// Restores every link cut by [`cut_link`](Self::cut_link) or
    /// [`partition`](Self::partition) between connected servers.
    pub fn heal(&self) {
        let cut: Vec<(usize, usize)> = self.topology.lock().cut.iter().copied().collect();
        for (a, b) in cut {
            self.heal_link(a, b);
        }
    }

    fn enable_link(&self, topology: &Topology, a: usize, b: usize, enabled: bool) {
        for (from, to) in [(a, b), (b, a)] {
            if let Some(end) = topology.slots[from].ends.get(to) {
                self.net.enable(end, enabled);
            }
        }
    }

    /// Crashes server i: cuts it off, keeps a copy of what a power loss at
    /// this moment leaves of its persister for [`start1`](Self::start1)
    /// (everything synced; of the rest, nothing or a seeded random part),
    /// then stops its threads. Its in-flight replies are never delivered,
    /// and what it writes while dying goes to the old persister, not the
    /// copy (as 6.5840 does).
    pub fn crash1(&self, i: usize) {
        self.disconnect(i);
        self.net.delete_server(&server_name(i));
        let (raft, queue, applier, ends) = {
            let mut topology = self.topology.lock();
            let slot = &mut topology.slots[i];
            slot.persister = slot.persister.power_loss(self.power_loss.next_seed());
            (
                slot.raft.take(),
                slot.queue.take(),
                slot.applier.take(),
                std::mem::take(&mut slot.ends),
            )
        };
        // Deleting its ends wakes the dead instance's calls that sit in
        // simulated delays, so its shutdown is not held up by them.
        for end in &ends {
            self.net.delete_end(end);
        }
        if let Some(raft) = raft {
            raft.shutdown();
        }
        if let Some(queue) = queue {
            queue.close();
        }
        if let Some(applier) = applier {
            let _ = applier.join();
        }
    }

    /// Crashes server i and throws its persisted state away, as an
    /// operator who wipes a machine's data dir does; [`start1`](Self::start1)
    /// then starts it empty.
    pub fn wipe(&self, i: usize) {
        self.crash1(i);
        self.topology.lock().slots[i].persister = MemoryPersister::new();
    }

    /// Starts (or restarts) server i from what it last persisted, with
    /// fresh ends so nothing addressed to an old incarnation reaches it.
    /// The new server is disconnected until [`connect`](Self::connect).
    pub fn start1(&self, i: usize) {
        self.crash1(i);
        let generation = self.next_end.fetch_add(1, Ordering::Relaxed);
        let names: Vec<String> = (0..self.n)
            .map(|j| format!("end-{i}-{j}-{generation}"))
            .collect();
        let peers = raft_peers_over(&self.net, &names, server_name);
        let persister = self.topology.lock().slots[i].persister.clone();
        self.applies.restart(i);
        let queue = Arc::new(LockQueue::new());
        let initial = if i < self.voters {
            Configuration::voters_of((0..self.voters).map(|v| (v, String::new())))
        } else {
            Configuration::default()
        };
        let connect: PeerFactory = Arc::new(move |id, _| peers.get(id).cloned());
        let raft = Raft::make_member(
            i,
            raft::Cluster { initial, connect },
            Box::new(persister),
            Arc::clone(&queue),
            self.config.clone(),
        )
        .unwrap_or_else(|e| panic!("Raft::make failed for server {i}: {e}"));
        let applier = spawn_applier(
            i,
            raft.clone(),
            Arc::clone(&queue),
            Arc::clone(&self.applies),
            self.snapshot,
        );
        let mut server = Server::new();
        server.add_service(Arc::new(RaftRpcServer::new(Arc::new(raft.clone()))));
        self.net.add_server(&server_name(i), server);

        let mut topology = self.topology.lock();
        let slot = &mut topology.slots[i];
        slot.raft = Some(raft);
        slot.queue = Some(queue);
        slot.applier = Some(applier);
        slot.ends = names;
    }
}

impl Topology {
    fn is_cut(&self, a: usize, b: usize) -> bool {
        self.cut.contains(&(a.min(b), a.max(b)))
    }
}

impl Drop for RaftCluster {
    fn drop(&mut self) {
        for i in 0..self.n {
            self.disconnect(i);
        }
        for i in 0..self.n {
            self.crash1(i);
        }
    }
}
