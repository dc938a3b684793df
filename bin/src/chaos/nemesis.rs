//! The nemesis: one fault at a time against the cluster's processes — a
//! node killed with -9 and restarted, a node frozen with SIGSTOP and
//! thawed, every node killed and restarted at once — with healthy spells
//! between, until the run's time is up.

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::Rng;

use crate::local_cluster::LocalCluster;

/// One fault.
#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// Killed with -9, down for a while, restarted.
    Kill(usize),
    /// Frozen with SIGSTOP for a while, then SIGCONT.
    Pause(usize),
    /// Every node killed with -9 and restarted.
    RestartAll,
}

/// Picks the next fault for a cluster of `nodes`.
fn pick(rng: &mut StdRng, nodes: usize) -> Fault {
    let node = rng.random_range(0..nodes);
    match rng.random_range(0..10) {
        0..=4 => Fault::Kill(node),
        5..=8 => Fault::Pause(node),
        _ => Fault::RestartAll,
    }
}

fn millis(rng: &mut StdRng, range: std::ops::Range<u64>) -> Duration {
    Duration::from_millis(rng.random_range(range))
}

/// Injects faults until `until`; logs each with `say`. Returns the number
/// of faults, and the nodes that exited by themselves meanwhile (a crash
/// the nemesis did not cause), which it restarted.
pub fn run(
    cluster: &mut LocalCluster,
    rng: &mut StdRng,
    began: Instant,
    until: Instant,
    say: &dyn Fn(String),
) -> anyhow::Result<(usize, Vec<String>)> {
    let nodes = cluster.nodes().len();
    let mut faults = 0;
    let mut crashes = Vec::new();
    let secs = || began.elapsed().as_secs_f64();
    while Instant::now() < until {
        std::thread::sleep(millis(rng, 500..3000));
        if Instant::now() >= until {
            break;
        }
        let fault = pick(rng, nodes);
        faults += 1;
        match fault {
            Fault::Kill(n) => {
                let down = millis(rng, 0..3000);
                say(format!("{:7.1} s  kill -9 node{n}, down {down:?}", secs()));
                cluster.kill(n);
                std::thread::sleep(down);
                cluster.start(n)?;
            }
            Fault::Pause(n) => {
                let frozen = millis(rng, 200..4000);
                say(format!("{:7.1} s  SIGSTOP node{n} for {frozen:?}", secs()));
                cluster.pause(n);
                std::thread::sleep(frozen);
                cluster.resume(n);
            }
            Fault::RestartAll => {
                say(format!("{:7.1} s  kill -9 every node, restart", secs()));
                for n in 0..nodes {
                    cluster.kill(n);
                }
                std::thread::sleep(millis(rng, 0..1000));
                cluster.start_all()?;
            }
        }
        for (n, status) in cluster.reap_exited() {
            let line = format!("node{n} exited by itself ({status}); see its log");
            say(format!("{:7.1} s  {line}", secs()));
            crashes.push(line);
            cluster.start(n)?;
        }
    }
    Ok((faults, crashes))
}
