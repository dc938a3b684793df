//! `scale-bench [--keys N] [--value-bytes V] …`: loads a local 3-node
//! cluster and prints how it copes at that size.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use raftkv_bin::scale_bench::{Options, Phase, Workload};

/// Starts three raft-node processes on loopback with real files, loads N
/// keys × V random bytes, and prints: the load rate, each node's memory
/// against the raw bytes, latency of a mixed load while snapshots happen,
/// how long a wiped follower takes to catch up, and how long a whole-cluster
/// restart takes to answer a Get. Build it with --release.
#[derive(Parser)]
#[command(name = "scale-bench", version)]
struct Args {
    /// How many keys to load (key0000000000, key0000000001, …).
    #[arg(long, default_value_t = 1_000_000)]
    keys: u64,
    /// The size of every value, random bytes.
    #[arg(long, default_value_t = 100)]
    value_bytes: usize,
    /// Client threads for the load.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Client threads for the mixed Get/Put phase.
    #[arg(long, default_value_t = 16)]
    mixed_clients: usize,
    /// How long the mixed phase runs, in seconds.
    #[arg(long, default_value_t = 20)]
    mixed_secs: u64,
    /// Passed to every raft-node (snapshot once the Raft state reaches this
    /// many bytes); without it, raft-node's default.
    #[arg(long)]
    max_raft_state: Option<u64>,
    /// Passed to every raft-node (snapshot again once the log reaches 1/N of
    /// the last snapshot; 0: at --max-raft-state alone); without it,
    /// raft-node's default.
    #[arg(long)]
    snapshot_ratio: Option<u64>,
    /// Where to make the run's directory (node data and logs); the system
    /// temp dir without it. The run's directory is removed at the end.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Keep the run's directory at the end.
    #[arg(long)]
    keep: bool,
    /// Give up on the catch-up or the restart after this many seconds (and
    /// say so).
    #[arg(long, default_value_t = 600)]
    give_up_secs: u64,
    /// Which phases to run, comma-separated; load always runs, as every
    /// other phase measures the store it fills.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "load,rss,mixed,catchup,restart"
    )]
    phases: Vec<Phase>,
}

fn main() {
    let args = Args::parse();
    let options = Options {
        workload: Workload {
            keys: args.keys,
            value_bytes: args.value_bytes,
        },
        clients: args.clients,
        mixed_clients: args.mixed_clients,
        mixed_time: Duration::from_secs(args.mixed_secs),
        max_raft_state: args.max_raft_state,
        snapshot_ratio: args.snapshot_ratio,
        dir: args.dir,
        keep: args.keep,
        give_up: Duration::from_secs(args.give_up_secs),
        phases: args.phases,
    };
    if let Err(e) = raftkv_bin::scale_bench::run(&options) {
        eprintln!("scale-bench: error: {}", raftkv_bin::error_line(&e));
        std::process::exit(1);
    }
}
