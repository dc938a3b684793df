//! A cluster of KvServers over the simulated network, and what a test does
//! to it: partition, crash, restart, measure (6.5840's `kvraft/config.go`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clerk::{Clerk, ClerkConfig};
use kvserver::{KvServer, KvServerConfig};
use parking_lot::Mutex;
use proto::kv::KvServerRpcServer;
use proto::raft::RaftRpcServer;
use raft::{Configuration, MemoryPersister, PeerFactory, RaftConfig};

use super::{KvClient, SimKvTransport};
use crate::linearizability::{FaultKind, KvRecorder};
use crate::power_loss::PowerLoss;
use crate::raft_harness::{test_config, ELECTION_TIMEOUT};
use crate::sim::{raft_peers_over, ClientEnd, HeldCall, Network, Server};

/// n KvServers, each with a memory persister, over one simulated network;
/// the handle tests drive. Dropping it shuts every server down.
pub struct KvCluster {
    n: usize,
    /// Servers `0..voters` form the initial configuration; the others
    /// start as joining nodes with none (see `raft_harness::membership`).
    voters: usize,
    net: Network,
    config: KvServerConfig,
    topology: Mutex<Topology>,
    /// When set, every client records its operations here.
    recorder: Option<KvRecorder>,
    next_end: AtomicU64,
    next_client: AtomicU64,
    started: Instant,
    /// What a crash keeps of a server's unsynced writes.
    power_loss: PowerLoss,
}

struct Topology {
    slots: Vec<Slot>,
    /// The partition group of each server: servers talk only within a group.
    group: Vec<usize>,
    /// Every client's ends (end j leads to server j), to reconnect them.
    clients: Vec<Vec<String>>,
}

/// One server position: its running incarnation, if any, and its disk.
struct Slot {
    kv: Option<KvServer>,
    /// What this incarnation persists to; replaced at a crash by what a
    /// power loss leaves of it (the synced part, maybe some unsynced writes,
    /// torn), so a dying instance cannot write into its successor's state.
    persister: MemoryPersister,
    /// Names of this incarnation's Raft ends to every server (j → server j).
    ends: Vec<String>,
    /// A running incarnation was stopped: the next start is a restart.
    crashed: bool,
}

fn server_name(i: usize) -> String {
    format!("kv-{i}")
}

impl KvCluster {
    /// `n` connected servers; `unreliable` turns on the lossy network;
    /// `max_raft_state` makes them snapshot (6.5840's `maxraftstate`).
    pub fn new(n: usize, unreliable: bool, max_raft_state: Option<u64>) -> Self {
        Self::build(
            n,
            unreliable,
            Self::config(max_raft_state, test_config()),
            None,
        )
    }

    /// `n` connected servers over a reliable network, running Raft with
    /// `raft` (for scenarios that need e.g. check-quorum off).
    pub fn with_raft_config(n: usize, raft: RaftConfig) -> Self {
        Self::build(n, false, Self::config(None, raft), None)
    }

    /// `n` connected servers over a reliable network, configured by
    /// `config` (its `raft` part is the suite's test timing).
    pub fn with_kv_config(n: usize, config: KvServerConfig) -> Self {
        let config = KvServerConfig {
            raft: test_config(),
            ..config
        };
        Self::build(n, false, config, None)
    }

    fn config(max_raft_state: Option<u64>, raft: RaftConfig) -> KvServerConfig {
        KvServerConfig {
            max_raft_state,
            raft,
            ..KvServerConfig::default()
        }
    }

    /// Like [`new`](Self::new), and every client records its operations into
    /// `recorder` for a linearizability check.
    pub fn recording(
        n: usize,
        unreliable: bool,
        max_raft_state: Option<u64>,
        recorder: KvRecorder,
    ) -> Self {
        let config = Self::config(max_raft_state, test_config());
        Self::build(n, unreliable, config, Some(recorder))
    }

    /// Like [`recording`](Self::recording) over a reliable network, with
    /// only servers `0..voters` in the initial configuration: the others
    /// wait, as joining nodes, to be added.
    pub fn recording_with_voters(n: usize, voters: usize, recorder: KvRecorder) -> Self {
        let config = Self::config(None, test_config());
        Self::build_with(n, voters, false, config, Some(recorder))
    }

    fn build(
        n: usize,
        unreliable: bool,
        config: KvServerConfig,
        recorder: Option<KvRecorder>,
    ) -> Self {
        Self::build_with(n, n, unreliable, config, recorder)
    }

    fn build_with(
        n: usize,
        voters: usize,
        unreliable: bool,
        config: KvServerConfig,
        recorder: Option<KvRecorder>,
    ) -> Self {
        let net = Network::new();
        net.set_reliable(!unreliable);
        let slots = (0..n)
            .map(|_| Slot {
                kv: None,
                persister: MemoryPersister::new(),
                ends: Vec::new(),
                crashed: false,
            })
            .collect();
        let cluster = Self {
            n,
            voters,
            net,
            config,
            topology: Mutex::new(Topology {
                slots,
                group: vec![0; n],
                clients: Vec::new(),
            }),
            recorder,
            next_end: AtomicU64::new(0),
            next_client: AtomicU64::new(0),
            started: Instant::now(),
            power_loss: PowerLoss::from_env(),
        };
        for i in 0..n {
            cluster.start_server(i);
        }
        cluster
    }

    /// Number of servers.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Every server id, for `make_client_to(&cluster.all())`.
    pub fn all(&self) -> Vec<usize> {
        (0..self.n).collect()
    }

    /// The network, for its knobs.
    pub fn net(&self) -> &Network {
        &self.net
    }

    /// Server i's running incarnation, or None while it is crashed.
    pub fn server(&self, i: usize) -> Option<KvServer> {
        self.topology.lock().slots[i].kv.clone()
    }

    /// Server i's persister (a handle sharing its state).
    pub fn persister(&self, i: usize) -> MemoryPersister {
        self.topology.lock().slots[i].persister.clone()
    }

    /// Time since the cluster was made.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// A client connected to every server.
    pub fn make_client(&self) -> KvClient {
        self.make_client_to(&self.all())
    }

    /// A client that can reach only the servers in `to`.
    pub fn make_client_to(&self, to: &[usize]) -> KvClient {
        self.make_client_with(to, ClerkConfig::default())
    }

    /// Like [`make_client_to`](Self::make_client_to) with chosen Clerk timing
    /// (e.g. a deadline, so an operation can end with its outcome unknown).
    pub fn make_client_with(&self, to: &[usize], config: ClerkConfig) -> KvClient {
        let id = self.next_client.fetch_add(1, Ordering::Relaxed) as usize;
        let names: Vec<String> = (0..self.n).map(|j| format!("client-{id}-{j}")).collect();
        let ends = names
            .iter()
            .enumerate()
            .map(|(j, name)| {
                let end = self.net.make_end(name);
                self.net.connect(name, &server_name(j));
                end
            })
            .collect();
        let clerk = Clerk::with_transport(SimKvTransport::new(ends), config);
        let client = KvClient::new(id, clerk, names, self.recorder.clone());
        self.connect_client(&client, to);
        self.topology
            .lock()
            .clients
            .push(client.end_names().to_vec());
        client
    }

    /// Lets `client` reach exactly the servers in `to`.
    pub fn connect_client(&self, client: &KvClient, to: &[usize]) {
        for (j, end) in client.end_names().iter().enumerate() {
            self.net.enable(end, to.contains(&j));
        }
    }

    /// Holds back the next request `client` sends to each server (see
    /// [`Network::hold_next`]): the Clerk sees them lost and retries.
    pub fn hold_next_requests(&self, client: &KvClient) {
        for end in client.end_names() {
            self.net.hold_next(end);
        }
    }

    /// One request held from `client` (panics if none was), cancelling
    /// the holds not used. Retries carry the same bytes, so any will do.
    pub fn take_held(&self, client: &KvClient) -> HeldCall {
        let held: Vec<HeldCall> = client
            .end_names()
            .iter()
            .filter_map(|end| self.net.take_held(end))
            .collect();
        held.into_iter()
            .next()
            .expect("a request of this client was held")
    }

    /// A new end, enabled, to server `to`: for requests a test sends by
    /// hand (e.g. a late copy).
    pub fn end_to(&self, to: usize) -> ClientEnd {
        let name = format!(
            "manual-{}-{to}",
            self.next_end.fetch_add(1, Ordering::Relaxed)
        );
        let end = self.net.make_end(&name);
        self.net.connect(&name, &server_name(to));
        self.net.enable(&name, true);
        self.topology.lock().clients.push(vec![name]);
        end
    }

    /// Splits the servers: those in `p1` talk only among themselves, and so
    /// do those in `p2` (a server in neither is cut off from all). Clients
    /// are not affected.
    pub fn partition(&self, p1: &[usize], p2: &[usize]) {
        let mut topology = self.topology.lock();
        for i in 0..self.n {
            topology.group[i] = if p1.contains(&i) {
                1
            } else if p2.contains(&i) {
                2
            } else {
                // A group of its own.
                3 + i
            };
        }
        self.apply_links(&topology);
        self.record_fault(FaultKind::Partition {
            groups: [p1.to_vec(), p2.to_vec()]
                .into_iter()
                .filter(|g| !g.is_empty())
                .collect(),
        });
    }

    /// Notes a fault in the recorded history's timeline, if this cluster records one.
    fn record_fault(&self, kind: FaultKind) {
        if let Some(recorder) = &self.recorder {
            recorder.fault(kind);
        }
    }

    /// Heals every partition and reconnects every client to every server.
    pub fn connect_all(&self) {
        let mut topology = self.topology.lock();
        let healed = topology.group.iter().any(|&g| g != 0);
        topology.group = vec![0; self.n];
        self.apply_links(&topology);
        for client in &topology.clients {
            for end in client {
                self.net.enable(end, true);
            }
        }
        drop(topology);
        if healed {
            self.record_fault(FaultKind::Heal);
        }
    }

    /// Enables exactly the Raft links between running servers of one group.
    fn apply_links(&self, topology: &Topology) {
        for (i, slot) in topology.slots.iter().enumerate() {
            for (j, end) in slot.ends.iter().enumerate() {
                let up = topology.slots[j].kv.is_some() && topology.group[i] == topology.group[j];
                self.net.enable(end, up);
            }
        }
    }

    /// Crashes server i: cuts it off, stops it, and keeps what a power loss
    /// leaves of its persister (everything synced; of the rest, nothing or
    /// a seeded random part) for [`start_server`](Self::start_server).
    /// Replies it had not delivered are never delivered.
    pub fn shutdown_server(&self, i: usize) {
        let (kv, ends) = {
            let mut topology = self.topology.lock();
            let slot = &mut topology.slots[i];
            let kv = slot.kv.take();
            slot.crashed |= kv.is_some();
            (kv, std::mem::take(&mut slot.ends))
        };
        if kv.is_some() {
            self.record_fault(FaultKind::Crash { server: i });
        }
        self.net.delete_server(&server_name(i));
        // Deleting its ends cuts it off, and wakes its calls sleeping in
        // simulated delays so its shutdown is not held up by them.
        for end in &ends {
            self.net.delete_end(end);
        }
        {
            let topology = self.topology.lock();
            self.apply_links(&topology);
        }
        if let Some(kv) = kv {
            kv.shutdown();
        }
        let mut topology = self.topology.lock();
        let slot = &mut topology.slots[i];
        slot.persister = slot.persister.power_loss(self.power_loss.next_seed());
    }

    /// Starts (or restarts) server i from what it last persisted, with
    /// fresh Raft ends, linked to the running servers of its group.
    pub fn start_server(&self, i: usize) {
        self.shutdown_server(i);
        let generation = self.next_end.fetch_add(1, Ordering::Relaxed);
        let names: Vec<String> = (0..self.n)
            .map(|j| format!("raft-{i}-{j}-{generation}"))
            .collect();
        let peers = raft_peers_over(&self.net, &names, server_name);
        let persister = self.topology.lock().slots[i].persister.clone();
        let initial = if i < self.voters {
            Configuration::voters_of((0..self.voters).map(|v| (v, String::new())))
        } else {
            Configuration::default()
        };
        let connect: PeerFactory = Arc::new(move |id, _| peers.get(id).cloned());
        let membership = raft::Cluster { initial, connect };
        let kv = KvServer::start_member(i, membership, Box::new(persister), self.config.clone())
            .unwrap_or_else(|e| panic!("KvServer::start failed for server {i}: {e}"));
        let mut server = Server::new();
        server.add_service(Arc::new(KvServerRpcServer::new(Arc::new(kv.clone()))));
        server.add_service(Arc::new(RaftRpcServer::new(Arc::new(kv.raft().clone()))));
        self.net.add_server(&server_name(i), server);

        let mut topology = self.topology.lock();
        let slot = &mut topology.slots[i];
        slot.kv = Some(kv);
        slot.ends = names;
        let restart = std::mem::take(&mut slot.crashed);
        self.apply_links(&topology);
        drop(topology);
        if restart {
            self.record_fault(FaultKind::Restart { server: i });
        }
    }

    /// The leader of the highest term among the running servers, waiting up
    /// to ten election timeouts; panics if there is none or if two servers
    /// lead the same term.
    pub fn check_one_leader(&self) -> usize {
        let deadline = Instant::now() + 10 * ELECTION_TIMEOUT;
        loop {
            let mut by_term: std::collections::BTreeMap<u64, Vec<usize>> = Default::default();
            for i in 0..self.n {
                if let Some(kv) = self.server(i) {
                    let (term, is_leader) = kv.raft().get_state();
                    if is_leader {
                        by_term.entry(term).or_default().push(i);
                    }
                }
            }
            for (term, leaders) in &by_term {
                assert!(
                    leaders.len() <= 1,
                    "term {term} has {} leaders: {leaders:?}",
                    leaders.len()
                );
            }
            if let Some((_, leaders)) = by_term.last_key_value() {
                return leaders[0];
            }
            assert!(Instant::now() < deadline, "no leader elected");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// 6.5840's `make_partition`: the current leader and n/2 - 1 others in
    /// the minority `p2`, the rest (a majority) in `p1`.
    pub fn make_partition(&self) -> (Vec<usize>, Vec<usize>) {
        let leader = self.check_one_leader();
        let majority = self.n / 2 + 1;
        let others: Vec<usize> = (0..self.n).filter(|&i| i != leader).collect();
        let p1 = others[..majority].to_vec();
        let mut p2 = others[majority..].to_vec();
        p2.push(leader);
        (p1, p2)
    }

    /// The largest Raft state (hard state and log, durable bytes) of any server.
    pub fn log_size(&self) -> u64 {
        let topology = self.topology.lock();
        topology
            .slots
            .iter()
            .map(|s| s.persister.raft_state_size())
            .max()
            .unwrap_or(0)
    }

    /// The largest durable snapshot of any server.
    pub fn snapshot_size(&self) -> u64 {
        let topology = self.topology.lock();
        topology
            .slots
            .iter()
            .map(|s| s.persister.snapshot_size())
            .max()
            .unwrap_or(0)
    }

    /// Waits until some server has a durable snapshot, up to `within`.
    /// Snapshots are written on a thread of their own that runs only on
    /// idle CPU, so on a machine busy with other tests one may finish well
    /// after the entry that called for it was applied.
    pub fn wait_for_snapshot(&self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while self.snapshot_size() == 0 {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        true
    }

    /// Calls attempted on the network since it was made (clients and Raft).
    pub fn rpc_total(&self) -> u64 {
        self.net.rpc_total()
    }
}

impl Drop for KvCluster {
    fn drop(&mut self) {
        for i in 0..self.n {
            self.shutdown_server(i);
        }
        let clients = std::mem::take(&mut self.topology.lock().clients);
        for end in clients.iter().flatten() {
            self.net.delete_end(end);
        }
    }
}
