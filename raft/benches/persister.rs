//! FilePersister figures: group-commit throughput and sync latency, and the
//! cost of one persist with a short log versus a 100k-entry log (the
//! original re-serialized the whole log each time; we only append).
//!
//! Run: `cargo bench -p raft --bench persister`. Files go under cargo's
//! target tmp dir (a real disk, not tmpfs). Every phase is bounded by a
//! time budget, so the whole run takes seconds.

use std::time::{Duration, Instant};

use proto::raft::LogEntry;
use raft::{FilePersister, HardState, Persister};

const COMMAND_LEN: usize = 100;

fn entry(index: u64) -> LogEntry {
    LogEntry {
        command: vec![b'x'; COMMAND_LEN],
        log_term: 1,
        log_index: index,
        config: None,
    }
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[(sorted.len() - 1) * p / 100]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn scratch_dir() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("create bench dir")
}

/// Appends 100-byte entries one at a time, syncing every `batch` entries.
fn group_commit(batch: u64, budget: Duration, max_entries: u64) {
    let dir = scratch_dir();
    let mut p = FilePersister::open(dir.path()).expect("open");
    let mut syncs = Vec::new();
    let start = Instant::now();
    let mut index = 0;
    while index < max_entries && start.elapsed() < budget {
        for _ in 0..batch {
            index += 1;
            p.append(&[entry(index)]).expect("append");
        }
        let t = Instant::now();
        p.sync().expect("sync");
        syncs.push(t.elapsed());
    }
    let elapsed = start.elapsed();
    syncs.sort();
    println!(
        "sync every {batch:>2}: {index:>7} entries in {:>5.2} s = {:>9.0} entries/s; \
         {} syncs, latency p50 {:>7.1} us, p99 {:>7.1} us",
        elapsed.as_secs_f64(),
        index as f64 / elapsed.as_secs_f64(),
        syncs.len(),
        micros(percentile(&syncs, 50)),
        micros(percentile(&syncs, 99)),
    );
}

/// A persister holding a log of `log_len` entries, and its timings.
struct Subject {
    _dir: tempfile::TempDir,
    p: FilePersister,
    log_len: u64,
    bytes: u64,
    next: u64,
    appends: Vec<Duration>,
    votes: Vec<Duration>,
}

impl Subject {
    fn new(log_len: u64) -> Subject {
        let dir = scratch_dir();
        let mut p = FilePersister::open(dir.path()).expect("open");
        let mut index = 0;
        while index < log_len {
            let batch: Vec<_> = (index + 1..=log_len.min(index + 1000)).map(entry).collect();
            index += batch.len() as u64;
            p.append(&batch).expect("append");
            p.sync().expect("sync");
        }
        let bytes = p.raft_state_size();
        Subject {
            _dir: dir,
            p,
            log_len,
            bytes,
            next: log_len + 1,
            appends: Vec::new(),
            votes: Vec::new(),
        }
    }

    /// One persist of each kind: append one entry + sync, hard state + sync.
    fn round(&mut self) {
        let t = Instant::now();
        self.p.append(&[entry(self.next)]).expect("append");
        self.p.sync().expect("sync");
        self.appends.push(t.elapsed());
        self.next += 1;

        let t = Instant::now();
        self.p
            .save_hard_state(HardState {
                current_term: self.next,
                voted_for: Some(1),
            })
            .expect("hard state");
        self.p.sync().expect("sync");
        self.votes.push(t.elapsed());
    }

    fn report(mut self) {
        self.appends.sort();
        self.votes.sort();
        println!(
            "log of {:>6} entries ({:>8} bytes): append+sync p50 {:>7.1} us p99 {:>7.1} us; \
             hard state+sync p50 {:>7.1} us p99 {:>7.1} us",
            self.log_len,
            self.bytes,
            micros(percentile(&self.appends, 50)),
            micros(percentile(&self.appends, 99)),
            micros(percentile(&self.votes, 50)),
            micros(percentile(&self.votes, 99)),
        );
    }
}

/// Persist cost with a short and a long log, rounds interleaved so that
/// load from other processes hits both alike.
fn persist_cost_vs_log_length(budget: Duration, max_rounds: usize) {
    let mut short = Subject::new(10);
    let mut long = Subject::new(100_000);
    let start = Instant::now();
    for _ in 0..max_rounds {
        if start.elapsed() > budget {
            break;
        }
        short.round();
        long.round();
    }
    short.report();
    long.report();
}

fn main() {
    println!(
        "FilePersister bench, files under {}",
        env!("CARGO_TARGET_TMPDIR")
    );
    group_commit(1, Duration::from_secs(3), 20_000);
    group_commit(64, Duration::from_secs(3), 500_000);
    noop_sync();
    persist_cost_vs_log_length(Duration::from_secs(4), 500);
}

/// A sync with nothing pending makes no system call.
fn noop_sync() {
    let dir = scratch_dir();
    let mut p = FilePersister::open(dir.path()).expect("open");
    p.append(&[entry(1)]).expect("append");
    p.sync().expect("sync");
    let rounds = 100_000;
    let t = Instant::now();
    for _ in 0..rounds {
        p.sync().expect("sync");
    }
    println!(
        "sync with nothing pending: {:.0} ns each",
        t.elapsed().as_nanos() as f64 / rounds as f64
    );
}
