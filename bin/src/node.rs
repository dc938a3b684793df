//! `raft-node`: one replica of the store as an operating-system process (the
//! original's `raftKvDB.cpp` child process, done as its own program).
//!
//! Start-up order matters, and the original got it wrong (it served RPCs
//! before its Raft node existed, so a restarted node crashed): open the data
//! dir, recover Raft and the KvServer, and only then bind the port. With
//! `--metrics-addr`, the metrics and health server starts last.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clerk::ClusterConfig;
use kvserver::{KvServer, KvServerConfig};
use raft::{Configuration, FilePersister, PeerFactory, RaftConfig, RpcPeer};
use rpc::{ProviderConfig, RpcChannel, RpcProvider};
use signal_hook::consts::{SIGINT, SIGTERM};

use crate::metrics::{MetricsServer, PeerRpcs};

/// What `raft-node` needs to run.
#[derive(Clone, Debug)]
pub struct NodeOptions {
    pub id: usize,
    pub config: PathBuf,
    pub data_dir: PathBuf,
    pub max_raft_state: Option<u64>,
    pub snapshot_ratio: Option<u64>,
    /// Largest key of a request; larger ones get ErrTooLarge.
    pub max_key_bytes: usize,
    /// Largest value of a Put or Append; larger ones get ErrTooLarge.
    pub max_value_bytes: usize,
    /// Where to serve `/metrics`, `/health` and `/ready` (HOST:PORT); off if `None`.
    pub metrics_addr: Option<String>,
    /// Start as a node joining a running cluster: no configuration of its
    /// own (the file only gives addresses) until the leader, which added it
    /// as a learner, sends it the log or a snapshot.
    pub join: bool,
}

/// Runs node `id` until SIGTERM or SIGINT, then shuts down cleanly. If the
/// node stops by itself first (its Raft could not persist, a thread
/// panicked), shuts down and returns the reason as the error.
pub fn run(options: NodeOptions) -> anyhow::Result<()> {
    // Catch signals from the very start: a Ctrl-C during recovery still
    // ends in a clean shutdown rather than a half-written state.
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])
        .context("cannot install signal handlers")?;

    let cluster = ClusterConfig::load(&options.config)?;
    let n = cluster.nodes.len();
    if options.id >= n {
        bail!(
            "node id {} is not in {} (it describes nodes 0..{})",
            options.id,
            options.config.display(),
            n - 1
        );
    }
    let addrs = cluster.resolve_all()?;
    let listen = addrs[options.id];

    let metrics_addr = options
        .metrics_addr
        .as_deref()
        .map(resolve_metrics_addr)
        .transpose()?;
    let persister = FilePersister::open(&options.data_dir)
        .with_context(|| format!("cannot use data dir {}", options.data_dir.display()))?;
    let fsyncs = persister.fsync_metrics();
    let raft_config = RaftConfig::default();
    // Every peer's calls are counted (two relaxed atomic adds per RPC),
    // whether or not anyone scrapes them.
    let rpcs = PeerRpcs::new(options.id, n);
    let membership = cluster_of(
        &cluster,
        &addrs,
        options.join,
        raft_config.rpc_timeout,
        &rpcs,
    );
    let config = KvServerConfig {
        max_raft_state: options.max_raft_state,
        snapshot_ratio: options.snapshot_ratio,
        max_key_bytes: options.max_key_bytes,
        max_value_bytes: options.max_value_bytes,
        raft: raft_config,
        ..KvServerConfig::default()
    };
    let kv = KvServer::start_member(options.id, membership, Box::new(persister), config)
        .context("cannot start the node")?;

    let mut provider = RpcProvider::new(ProviderConfig::default());
    provider.register(Arc::new(proto::raft::RaftRpcServer::new(Arc::new(
        kv.raft().clone(),
    ))));
    // The KV handlers never block: they check sizes, take short locks and
    // hand the request to Raft; the apply thread answers. On the loop they
    // save a hand-off to a worker per request (about a tenth of the CPU a
    // Put costs the whole cluster). Raft's handlers persist: on the workers.
    provider.register_inline(Arc::new(proto::kv::KvServerRpcServer::new(Arc::new(
        kv.clone(),
    ))));
    provider.register(Arc::new(proto::admin::AdminRpcServer::new(Arc::new(
        kv.clone(),
    ))));
    let server = match provider.start(listen) {
        Ok(server) => server,
        Err(e) => {
            kv.shutdown();
            bail!(
                "cannot listen on {listen} (node{} in {}): {e}",
                options.id,
                options.config.display()
            );
        }
    };
    let mut metrics = match metrics_addr {
        None => None,
        Some(addr) => {
            let node = crate::metrics::Node {
                kv: kv.clone(),
                fsyncs,
                peers: rpcs,
            };
            match MetricsServer::start(addr, node) {
                Ok(metrics) => Some(metrics),
                Err(e) => {
                    server.shutdown();
                    kv.shutdown();
                    return Err(e);
                }
            }
        }
    };
    tracing::info!(
        id = options.id,
        listen = %server.local_addr(),
        metrics = ?metrics.as_ref().map(MetricsServer::local_addr),
        data_dir = %options.data_dir.display(),
        nodes = n,
        "node started"
    );

    let stopped = wait_for_signal_or_failure(&mut signals, &kv);
    if let Stopped::Signal(_) = stopped {
        hand_over_if_leading(&kv);
    }
    server.shutdown();
    kv.shutdown();
    // Last, so /health and /ready say 503 while the node stops.
    if let Some(metrics) = metrics.as_mut() {
        metrics.shutdown();
    }
    match stopped {
        Stopped::Signal(signal) => {
            tracing::info!(signal, "node stopped");
            Ok(())
        }
        // Removed by an operator: done, not failed.
        Stopped::Failed(reason) if kv.raft().is_removed() => {
            eprintln!("raft-node: node{} stopped: {reason}", options.id);
            Ok(())
        }
        // A node that stopped by itself would answer ErrWrongLeader
        // forever: exit instead, so a supervisor sees it and an operator
        // reads why.
        Stopped::Failed(reason) => bail!("node{} stopped: {reason}", options.id),
    }
}

/// The cluster as Raft starts it: the file's nodes as voters (or, joining,
/// no configuration), reached over TCP at the address a configuration gives
/// (the file's, for a member it names without one).
fn cluster_of(
    file: &ClusterConfig,
    addrs: &[SocketAddr],
    join: bool,
    rpc_timeout: Duration,
    rpcs: &Arc<PeerRpcs>,
) -> raft::Cluster {
    let initial = if join {
        Configuration::default()
    } else {
        Configuration::voters_of(
            file.nodes
                .iter()
                .enumerate()
                .map(|(id, node)| (id, node.to_string())),
        )
    };
    let known = addrs.to_vec();
    let rpcs = rpcs.clone();
    let connect: PeerFactory = Arc::new(move |id, address| {
        let addr = if address.is_empty() {
            known.get(id).copied()
        } else {
            address.to_socket_addrs().ok().and_then(|mut a| a.next())
        }?;
        let transport = RpcPeer::new(RpcChannel::new(addr), rpc_timeout);
        Some(rpcs.wrap(id, Arc::new(transport)))
    });
    raft::Cluster { initial, connect }
}

/// A leader stopped on purpose hands leadership to the most up-to-date
/// voter first (thesis §3.10), so the cluster does not wait an election
/// timeout for a new one.
fn hand_over_if_leading(kv: &KvServer) {
    if !kv.raft().get_state().1 {
        return;
    }
    match kv.raft().step_aside() {
        Ok(to) => tracing::info!(to, "handed leadership over"),
        Err(e) => tracing::warn!(error = %e, "could not hand leadership over"),
    }
}

/// Why [`run`] stops serving.
enum Stopped {
    /// An operator's SIGTERM or SIGINT.
    Signal(i32),
    /// The node stopped by itself (a persist failure, a bug).
    Failed(String),
}

/// Blocks until a signal arrives or the node stops by itself, whichever is
/// first. Signals are polled between short waits for a failure, so either
/// is noticed within [`POLL`].
fn wait_for_signal_or_failure(
    signals: &mut signal_hook::iterator::Signals,
    kv: &KvServer,
) -> Stopped {
    loop {
        if let Some(signal) = signals.pending().next() {
            tracing::info!(signal, "shutting down");
            return Stopped::Signal(signal);
        }
        if let Some(reason) = kv.wait_failure(POLL) {
            return Stopped::Failed(reason);
        }
    }
}

/// The address `--metrics-addr` names: an IP or a host name, and a port.
fn resolve_metrics_addr(addr: &str) -> anyhow::Result<SocketAddr> {
    addr.to_socket_addrs()
        .with_context(|| format!("--metrics-addr {addr}: not a HOST:PORT address"))?
        .next()
        .with_context(|| format!("--metrics-addr {addr}: the host has no address"))
}

/// How often the main thread looks for a signal while it waits for a failure.
const POLL: Duration = Duration::from_millis(50);
