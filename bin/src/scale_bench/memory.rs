//! Phase 2, rss: each node's resident memory (VmRSS, and the peak VmHWM)
//! against the raw bytes of the keys and values it holds.

use std::time::Duration;

use anyhow::Context;

use super::workload::{Stop, Workload};
use super::{mib, wait};
use crate::local_cluster::LocalCluster;

/// Measures every running node once all of them applied the load.
pub fn run(cluster: &LocalCluster, workload: &Workload, stop: &Stop) -> anyhow::Result<String> {
    // A follower still applying holds less than the data, and would flatter it.
    let all_applied = wait::until(
        &cluster.addrs(),
        Duration::from_millis(100),
        Duration::from_secs(120),
        stop,
        |statuses| {
            let (_, commit) = wait::leader_commit(statuses)?;
            (0..statuses.len())
                .all(|id| wait::reply(statuses, id).is_some_and(|s| s.applied_index >= commit))
                .then_some(())
        },
    )?;
    if all_applied.is_none() {
        println!("rss: not every node applied the load within 120 s; measuring anyway");
    }
    let raw = workload.raw_bytes();
    let mut cells = Vec::new();
    for node in cluster.nodes() {
        let Some(pid) = node.pid() else {
            println!("rss: node{} is not running", node.id);
            continue;
        };
        let (rss, peak) = read(pid)?;
        let ratio = rss as f64 / raw as f64;
        println!(
            "rss: node{} VmRSS {} (peak {}) for {} raw = {ratio:.2}x",
            node.id,
            mib(rss),
            mib(peak),
            mib(raw)
        );
        cells.push(format!("node{} {} {ratio:.2}x", node.id, mib(rss)));
    }
    Ok(format!("{} (raw {})", cells.join(", "), mib(raw)))
}

/// (VmRSS, VmHWM) of process `pid`, in bytes.
fn read(pid: u32) -> anyhow::Result<(u64, u64)> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    let rss = field_kb(&text, "VmRSS:").with_context(|| format!("no VmRSS in {path}"))?;
    let peak = field_kb(&text, "VmHWM:").unwrap_or(rss);
    Ok((rss * 1024, peak * 1024))
}

/// The value of a `Name:   1234 kB` line of /proc/PID/status.
fn field_kb(status: &str, name: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(name))?;
    line[name.len()..].split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::field_kb;

    #[test]
    fn reads_kilobyte_fields_of_proc_status() {
        let status = "Name:\traft-node\nVmHWM:\t  250120 kB\nVmRSS:\t  212004 kB\n";
        assert_eq!(field_kb(status, "VmRSS:"), Some(212004));
        assert_eq!(field_kb(status, "VmHWM:"), Some(250120));
        assert_eq!(field_kb(status, "VmSwap:"), None);
    }

    #[test]
    fn reads_our_own_rss() {
        let (rss, peak) = super::read(std::process::id()).unwrap();
        assert!(rss > 0 && peak >= rss, "rss {rss}, peak {peak}");
    }
}
