//! `raft-node`: one replica of the store as an operating-system process (the
//! original's `raftKvDB.cpp` child process, done as its own program).
//!
//! Start-up order matters, and the original got it wrong (it served RPCs
//! before its Raft node existed, so a restarted node crashed): open the data
//! dir, recover Raft and the KvServer, and only then bind the port.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clerk::ClusterConfig;
use kvserver::{KvServer, KvServerConfig};
use raft::{FilePersister, RaftConfig, RaftPeer, RpcPeer};
use rpc::{ProviderConfig, RpcChannel, RpcProvider};
use signal_hook::consts::{SIGINT, SIGTERM};

/// What `raft-node` needs to run.
#[derive(Clone, Debug)]
pub struct NodeOptions {
    pub id: usize,
    pub config: PathBuf,
    pub data_dir: PathBuf,
    pub max_raft_state: Option<u64>,
}

/// Runs node `id` until SIGTERM or SIGINT, then shuts down cleanly.
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

    let persister = FilePersister::open(&options.data_dir)
        .with_context(|| format!("cannot use data dir {}", options.data_dir.display()))?;
    let raft_config = RaftConfig::default();
    let peers: Vec<Arc<dyn RaftPeer>> = addrs
        .iter()
        .map(|addr| {
            Arc::new(RpcPeer::new(
                RpcChannel::new(*addr),
                raft_config.rpc_timeout,
            )) as Arc<dyn RaftPeer>
        })
        .collect();
    let config = KvServerConfig {
        max_raft_state: options.max_raft_state,
        raft: raft_config,
        ..KvServerConfig::default()
    };
    let kv = KvServer::start(options.id, peers, Box::new(persister), config)
        .context("cannot start the node")?;

    let mut provider = RpcProvider::new(ProviderConfig::default());
    provider.register(Arc::new(proto::raft::RaftRpcServer::new(Arc::new(
        kv.raft().clone(),
    ))));
    provider.register(Arc::new(proto::kv::KvServerRpcServer::new(Arc::new(
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
    tracing::info!(
        id = options.id,
        listen = %server.local_addr(),
        data_dir = %options.data_dir.display(),
        nodes = n,
        "node started"
    );

    let signal = signals.forever().next();
    tracing::info!(signal = ?signal, "shutting down");
    server.shutdown();
    kv.shutdown();
    tracing::info!("node stopped");
    Ok(())
}
