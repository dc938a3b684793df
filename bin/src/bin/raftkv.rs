//! `raftkv -n N -f CONFIG [-d DIR]` runs a local cluster in the foreground;
//! `raftkv demo [--timeline FILE.html]` is the one-command tour.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use raftkv_bin::local_cluster::{sibling_binary, LocalCluster};
use signal_hook::consts::{SIGINT, SIGTERM};

/// Runs a raftkv cluster of N raft-node processes on this machine (the
/// original's raftCoreRun), or the demo.
#[derive(Parser)]
#[command(name = "raftkv", version, args_conflicts_with_subcommands = true)]
struct Args {
    /// How many nodes.
    #[arg(short = 'n', long = "nodes", default_value_t = 3)]
    nodes: usize,
    /// Where to write the cluster config (node<i>ip / node<i>port lines).
    #[arg(short = 'f', long = "config", default_value = "raftkv.conf")]
    config: PathBuf,
    /// Where the nodes keep their data and logs.
    #[arg(short = 'd', long = "dir", default_value = "raftkv-data")]
    dir: PathBuf,
    /// Passed to every node: snapshot once the Raft log reaches this many bytes.
    #[arg(long)]
    max_raft_state: Option<u64>,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// A 3-node cluster in a temp dir: writes, the leader killed, failover,
    /// every acknowledged write verified, everything cleaned up.
    Demo {
        /// Also write the run as a self-contained HTML timeline to this file
        /// (the writes, the kill, the election, the restart).
        #[arg(long, value_name = "FILE.html")]
        timeline: Option<PathBuf>,
    },
}

fn main() {
    let args = Args::parse();
    let result = match args.command {
        Some(Cmd::Demo { timeline }) => raftkv_bin::demo::run(timeline.as_deref()),
        None => run_cluster(&args),
    };
    if let Err(e) = result {
        eprintln!("raftkv: error: {}", raftkv_bin::error_line(&e));
        std::process::exit(1);
    }
}

/// println! that does not panic when stdout is gone (a closed pipe must not
/// stop us from stopping the cluster).
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

fn run_cluster(args: &Args) -> anyhow::Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])
        .context("cannot install signal handlers")?;
    let raft_node = sibling_binary("raft-node")?;
    let extra = match args.max_raft_state {
        Some(bytes) => vec!["--max-raft-state".to_string(), bytes.to_string()],
        None => Vec::new(),
    };
    let mut cluster = LocalCluster::create(args.nodes, &args.config, &args.dir, &raft_node, extra)?;
    cluster.start_all()?;
    say!("config written to {}", args.config.display());
    for node in cluster.nodes() {
        say!(
            "node{} on {} (pid {}), data {}, log {}",
            node.id,
            node.addr,
            node.pid().unwrap_or(0),
            node.data_dir.display(),
            node.log_path.display()
        );
    }
    say!("running; Ctrl-C stops every node");
    loop {
        if let Some(signal) = signals.pending().next() {
            say!("signal {signal}: stopping the cluster");
            break;
        }
        for (id, status) in cluster.reap_exited() {
            eprintln!(
                "raftkv: node{id} exited ({status}); see {}",
                cluster.nodes()[id].log_path.display()
            );
        }
        if cluster.nodes().iter().all(|n| !n.is_running()) {
            anyhow::bail!("every node has exited");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    cluster.stop_all();
    say!("all nodes stopped");
    Ok(())
}
