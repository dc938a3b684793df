//! `scale-bench`: a 3-node `raft-node` cluster on loopback with real files,
//! loaded with N keys × V bytes and then measured the way a user of a real
//! store would (issue 9, part 6). It prints figures and asserts nothing.
//!
//! - `workload.rs`: the keys and values, and the Ctrl-C flag every loop checks.
//! - `load.rs`, `memory.rs`, `mixed.rs`, `recovery.rs`: one phase each
//!   (recovery holds the wiped-follower catch-up and the whole-cluster restart).
//! - `snapshot_watch.rs`: whether a node is writing a snapshot, from its log.
//! - `machine_cpu.rs`: how busy the machine was during the load, and the
//!   CPU time a Put cost (the nodes and the bench share the cores).
//! - `wait.rs`: polling the nodes' status until a condition holds.
//! - `summary.rs`: the table printed at the end.

mod load;
mod machine_cpu;
mod memory;
mod mixed;
mod recovery;
mod snapshot_watch;
mod summary;
mod wait;
mod workload;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clerk::{Clerk, ClerkConfig};

use crate::local_cluster::{sibling_binary, LocalCluster};
use summary::Summary;
use workload::Stop;
pub use workload::Workload;

/// Three nodes: the smallest cluster that survives a dead follower, and what
/// the targets are stated for.
const NODES: usize = 3;

/// The benchmark's phases, always run in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Phase {
    /// Put every key once from many clients.
    Load,
    /// Each node's resident memory against the raw key and value bytes.
    Rss,
    /// Half Gets, half Puts of random keys while snapshots are taken.
    Mixed,
    /// A follower killed, its data deleted, restarted and timed to catch up.
    Catchup,
    /// Every node killed and restarted, timed until a Get is answered.
    Restart,
}

/// What to run, as `scale-bench`'s flags say.
#[derive(Clone, Debug)]
pub struct Options {
    pub workload: Workload,
    /// Client threads for the load.
    pub clients: usize,
    /// Client threads for the mixed phase.
    pub mixed_clients: usize,
    pub mixed_time: Duration,
    /// Passed to every raft-node; `None` keeps raft-node's default.
    pub max_raft_state: Option<u64>,
    /// Passed to every raft-node as `--snapshot-ratio`; `None` keeps its default.
    pub snapshot_ratio: Option<u64>,
    /// Where the run's directory is made; `None` is the system temp dir.
    pub dir: Option<PathBuf>,
    /// Keep the run's directory (data and node logs) at the end.
    pub keep: bool,
    /// How long the catch-up and the restart may take before the benchmark
    /// says it gave up on them.
    pub give_up: Duration,
    pub phases: Vec<Phase>,
}

impl Options {
    fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.workload.keys > 0, "--keys must be at least 1");
        anyhow::ensure!(self.clients > 0, "--clients must be at least 1");
        anyhow::ensure!(self.mixed_clients > 0, "--mixed-clients must be at least 1");
        Ok(())
    }

    fn runs(&self, phase: Phase) -> bool {
        self.phases.contains(&phase)
    }
}

/// Runs the benchmark, printing each figure as it is measured and a summary
/// at the end. Every node is stopped, and the run's directory removed
/// (unless `keep`), whether it succeeds or fails.
pub fn run(options: &Options) -> anyhow::Result<()> {
    options.validate()?;
    let stop = Stop::on_ctrl_c()?;
    let mut builder = tempfile::Builder::new();
    builder.prefix("scale-bench-");
    let dir = match &options.dir {
        Some(parent) => {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
            builder.tempdir_in(parent)
        }
        None => builder.tempdir(),
    }
    .context("cannot create the run's directory")?;
    let raft_node = sibling_binary("raft-node")?;
    let mut extra = Vec::new();
    if let Some(bytes) = options.max_raft_state {
        extra.extend(["--max-raft-state".to_string(), bytes.to_string()]);
    }
    if let Some(ratio) = options.snapshot_ratio {
        extra.extend(["--snapshot-ratio".to_string(), ratio.to_string()]);
    }
    let mut cluster = LocalCluster::create(
        NODES,
        &dir.path().join("cluster.conf"),
        dir.path(),
        &raft_node,
        extra,
    )?;

    let result = cluster
        .start_all()
        .and_then(|()| run_phases(options, &mut cluster, &stop, dir.path()));
    // Stop the nodes on every path, before their files go.
    cluster.stop_all();
    if options.keep {
        println!("kept {} (node data and logs)", dir.keep().display());
    } else {
        let path = dir.path().display().to_string();
        // The run's own error, if any, is the one worth reporting.
        match dir.close() {
            Ok(()) => println!("removed {path}"),
            Err(e) => println!("warning: cannot remove {path}: {e}"),
        }
    }
    result
}

fn run_phases(
    options: &Options,
    cluster: &mut LocalCluster,
    stop: &Stop,
    dir: &std::path::Path,
) -> anyhow::Result<()> {
    let workload = &options.workload;
    println!(
        "scale-bench: {NODES} raft-node processes in {}, {} keys × {} B values = {} raw, max_raft_state {}",
        dir.display(),
        workload.keys,
        workload.value_bytes,
        mib(workload.raw_bytes()),
        options
            .max_raft_state
            .map_or("raft-node's default".to_string(), |b| format!("{b} B")),
    );
    for node in cluster.nodes() {
        println!(
            "node{} on {} (pid {}), log {}",
            node.id,
            node.addr,
            node.pid().unwrap_or(0),
            node.log_path.display()
        );
    }
    let mut summary = Summary::new(options);
    let leader = wait::for_leader(&cluster.addrs(), Duration::from_secs(30), stop)?;
    println!("node{leader} leads");

    // Every other phase measures the loaded store, so the load always runs.
    if !options.runs(Phase::Load) {
        println!("load: runs anyway: every other phase needs the keys it writes");
    }
    let clerk = Clerk::with_config(
        cluster.addrs(),
        ClerkConfig {
            deadline: Some(Duration::from_secs(60)),
            ..ClerkConfig::default()
        },
    );
    let loaded = load::run(&clerk, workload, options.clients, stop)?;
    summary.add(Phase::Load, loaded);
    report_exits(cluster);

    if options.runs(Phase::Rss) {
        let figures = memory::run(cluster, workload, stop)?;
        summary.add(Phase::Rss, figures);
        report_exits(cluster);
    }
    if options.runs(Phase::Mixed) {
        let figures = mixed::run(
            cluster.addrs(),
            cluster.nodes().iter().map(|n| n.log_path.clone()).collect(),
            workload,
            options.mixed_clients,
            options.mixed_time,
            stop,
        )?;
        summary.add(Phase::Mixed, figures);
        report_exits(cluster);
    }
    if options.runs(Phase::Catchup) {
        let figures = recovery::catchup(cluster, options.give_up, stop)?;
        summary.add(Phase::Catchup, figures);
        report_exits(cluster);
    }
    if options.runs(Phase::Restart) {
        let figures = recovery::restart(cluster, workload, options.give_up, stop)?;
        summary.add(Phase::Restart, figures);
        report_exits(cluster);
    }
    print!("{summary}");
    Ok(())
}

/// Says which nodes died on their own: a figure measured without them is
/// not the figure it claims to be.
fn report_exits(cluster: &mut LocalCluster) {
    for (id, status) in cluster.reap_exited() {
        println!(
            "warning: node{id} exited on its own ({status}); see {}",
            cluster.nodes()[id].log_path.display()
        );
    }
}

/// Bytes as MiB with one decimal, the unit every figure here uses.
fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
}

/// A duration in milliseconds with two decimals.
fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}
