//! `chaos [--secs S] …`: a soak test of a local cluster under kill -9,
//! SIGSTOP and whole-cluster restarts, checked for lost, doubled and stale
//! operations. Exits 1 if it finds any.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use raftkv_bin::chaos::Options;

/// Starts a raft-node cluster on loopback that snapshots all the time,
/// runs clients that Append unique tokens and read them back while nodes
/// are killed, frozen and restarted, then checks the whole history: every
/// acknowledged write is there exactly once, writes took effect in an order
/// that respects real time, and no read was stale. Build it with --release.
#[derive(Parser)]
#[command(name = "chaos", version)]
struct Args {
    /// How long the faults and the clients run, in seconds.
    #[arg(long, default_value_t = 60)]
    secs: u64,
    /// Nodes in the cluster.
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// Client threads.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Keys the clients Append to and read.
    #[arg(long, default_value_t = 16)]
    keys: usize,
    /// Bytes of padding in every Append (larger entries and values).
    #[arg(long, default_value_t = 0)]
    pad: usize,
    /// Percent of operations that are Gets.
    #[arg(long, default_value_t = 30)]
    get_percent: u32,
    /// Keys Put before the faults begin, so snapshots are large.
    #[arg(long, default_value_t = 20_000)]
    preload_keys: usize,
    /// Bytes of each preloaded value.
    #[arg(long, default_value_t = 1000)]
    preload_bytes: usize,
    /// Passed to every raft-node: snapshot once the log reaches this.
    #[arg(long, default_value_t = 1 << 16)]
    max_raft_state: u64,
    /// Also replace members: a new node joins as a learner, is promoted,
    /// and an old member is removed.
    #[arg(long)]
    replace: bool,
    /// Also cut the network between a minority of nodes and the rest: each
    /// node runs in a network namespace of its own (Linux, root, iproute2).
    #[arg(long)]
    partitions: bool,
    /// The nemesis's random seed (printed at the start), to replay its faults.
    #[arg(long)]
    seed: Option<u64>,
    /// Where to make the run's directory; the system temp dir without it.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Keep the run's directory (node data and logs) even if it passed.
    #[arg(long)]
    keep: bool,
}

fn main() {
    let args = Args::parse();
    let options = Options {
        nodes: args.nodes,
        time: Duration::from_secs(args.secs),
        clients: args.clients,
        keys: args.keys,
        pad: args.pad,
        get_percent: args.get_percent,
        preload_keys: args.preload_keys,
        preload_bytes: args.preload_bytes,
        max_raft_state: args.max_raft_state,
        replace: args.replace,
        partitions: args.partitions,
        seed: args.seed,
        dir: args.dir,
        keep: args.keep,
    };
    match raftkv_bin::chaos::run(&options) {
        Ok(problems) if problems.is_empty() => println!("chaos: OK, no violation"),
        Ok(problems) => {
            for p in problems.iter().take(30) {
                println!("VIOLATION: {p}");
            }
            println!("chaos: {} violations", problems.len());
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("chaos: error: {}", raftkv_bin::error_line(&e));
            std::process::exit(2);
        }
    }
}
