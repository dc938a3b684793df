//! Phases 4 and 5: a wiped follower catching up, and the whole cluster
//! restarting from its files, each timed from the moment the process starts.

use std::time::{Duration, Instant};

use anyhow::Context;
use clerk::{Clerk, ClerkConfig};

use super::wait;
use super::workload::{Stop, Workload};
use crate::local_cluster::LocalCluster;

/// How often catch-up progress is polled, as the issue asks.
const POLL: Duration = Duration::from_millis(100);

/// Kills a follower with SIGKILL, deletes its data dir, restarts it and
/// times until it applied what the leader had committed at the restart.
pub fn catchup(
    cluster: &mut LocalCluster,
    give_up: Duration,
    stop: &Stop,
) -> anyhow::Result<String> {
    let addrs = cluster.addrs();
    let leader = wait::for_leader(&addrs, Duration::from_secs(30), stop)?;
    let follower = (leader + 1) % addrs.len();
    cluster.kill(follower);
    let data_dir = cluster.nodes()[follower].data_dir.clone();
    std::fs::remove_dir_all(&data_dir)
        .with_context(|| format!("cannot delete {}", data_dir.display()))?;
    // Nothing writes now, so this is the commit index as of the restart.
    let (leader, target) = wait::until(&addrs, POLL, Duration::from_secs(30), stop, |s| {
        wait::leader_commit(s)
    })?
    .context("no leader answered within 30 s after a follower was killed")?;
    let started = Instant::now();
    cluster.start(follower)?;
    println!(
        "catchup: killed node{follower} (-9), deleted {}, restarted it (pid {}); target: leader node{leader}'s commit index {target}",
        data_dir.display(),
        cluster.nodes()[follower].pid().unwrap_or(0)
    );
    let mut applied = 0;
    let mut snapshot = 0;
    let caught_up = wait::until(&addrs, POLL, give_up, stop, |statuses| {
        let reply = wait::reply(statuses, follower)?;
        (applied, snapshot) = (reply.applied_index, reply.snapshot_index);
        (applied >= target).then(|| started.elapsed())
    })?;
    match caught_up {
        Some(elapsed) => {
            let how = if snapshot > 0 {
                format!("from a snapshot at index {snapshot} and the log after it")
            } else {
                "from the log alone".to_string()
            };
            println!(
                "catchup: node{follower} caught up in {:.2} s ({how})",
                elapsed.as_secs_f64()
            );
            Ok(format!(
                "{:.2} s (node{follower}, {target} entries)",
                elapsed.as_secs_f64()
            ))
        }
        None => {
            println!(
                "catchup: gave up: node{follower} applied {applied} of {target} within {} s",
                give_up.as_secs()
            );
            Ok(format!(
                "gave up after {} s (applied {applied} of {target})",
                give_up.as_secs()
            ))
        }
    }
}

/// Kills every node with SIGKILL, starts them all and times until a Get of
/// a loaded key is answered.
pub fn restart(
    cluster: &mut LocalCluster,
    workload: &Workload,
    give_up: Duration,
    stop: &Stop,
) -> anyhow::Result<String> {
    let ids = 0..cluster.nodes().len();
    ids.clone().for_each(|id| cluster.kill(id));
    let key = workload.random_key(&mut rand::rng());
    let started = Instant::now();
    cluster.start_all()?;
    let pids: Vec<String> = cluster
        .nodes()
        .iter()
        .map(|n| format!("node{} pid {}", n.id, n.pid().unwrap_or(0)))
        .collect();
    println!(
        "restart: killed every node (-9) and started them again ({}); timing Get({key})",
        pids.join(", ")
    );
    // Short per-call deadlines so Ctrl-C is heard; the give-up bound is ours.
    let clerk = Clerk::with_config(
        cluster.addrs(),
        ClerkConfig {
            deadline: Some(Duration::from_secs(5)),
            ..ClerkConfig::default()
        },
    );
    let answer = loop {
        stop.check()?;
        if started.elapsed() >= give_up {
            break None;
        }
        if let Ok(value) = clerk.get(&key) {
            break Some((started.elapsed(), value));
        }
    };
    match answer {
        Some((elapsed, value)) => {
            println!(
                "restart: Get answered {:.2} s after the start",
                elapsed.as_secs_f64()
            );
            let length = value.as_ref().map_or(0, Vec::len);
            if length != workload.value_bytes {
                println!(
                    "restart: error: Get({key}) returned {length} bytes, expected {}",
                    workload.value_bytes
                );
            }
            Ok(format!("{:.2} s", elapsed.as_secs_f64()))
        }
        None => {
            println!(
                "restart: gave up: no Get answered within {} s",
                give_up.as_secs()
            );
            Ok(format!("gave up after {} s", give_up.as_secs()))
        }
    }
}
