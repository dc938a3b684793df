//! `raft-node -i ID -f CONFIG -d DATA_DIR`: runs one node of the cluster.

use std::path::PathBuf;

use clap::Parser;

/// jemalloc, not the system allocator. glibc hands buffers of a large
/// value (a 1 MB Put is copied into several on every node) back to the
/// kernel and faults fresh zeroed pages in for the next: measured with
/// 1 MB values, a third of the machine's time went to zeroing pages, and
/// jemalloc, which keeps freed pages for reuse, loaded them 1.5–2× as fast.
/// With 100-byte values it changes neither the load rate nor the memory
/// much (RSS about 0.15× of the data higher at 1M keys).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Runs one node of a raftkv cluster: Raft and the key-value service on the
/// address CONFIG gives node ID, with durable state under DATA_DIR.
#[derive(Parser)]
#[command(name = "raft-node", version)]
struct Args {
    /// This node's id: its index in CONFIG (node<ID>ip / node<ID>port).
    #[arg(short = 'i', long = "id")]
    id: usize,
    /// The cluster config file (node0ip=…, node0port=…, one line each).
    #[arg(short = 'f', long = "config")]
    config: PathBuf,
    /// Where this node keeps its log, vote and snapshot.
    #[arg(short = 'd', long = "data-dir")]
    data_dir: PathBuf,
    /// Snapshot once the Raft log reaches this many bytes; 0 never snapshots.
    #[arg(long, default_value_t = 16 << 20)]
    max_raft_state: u64,
    /// ... and once the log reaches 1/N of the last snapshot's size, so a
    /// large store is not rewritten after every --max-raft-state bytes of
    /// log; 0 uses --max-raft-state alone.
    #[arg(long, default_value_t = 8)]
    snapshot_ratio: u64,
    /// Largest key of any request (a Scan's start and end key too); larger
    /// ones get ErrTooLarge (default 64 KiB).
    #[arg(long, default_value_t = kvserver::DEFAULT_MAX_KEY_BYTES)]
    max_key_bytes: usize,
    /// Largest value of a Put, Append or Cas (and a Cas's expected value);
    /// larger ones get ErrTooLarge
    /// (default 1.5 MiB, after etcd's request limit). Key and value together
    /// may be at most about 64 MiB, what one Raft log entry can carry.
    #[arg(long, default_value_t = kvserver::DEFAULT_MAX_VALUE_BYTES)]
    max_value_bytes: usize,
    /// Serve /metrics (Prometheus text format), /health and /ready over
    /// HTTP on this HOST:PORT (off unless given).
    #[arg(long, value_name = "HOST:PORT")]
    metrics_addr: Option<String>,
    /// Join a running cluster: start with no configuration and learn it
    /// from the leader, after `kvctl member add-learner ID HOST:PORT` added
    /// this node (use with an empty data dir; see README, Replacing a machine).
    #[arg(long)]
    join: bool,
    /// Log filter, e.g. info, debug, raft=debug (RUST_LOG overrides it).
    #[arg(long, default_value = "info")]
    log_level: String,
}

fn main() {
    let args = Args::parse();
    raftkv_bin::logging::init(&args.log_level, &format!("node{}", args.id));
    let options = raftkv_bin::node::NodeOptions {
        id: args.id,
        config: args.config,
        data_dir: args.data_dir,
        max_raft_state: (args.max_raft_state > 0).then_some(args.max_raft_state),
        snapshot_ratio: (args.snapshot_ratio > 0).then_some(args.snapshot_ratio),
        max_key_bytes: args.max_key_bytes,
        max_value_bytes: args.max_value_bytes,
        metrics_addr: args.metrics_addr,
        join: args.join,
    };
    if let Err(e) = raftkv_bin::node::run(options) {
        eprintln!("raft-node: error: {}", raftkv_bin::error_line(&e));
        std::process::exit(1);
    }
}
