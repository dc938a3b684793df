//! `raftkv demo`: the one-command tour. A 3-node cluster in a temp dir takes
//! writes, loses its leader to kill -9, elects another, keeps taking writes,
//! gets the dead node back, proves no acknowledged write was lost, and
//! replaces a node by a new one without stopping. With `--timeline FILE` it
//! also draws all of that on one time axis (`demo_timeline.rs`).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use clerk::{Clerk, ClerkConfig};

use crate::demo_timeline::{DemoRecord, LeaderWatch};
use crate::latency::Latencies;
use crate::local_cluster::{sibling_binary, LocalCluster};
use crate::timeline::EventKind;
use crate::{member, status};

const NODES: usize = 3;
const WRITES_PER_PHASE: usize = 200;

/// Runs the tour, printing as it goes; Ok only if every check passed. With `timeline`, also
/// writes the run as an HTML timeline there (whether the tour passed or not).
pub fn run(timeline: Option<&Path>) -> anyhow::Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("raftkv-demo-")
        .tempdir()
        .context("cannot create a temp dir")?;
    let raft_node = sibling_binary("raft-node")?;
    let config_path = dir.path().join("cluster.conf");
    let mut cluster =
        LocalCluster::create(NODES, &config_path, dir.path(), &raft_node, Vec::new())?;
    let mut record = DemoRecord::new();
    cluster.start_all()?;
    record.event(
        "cluster",
        EventKind::Note,
        format!("{NODES} raft-node processes started"),
    );
    println!(
        "started {NODES} raft-node processes in {}",
        dir.path().display()
    );
    for node in cluster.nodes() {
        println!(
            "  node{} on {}  log {}",
            node.id,
            node.addr,
            node.log_path.display()
        );
    }

    let watch = timeline.map(|_| LeaderWatch::start(cluster.addrs()));
    let result = tour(&mut cluster, &mut record);
    let leaders = watch.map(LeaderWatch::stop).unwrap_or_default();
    if let Some(path) = timeline {
        match &result {
            Ok(()) => record.note("demo passed: every acknowledged write read back"),
            Err(e) => record.note(format!("demo FAILED: {e:#}")),
        }
        record
            .write(&leaders, path)
            .with_context(|| format!("cannot write the timeline {}", path.display()))?;
        println!("timeline written to {}", path.display());
    }
    result?;
    cluster.stop_all();
    println!(
        "demo passed; cluster stopped and {} removed",
        dir.path().display()
    );
    Ok(())
}

/// The tour itself, on a started cluster: writes, the kill, failover, restart, verification.
fn tour(cluster: &mut LocalCluster, record: &mut DemoRecord) -> anyhow::Result<()> {
    let first_leader = wait_for_leader(cluster, None, Duration::from_secs(15))?;
    println!("node{first_leader} was elected leader");

    let clerk = Clerk::with_config(
        cluster.addrs(),
        ClerkConfig {
            deadline: Some(Duration::from_secs(20)),
            ..ClerkConfig::default()
        },
    );
    let mut acked = Vec::new();
    let mut latencies = Latencies::default();
    let started = Instant::now();
    write_phase(&clerk, 0, &mut acked, &mut latencies, record)?;
    println!("phase 1: {WRITES_PER_PHASE} writes acknowledged ({latencies})");

    let pid = cluster.nodes()[first_leader].pid().unwrap_or(0);
    cluster.kill(first_leader);
    record.killed(
        first_leader,
        &format!("kill -9 node{first_leader} (pid {pid}), the leader"),
    );
    println!("killed the leader, node{first_leader} (pid {pid}), with SIGKILL");
    let killed_at = Instant::now();
    let mut after = Latencies::default();
    write_phase(&clerk, WRITES_PER_PHASE, &mut acked, &mut after, record)?;
    let failover = after.percentile(100.0);
    let new_leader = wait_for_leader(cluster, Some(first_leader), Duration::from_secs(15))?;
    println!(
        "phase 2: {WRITES_PER_PHASE} more writes acknowledged through the new leader node{new_leader} \
         (slowest write, across the failover: {:.0} ms; {:.1} s since the kill)",
        failover.as_secs_f64() * 1000.0,
        killed_at.elapsed().as_secs_f64()
    );
    latencies.merge(&after);

    cluster.start(first_leader)?;
    record.restarted(
        first_leader,
        &format!("restart node{first_leader} from its data dir"),
    );
    println!("restarted node{first_leader} from its data dir");
    wait_caught_up(cluster, first_leader, Duration::from_secs(20))?;
    record.event(
        &format!("node{first_leader}"),
        EventKind::Note,
        format!("node{first_leader} caught up"),
    );
    println!("node{first_leader} caught up");

    verify(&clerk, &acked, record)?;
    println!(
        "verified: all {} acknowledged writes read back, the append log is complete and in order",
        acked.len()
    );
    replace_a_node(cluster, first_leader, &acked, record)?;
    let elapsed = started.elapsed();
    println!(
        "summary: {} writes and {} verifying reads in {:.1} s; write latency {latencies}",
        acked.len(),
        acked.iter().filter(|i| *i % 2 == 0).count() + 1,
        elapsed.as_secs_f64()
    );
    let statuses = status::query_all(&cluster.addrs(), Duration::from_secs(2));
    println!(
        "{}{}",
        status::render(&statuses),
        status::render_members(&statuses)
    );
    Ok(())
}

/// Replaces node `victim` by a new machine, one single-server change at a
/// time, as README's "Replacing a machine" says: a new node joins as a
/// learner, is promoted once caught up, and `victim` is removed; then every
/// acknowledged write reads back through the new membership.
fn replace_a_node(
    cluster: &mut LocalCluster,
    victim: usize,
    acked: &[usize],
    record: &mut DemoRecord,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let timeout = Duration::from_secs(20);
    let id = cluster.add_joining_node()?;
    let addr = cluster.nodes()[id].addr;
    let addrs = cluster.addrs();
    let add = member::Change::AddLearner {
        id: id as u64,
        address: addr.to_string(),
    };
    member::change(&addrs, &add, timeout)?;
    let lane = format!("node{id}");
    record.event(
        &lane,
        EventKind::Note,
        format!("node{id} joins as a learner"),
    );
    println!("node{id} ({addr}) joined as a learner");
    // Refused while it lags: retry until it has caught up.
    let promote = member::Change::Promote { id: id as u64 };
    let deadline = Instant::now() + timeout;
    while let Err(e) = member::change(&addrs, &promote, timeout) {
        ensure!(Instant::now() < deadline, "node{id} was not promoted: {e}");
        std::thread::sleep(Duration::from_millis(100));
    }
    record.event(
        &lane,
        EventKind::Note,
        format!("node{id} promoted to voter"),
    );
    println!("node{id} caught up and was promoted to voter");
    member::change(
        &addrs,
        &member::Change::Remove { id: victim as u64 },
        timeout,
    )?;
    record.event(
        &format!("node{victim}"),
        EventKind::Note,
        format!("node{victim} removed from the cluster"),
    );
    println!(
        "node{victim} was removed; the members are now:\n{}",
        member::list(&addrs, timeout)?.trim_end()
    );
    let clerk = Clerk::with_config(
        addrs,
        ClerkConfig {
            deadline: Some(timeout),
            ..ClerkConfig::default()
        },
    );
    verify(&clerk, acked, record)?;
    println!(
        "replaced node{victim} by node{id} in {:.1} s; every acknowledged write reads back",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Writes keys `demo-{i}` and appends `i,` to `demo-log`, recording each
/// acknowledged write.
fn write_phase(
    clerk: &Clerk,
    from: usize,
    acked: &mut Vec<usize>,
    latencies: &mut Latencies,
    record: &mut DemoRecord,
) -> anyhow::Result<()> {
    for i in from..from + WRITES_PER_PHASE {
        let t = Instant::now();
        let (lane, text, result) = if i % 2 == 0 {
            let (key, value) = (format!("demo-{i}"), format!("value-{i}"));
            let text = format!("Put({key:?}, {value:?})");
            ("Put demo-*", text, clerk.put(key, value))
        } else {
            let value = format!("{i},");
            let text = format!("Append(\"demo-log\", {value:?})");
            ("Append demo-log", text, clerk.append("demo-log", value))
        };
        record.op(
            lane,
            t,
            text,
            result
                .as_ref()
                .map(|()| "OK".to_string())
                .map_err(|e| e.to_string()),
        );
        result.with_context(|| format!("write {i} was not acknowledged"))?;
        latencies.record(t.elapsed());
        acked.push(i);
    }
    Ok(())
}

/// A verifying Get, recorded in the timeline.
fn recorded_get(
    clerk: &Clerk,
    key: String,
    record: &mut DemoRecord,
) -> anyhow::Result<Option<Vec<u8>>> {
    let t = Instant::now();
    let result = clerk.get(key.clone());
    let shown = match &result {
        Ok(Some(value)) => Ok(format!("{:?}", String::from_utf8_lossy(value))),
        Ok(None) => Ok("(none)".to_string()),
        Err(e) => Err(e.to_string()),
    };
    record.op("Get (verify)", t, format!("Get({key:?})"), shown);
    Ok(result?)
}

fn verify(clerk: &Clerk, acked: &[usize], record: &mut DemoRecord) -> anyhow::Result<()> {
    for &i in acked.iter().filter(|i| *i % 2 == 0) {
        let got = recorded_get(clerk, format!("demo-{i}"), record)?;
        ensure!(
            got.as_deref() == Some(format!("value-{i}").as_bytes()),
            "demo-{i} lost: read {:?}",
            got.map(|g| String::from_utf8_lossy(&g).into_owned())
        );
    }
    let expected: String = acked
        .iter()
        .filter(|i| *i % 2 == 1)
        .map(|i| format!("{i},"))
        .collect();
    let log = recorded_get(clerk, "demo-log".to_string(), record)?.unwrap_or_default();
    if log != expected.as_bytes() {
        bail!(
            "demo-log differs from the acknowledged appends:\n  read     {}\n  expected {expected}",
            String::from_utf8_lossy(&log)
        );
    }
    Ok(())
}

fn wait_for_leader(
    cluster: &LocalCluster,
    not: Option<usize>,
    within: Duration,
) -> anyhow::Result<usize> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        let statuses = status::query_all(&cluster.addrs(), Duration::from_millis(500));
        if let Some(leader) = status::leader(&statuses).filter(|l| Some(*l) != not) {
            return Ok(leader);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("no leader elected within {within:?}; see the node logs")
}

fn wait_caught_up(cluster: &LocalCluster, id: usize, within: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        let statuses = status::query_all(&cluster.addrs(), Duration::from_millis(500));
        let leader_commit = status::leader(&statuses)
            .and_then(|l| statuses[l].status.as_ref().ok().map(|s| s.commit_index));
        let applied = statuses[id].status.as_ref().ok().map(|s| s.applied_index);
        if let (Some(commit), Some(applied)) = (leader_commit, applied) {
            if applied >= commit {
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("node{id} did not catch up within {within:?}")
}
