//! `chaos`: a soak test from outside, the way the project is judged. A
//! local `raft-node` cluster with real files and snapshots taken all the
//! time; client threads Append unique tokens and read them back while a
//! nemesis kills, freezes and restarts nodes (and, if asked, replaces
//! members or cuts the network between them); at the end every key is read
//! once more and the whole history is checked (`history.rs`): nothing
//! acknowledged lost, nothing applied twice, no stale or out-of-order read.
//!
//! - `clients.rs`: the workload and what it records.
//! - `nemesis.rs`: the faults.
//! - `history.rs`: the check.
//! - `preload.rs`: the bulk of the store, written first and checked last.
//! - `roster.rs`: the addresses the clients use, as nodes are added.
//! - `netns.rs`: network namespaces, for real partitions (`--partitions`).
//! - `window.rs`: the run's clock, and Ctrl-C ending it early.

mod clients;
mod history;
mod nemesis;
mod netns;
mod preload;
mod roster;
mod window;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

use crate::local_cluster::{sibling_binary, LocalCluster};
use clients::Client;
use history::History;
use netns::Net;
use preload::Preload;
use roster::Roster;
use window::Window;

/// With `--partitions --replace`: how many nodes may join during the run,
/// each in a namespace made at the start; once they are used up, the
/// nemesis kills a node where it would have replaced one.
const SPARE_NAMESPACES: usize = 16;

/// What to run, as `chaos`'s flags say.
#[derive(Clone, Debug)]
pub struct Options {
    pub nodes: usize,
    pub time: Duration,
    pub clients: usize,
    pub keys: usize,
    pub pad: usize,
    pub get_percent: u32,
    /// Keys × bytes Put before the faults begin, so that snapshots (and a
    /// restarted node's InstallSnapshot) are large.
    pub preload_keys: usize,
    pub preload_bytes: usize,
    pub max_raft_state: u64,
    /// The nemesis also replaces members (a new node in, an old one out).
    pub replace: bool,
    /// The nemesis also cuts the network between nodes (root only).
    pub partitions: bool,
    pub seed: Option<u64>,
    pub dir: Option<PathBuf>,
    /// Keep the run's directory even when the run passed.
    pub keep: bool,
}

/// Runs the soak; `Ok(problems)`: the violations found (none: it passed).
/// The run's directory (data and node logs) is kept when there are any.
pub fn run(options: &Options) -> anyhow::Result<Vec<String>> {
    anyhow::ensure!(options.nodes >= 3, "--nodes must be at least 3");
    anyhow::ensure!(
        options.clients > 0 && options.keys > 0,
        "--clients and --keys must be at least 1"
    );
    let seed = options.seed.unwrap_or_else(|| rand::rng().next_u64());
    let mut builder = tempfile::Builder::new();
    builder.prefix("chaos-");
    let dir = match &options.dir {
        Some(parent) => builder.tempdir_in(parent),
        None => builder.tempdir(),
    }
    .context("cannot create the run's directory")?;
    println!(
        "chaos: {} nodes in {}, {} clients on {} keys for {:?}, seed {seed}",
        options.nodes,
        dir.path().display(),
        options.clients,
        options.keys,
        options.time
    );
    let namespaces = options.nodes + if options.replace { SPARE_NAMESPACES } else { 0 };
    let net = options
        .partitions
        .then(|| Net::create(namespaces))
        .transpose()?;
    let config = dir.path().join("cluster.conf");
    let raft_node = sibling_binary("raft-node")?;
    let extra = vec![
        "--max-raft-state".into(),
        options.max_raft_state.to_string(),
    ];
    let mut cluster = match &net {
        None => LocalCluster::create(options.nodes, &config, dir.path(), &raft_node, extra)?,
        Some(net) => {
            let addrs = (0..options.nodes).map(|n| net.addr(n)).collect();
            let mut cluster =
                LocalCluster::create_at(addrs, &config, dir.path(), &raft_node, extra)?;
            let launchers: Vec<Vec<String>> = (0..namespaces).map(|n| net.launcher(n)).collect();
            cluster.set_launcher(Box::new(move |n| launchers[n].clone()));
            cluster
        }
    };
    cluster.start_all()?;
    let result = soak(options, &mut cluster, net.as_ref(), seed);
    cluster.stop_all();
    let problems = result?;
    if problems.is_empty() && !options.keep {
        dir.close().context("cannot remove the run's directory")?;
    } else {
        println!("kept {} (node data and logs)", dir.keep().display());
    }
    Ok(problems)
}

fn soak(
    options: &Options,
    cluster: &mut LocalCluster,
    net: Option<&Net>,
    seed: u64,
) -> anyhow::Result<Vec<String>> {
    let addrs = cluster.addrs();
    let preload = Preload {
        keys: options.preload_keys,
        bytes: options.preload_bytes,
        seed,
    };
    preload.load(&addrs)?;
    let window = Window::open(options.time)?;
    let mut rng = StdRng::seed_from_u64(seed);
    let say = |line: String| println!("{line}");
    let roster = Roster::new(addrs.clone());
    let (histories, nemesis) = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..options.clients)
            .map(|id| {
                let client = Client {
                    id,
                    keys: options.keys,
                    pad: options.pad,
                    get_percent: options.get_percent,
                };
                let roster = &roster;
                let window = &window;
                scope.spawn(move || client.run(roster, window))
            })
            .collect();
        let nemesis = nemesis::run(
            cluster,
            &roster,
            net,
            &mut rng,
            &window,
            options.replace,
            &say,
        );
        let histories: Vec<anyhow::Result<History>> = workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a client panicked")))
            })
            .collect();
        (histories, nemesis)
    });
    let (members, faults, mut problems) = nemesis?;
    let mut history = History::default();
    for h in histories {
        let h = h?;
        history.appends.extend(h.appends);
        history.gets.extend(h.gets);
    }
    // Heal: every node up, running and connected, then read each key's
    // final value.
    if let Some(net) = net {
        net.heal(cluster.nodes().len())?;
    }
    for &n in &members {
        cluster.resume(n);
        cluster.start(n)?;
    }
    let finals = final_values(options, &roster.addrs())?;
    let acked = history.appends.iter().filter(|a| a.acked.is_some()).count();
    println!(
        "chaos: {faults} faults; {acked} Appends acknowledged, {} with unknown outcome, {} Gets",
        history.appends.len() - acked,
        history.gets.len()
    );
    problems.extend(history::check(&history, &finals));
    let damaged = preload.verify(&roster.addrs());
    println!(
        "chaos: {} of {} preloaded keys read back whole",
        options.preload_keys - damaged.len(),
        options.preload_keys
    );
    problems.extend(damaged);
    Ok(problems)
}

/// Each key's value once the cluster is whole again.
fn final_values(options: &Options, addrs: &[std::net::SocketAddr]) -> anyhow::Result<Vec<Vec<u8>>> {
    let clerk = clients::clerk(addrs.to_vec());
    (0..options.keys)
        .map(|k| {
            clerk
                .get(clients::key(k))
                .map(Option::unwrap_or_default)
                .with_context(|| format!("the final read of {}", clients::key(k)))
        })
        .collect()
}
