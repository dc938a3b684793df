//! Phase 3, mixed: for a while, client threads do half Gets and half Puts of
//! random loaded keys, while a sampler counts the snapshots the nodes take,
//! the seconds in which one was being written, and the elections that
//! happen meanwhile.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clerk::{Clerk, ClerkConfig};
use rand::Rng;

use super::snapshot_watch::SnapshotWatch;
use super::workload::{Stop, Workload};
use super::{ms, wait};
use crate::latency::Latencies;

/// Errors printed one by one; past this, only counted.
const ERRORS_SHOWN: u64 = 10;

/// What one client thread measured.
#[derive(Default)]
struct ClientFigures {
    gets: Latencies,
    puts: Latencies,
}

/// What the sampler saw: snapshot index moves per node, the samples in
/// which each node was writing one, and the term range.
struct Sampled {
    snapshots: Vec<u64>,
    writing: Vec<u64>,
    samples: u64,
    first_term: u64,
    last_term: u64,
}

/// Runs the mixed load for `time`; prints and returns its figures.
pub fn run(
    addrs: Vec<SocketAddr>,
    logs: Vec<PathBuf>,
    workload: &Workload,
    clients: usize,
    time: Duration,
    stop: &Stop,
) -> anyhow::Result<String> {
    let clerk = Clerk::with_config(
        addrs.clone(),
        ClerkConfig {
            // A slow operation is a figure; only a hopeless one is an error.
            deadline: Some(Duration::from_secs(10)),
            ..ClerkConfig::default()
        },
    );
    let errors = AtomicU64::new(0);
    let finished = AtomicBool::new(false);
    let started = Instant::now();
    let (figures, sampled) = std::thread::scope(|scope| {
        let sampler = scope.spawn(|| sample(&addrs, logs, &finished));
        let handles: Vec<_> = (0..clients)
            .map(|_| scope.spawn(|| client(&clerk, workload, started + time, &errors, stop)))
            .collect();
        let mut figures = ClientFigures::default();
        for handle in handles {
            if let Ok(f) = handle.join() {
                figures.gets.merge(&f.gets);
                figures.puts.merge(&f.puts);
            }
        }
        finished.store(true, Ordering::Relaxed);
        (figures, sampler.join().ok())
    });
    let elapsed = started.elapsed();
    stop.check()?;

    let mut all = figures.gets.clone();
    all.merge(&figures.puts);
    let errors = errors.load(Ordering::Relaxed);
    let ops = all.len();
    let (p50, p99, max) = (
        all.percentile(50.0),
        all.percentile(99.0),
        all.percentile(100.0),
    );
    println!(
        "mixed: {ops} ops in {:.1} s by {clients} clients ({:.0} ops/s): p50 {}, p99 {}, max {}; {errors} errors",
        elapsed.as_secs_f64(),
        ops as f64 / elapsed.as_secs_f64(),
        ms(p50),
        ms(p99),
        ms(max),
    );
    println!("mixed: Get {}", figures.gets);
    println!("mixed: Put {}", figures.puts);
    let snapshots = match &sampled {
        Some(s) => {
            let per_node: Vec<String> = s
                .snapshots
                .iter()
                .enumerate()
                .map(|(id, n)| format!("node{id} {n}"))
                .collect();
            let writing: Vec<String> = s
                .writing
                .iter()
                .enumerate()
                .map(|(id, n)| format!("node{id} {n}/{}", s.samples))
                .collect();
            println!(
                "mixed: snapshots taken meanwhile (snapshot index moves, sampled once a second): {}; elections: term {} -> {}",
                per_node.join(", "),
                s.first_term,
                s.last_term
            );
            println!(
                "mixed: seconds with a snapshot being written (from the node logs): {}",
                writing.join(", ")
            );
            s.snapshots.iter().sum::<u64>().to_string()
        }
        None => {
            println!("mixed: the status sampler failed; snapshots not counted");
            "?".to_string()
        }
    };
    Ok(format!(
        "p50 {}, p99 {}, max {} ({ops} ops, {clients} clients, {errors} errors, {snapshots} snapshots)",
        ms(p50),
        ms(p99),
        ms(max)
    ))
}

/// One client thread: random Gets and Puts until `until`.
fn client(
    clerk: &Clerk,
    workload: &Workload,
    until: Instant,
    errors: &AtomicU64,
    stop: &Stop,
) -> ClientFigures {
    let mut rng = rand::rng();
    let mut figures = ClientFigures::default();
    while Instant::now() < until && !stop.is_set() {
        let key = workload.random_key(&mut rng);
        let problem = if rng.random_bool(0.5) {
            let t = Instant::now();
            let result = clerk.get(&key);
            figures.gets.record(t.elapsed());
            match result {
                Ok(Some(value)) if value.len() == workload.value_bytes => None,
                Ok(Some(value)) => Some(format!(
                    "Get({key}) returned {} bytes, expected {}",
                    value.len(),
                    workload.value_bytes
                )),
                Ok(None) => Some(format!("Get({key}) found no value")),
                Err(e) => Some(format!("Get({key}) failed: {e}")),
            }
        } else {
            let value = workload.value(&mut rng);
            let t = Instant::now();
            let result = clerk.put(&key, value);
            figures.puts.record(t.elapsed());
            result.err().map(|e| format!("Put({key}) failed: {e}"))
        };
        if let Some(problem) = problem {
            if errors.fetch_add(1, Ordering::Relaxed) < ERRORS_SHOWN {
                println!("mixed: error: {problem}");
            }
        }
    }
    figures
}

/// Samples every node's status once a second until `finished`.
fn sample(addrs: &[SocketAddr], logs: Vec<PathBuf>, finished: &AtomicBool) -> Sampled {
    let mut last_snapshot: Vec<Option<u64>> = vec![None; addrs.len()];
    let mut watches: Vec<SnapshotWatch> = logs.into_iter().map(SnapshotWatch::new).collect();
    let mut sampled = Sampled {
        snapshots: vec![0; addrs.len()],
        writing: vec![0; watches.len()],
        samples: 0,
        first_term: 0,
        last_term: 0,
    };
    loop {
        // One more look after the clients stop catches a last snapshot.
        let last_round = finished.load(Ordering::Relaxed);
        let statuses = wait::statuses(addrs);
        for (id, last) in last_snapshot.iter_mut().enumerate() {
            let Some(reply) = wait::reply(&statuses, id) else {
                continue;
            };
            if last.is_some_and(|before| reply.snapshot_index > before) {
                sampled.snapshots[id] += 1;
            }
            *last = Some(reply.snapshot_index);
            sampled.last_term = sampled.last_term.max(reply.term);
        }
        for (id, watch) in watches.iter_mut().enumerate() {
            if watch.look() {
                sampled.writing[id] += 1;
            }
        }
        sampled.samples += 1;
        if sampled.first_term == 0 {
            sampled.first_term = sampled.last_term;
        }
        if last_round {
            return sampled;
        }
        sleep_unless(finished, Duration::from_secs(1));
    }
}

/// Sleeps for `d`, waking early once `flag` is set.
fn sleep_unless(flag: &AtomicBool, d: Duration) {
    let until = Instant::now() + d;
    while Instant::now() < until && !flag.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(20));
    }
}
