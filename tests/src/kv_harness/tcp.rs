//! KvServers over real TCP on loopback: each node an `rpc::RpcProvider`
//! serving `kvServerRpc` and `raftRpc`, peers reached through
//! `raft::RpcPeer`, state in a `raft::FilePersister` directory (or, to
//! measure what the disk costs, a `MemoryPersister`) — the
//! production stack in one process, for the TCP tests and the benchmark.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use kvserver::{KvServer, KvServerConfig};
use proto::raft::{
    AppendEntriesArgs, AppendEntriesReply, InstallSnapshotRequest, InstallSnapshotResponse,
    RequestVoteArgs, RequestVoteReply,
};
use raft::{FilePersister, MemoryPersister, PeerError, Persister, RaftPeer, RpcPeer};
use rpc::{ProviderConfig, ProviderHandle, RpcChannel, RpcProvider};

/// How long a restarting node keeps trying to bind its old port.
const REBIND_PATIENCE: Duration = Duration::from_secs(10);

/// A peer whose address is learnt after the node starts: every node binds
/// port 0, so the addresses exist only once all providers are up. Calls
/// fail (as to an unreachable peer) until `slot` is filled.
pub struct LatePeer {
    peer: Arc<OnceLock<RpcPeer>>,
}

impl LatePeer {
    pub fn new(slot: Arc<OnceLock<RpcPeer>>) -> Self {
        Self { peer: slot }
    }

    fn get(&self) -> Result<&RpcPeer, PeerError> {
        self.peer
            .get()
            .ok_or_else(|| PeerError("peer address not known yet".into()))
    }
}

impl RaftPeer for LatePeer {
    fn append_entries(&self, args: &AppendEntriesArgs) -> Result<AppendEntriesReply, PeerError> {
        self.get()?.append_entries(args)
    }

    fn request_vote(&self, args: &RequestVoteArgs) -> Result<RequestVoteReply, PeerError> {
        self.get()?.request_vote(args)
    }

    fn install_snapshot(
        &self,
        args: &InstallSnapshotRequest,
    ) -> Result<InstallSnapshotResponse, PeerError> {
        self.get()?.install_snapshot(args)
    }
}

/// Where a node keeps its Raft state.
enum Storage {
    /// A FilePersister directory (fsync and all).
    Files(PathBuf),
    /// A MemoryPersister: what the benchmark compares against to see what
    /// the disk costs. A restart starts from its durable deep copy.
    Memory(MemoryPersister),
}

impl Storage {
    fn open(&mut self) -> Box<dyn Persister> {
        match self {
            Storage::Files(dir) => Box::new(
                FilePersister::open(&*dir)
                    .unwrap_or_else(|e| panic!("cannot open {}: {e}", dir.display())),
            ),
            Storage::Memory(persister) => {
                *persister = persister.deep_copy();
                Box::new(persister.clone())
            }
        }
    }
}

/// One node: its running server and provider, if up, and its storage.
struct TcpNode {
    kv: Option<KvServer>,
    provider: Option<ProviderHandle>,
    storage: Storage,
}

/// n KvServers on loopback TCP with file persisters under one directory.
/// Dropping it stops every node (the directory belongs to the caller).
pub struct TcpCluster {
    nodes: Vec<TcpNode>,
    addrs: Vec<SocketAddr>,
    config: KvServerConfig,
}

fn provider_config() -> ProviderConfig {
    ProviderConfig {
        // Waiting requests are answered by KvServer::shutdown before the
        // provider stops, so a long grace would only slow restarts.
        shutdown_grace: Duration::from_secs(1),
        ..ProviderConfig::default()
    }
}

fn serve(kv: &KvServer, addr: SocketAddr) -> std::io::Result<ProviderHandle> {
    let mut provider = RpcProvider::new(provider_config());
    provider.register(Arc::new(proto::kv::KvServerRpcServer::new(Arc::new(
        kv.clone(),
    ))));
    provider.register(Arc::new(proto::raft::RaftRpcServer::new(Arc::new(
        kv.raft().clone(),
    ))));
    provider.register(Arc::new(proto::admin::AdminRpcServer::new(Arc::new(
        kv.clone(),
    ))));
    provider.start(addr)
}

impl TcpCluster {
    /// Starts `n` nodes on `127.0.0.1:0`, node i persisting in `dir/node-i`.
    pub fn start(n: usize, dir: &Path, config: KvServerConfig) -> Self {
        let storage = (0..n)
            .map(|i| Storage::Files(dir.join(format!("node-{i}"))))
            .collect();
        Self::start_on(storage, config)
    }

    /// Like [`start`](Self::start) with memory persisters: no disk at all.
    pub fn start_in_memory(n: usize, config: KvServerConfig) -> Self {
        let storage = (0..n)
            .map(|_| Storage::Memory(MemoryPersister::new()))
            .collect();
        Self::start_on(storage, config)
    }

    fn start_on(storage: Vec<Storage>, config: KvServerConfig) -> Self {
        let n = storage.len();
        let late: Vec<Arc<OnceLock<RpcPeer>>> = (0..n).map(|_| Arc::default()).collect();
        let mut nodes = Vec::with_capacity(n);
        let mut addrs = Vec::with_capacity(n);
        for (i, mut storage) in storage.into_iter().enumerate() {
            let persister = storage.open();
            let peers: Vec<Arc<dyn RaftPeer>> = late
                .iter()
                .map(|peer| Arc::new(LatePeer { peer: peer.clone() }) as Arc<dyn RaftPeer>)
                .collect();
            let kv = KvServer::start(i, peers, persister, config.clone())
                .unwrap_or_else(|e| panic!("node {i} did not start: {e}"));
            let provider = serve(&kv, "127.0.0.1:0".parse().expect("an address"))
                .unwrap_or_else(|e| panic!("node {i} cannot listen: {e}"));
            addrs.push(provider.local_addr());
            nodes.push(TcpNode {
                kv: Some(kv),
                provider: Some(provider),
                storage,
            });
        }
        for (peer, addr) in late.iter().zip(&addrs) {
            let _ = peer.set(RpcPeer::new(
                RpcChannel::new(*addr),
                config.raft.rpc_timeout,
            ));
        }
        Self {
            nodes,
            addrs,
            config,
        }
    }

    /// Where the nodes listen (node id = position).
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.addrs.clone()
    }

    /// Node i's server while it runs.
    pub fn server(&self, i: usize) -> Option<&KvServer> {
        self.nodes[i].kv.as_ref()
    }

    /// The node that believes it leads in the highest term, waiting up to
    /// `patience` for one.
    pub fn leader(&self, patience: Duration) -> Option<usize> {
        let deadline = Instant::now() + patience;
        loop {
            let best = (0..self.nodes.len())
                .filter_map(|i| {
                    let (term, leads) = self.server(i)?.raft().get_state();
                    leads.then_some((term, i))
                })
                .max();
            if let Some((_, i)) = best {
                return Some(i);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops node i: its KvServer (waiting requests answered, files closed),
    /// then its provider.
    pub fn stop(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        if let Some(kv) = node.kv.take() {
            kv.shutdown();
        }
        if let Some(provider) = node.provider.take() {
            provider.shutdown();
        }
    }

    /// Starts node i again from its directory, on its old address.
    pub fn restart(&mut self, i: usize) {
        self.stop(i);
        let node = &mut self.nodes[i];
        let persister = node.storage.open();
        let peers: Vec<Arc<dyn RaftPeer>> = self
            .addrs
            .iter()
            .map(|addr| {
                Arc::new(RpcPeer::new(
                    RpcChannel::new(*addr),
                    self.config.raft.rpc_timeout,
                )) as Arc<dyn RaftPeer>
            })
            .collect();
        let kv = KvServer::start(i, peers, persister, self.config.clone())
            .unwrap_or_else(|e| panic!("node {i} did not restart: {e}"));
        // The old socket may linger a moment; its port is ours to take back.
        let deadline = Instant::now() + REBIND_PATIENCE;
        let provider = loop {
            match serve(&kv, self.addrs[i]) {
                Ok(provider) => break provider,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("node {i}: rebinding its port failed ({e}); retrying");
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("node {i} cannot listen on {} again: {e}", self.addrs[i]),
            }
        };
        node.kv = Some(kv);
        node.provider = Some(provider);
    }
}

impl Drop for TcpCluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.stop(i);
        }
    }
}
