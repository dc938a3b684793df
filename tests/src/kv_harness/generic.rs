//! 6.5840's `GenericTest`: clients doing random Get/Put/Append for a few
//! seconds, three times over, while partitions reshuffle and servers crash
//! between rounds; then every client's appends are checked, and the whole
//! history for linearizability, in every scenario as 6.5840 does.
//!
//! Beyond 6.5840, the mix holds Delete, Cas and Scan too. On its own key a
//! client makes some appends as read-free compare-and-swaps (it knows the
//! value, so each must swap: a retried Cas decided twice would fail it) and
//! reads some values by a one-key Scan. On shared random keys clients also
//! delete, do read-then-Cas, and scan small fixed groups of keys (two keys
//! adjacent in byte order, in pages of 1 to 3), so the checker's partitions
//! stay small (see `linearizability/kv_partition.rs`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use clerk::CasOutcome;
use rand::Rng;

use super::checks::{append_value, check_clnt_appends, check_linearizable};
use super::{KvClient, KvCluster};
use crate::linearizability::KvRecorder;
use crate::raft_harness::ELECTION_TIMEOUT;

/// Rounds of client load per test (6.5840: 3).
pub const ITERATIONS: usize = 3;

/// How long clients run per round, after the partitioner's head start
/// (both as in 6.5840).
pub const CLIENT_RUN: Duration = Duration::from_secs(5);

/// With partitions, clients first run this long undisturbed (6.5840: 1 s).
pub const PARTITIONER_HEAD_START: Duration = Duration::from_secs(1);

/// One GenericTest scenario's shape.
#[derive(Clone, Debug)]
pub struct Generic {
    /// The test's name as 6.5840 prints it, e.g. "Test: many partitions (4A)".
    pub title: &'static str,
    pub clients: usize,
    pub servers: usize,
    pub unreliable: bool,
    /// Crash and restart every server between rounds.
    pub crash: bool,
    /// Reshuffle partitions about once an election timeout while clients run.
    pub partitions: bool,
    /// Snapshot threshold; `None` must never snapshot.
    pub max_raft_state: Option<u64>,
    /// Clients use shared random keys (and Puts) instead of each appending
    /// to its own key. Either way the history is checked for
    /// linearizability.
    pub random_keys: bool,
}

impl Generic {
    /// A reliable, crash-free, partition-free, non-snapshotting test.
    pub fn new(title: &'static str, clients: usize, servers: usize) -> Self {
        Self {
            title,
            clients,
            servers,
            unreliable: false,
            crash: false,
            partitions: false,
            max_raft_state: None,
            random_keys: false,
        }
    }

    pub fn unreliable(mut self) -> Self {
        self.unreliable = true;
        self
    }

    pub fn crash(mut self) -> Self {
        self.crash = true;
        self
    }

    pub fn partitions(mut self) -> Self {
        self.partitions = true;
        self
    }

    pub fn max_raft_state(mut self, bytes: u64) -> Self {
        self.max_raft_state = Some(bytes);
        self
    }

    pub fn linearizable(mut self) -> Self {
        self.random_keys = true;
        self
    }

    /// Runs the scenario; panics on the first violated property.
    pub fn run(self) {
        let started = Instant::now();
        let recorder = KvRecorder::new();
        let cluster = KvCluster::recording(
            self.servers,
            self.unreliable,
            self.max_raft_state,
            recorder.clone(),
        );
        eprintln!("{} ...", self.title);
        let checker = cluster.make_client();
        let mut total_ops = 0;

        for round in 0..ITERATIONS {
            let stop_clients = AtomicBool::new(false);
            let stop_partitioner = AtomicBool::new(false);
            let counts: Vec<usize> = thread::scope(|s| {
                let clients: Vec<_> = (0..self.clients)
                    .map(|c| {
                        let (cluster, stop, spec) = (&cluster, &stop_clients, &self);
                        s.spawn(move || spec.client_loop(cluster, c, stop))
                    })
                    .collect();
                let partitioner = self.partitions.then(|| {
                    let (cluster, stop) = (&cluster, &stop_partitioner);
                    s.spawn(move || partitioner(cluster, stop))
                });

                // The load's duration, not a wait for anything.
                if self.partitions {
                    thread::sleep(PARTITIONER_HEAD_START);
                }
                thread::sleep(CLIENT_RUN);
                stop_clients.store(true, Ordering::SeqCst);
                stop_partitioner.store(true, Ordering::SeqCst);
                if let Some(partitioner) = partitioner {
                    partitioner.join().expect("partitioner panicked");
                    // Clients stuck in a minority can finish now.
                    cluster.connect_all();
                }
                if self.crash {
                    for i in 0..self.servers {
                        cluster.shutdown_server(i);
                    }
                    for i in 0..self.servers {
                        cluster.start_server(i);
                    }
                    cluster.connect_all();
                }
                clients
                    .into_iter()
                    .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                    .collect()
            });

            for (c, &count) in counts.iter().enumerate() {
                let value = checker.get(&c.to_string());
                if !self.random_keys {
                    check_clnt_appends(c, &value, count);
                }
                total_ops += count;
            }

            match self.max_raft_state {
                Some(max) => {
                    let size = cluster.log_size();
                    assert!(
                        size <= 8 * max,
                        "round {round}: Raft state of {size} bytes exceeds 8 × max_raft_state ({})",
                        8 * max
                    );
                }
                None => {
                    let size = cluster.snapshot_size();
                    assert_eq!(
                        size, 0,
                        "round {round}: a {size}-byte snapshot though max_raft_state is unset"
                    );
                }
            }
        }

        check_linearizable(&recorder);
        eprintln!(
            "  ... Passed ({}) -- {:4.1} s, {} servers, {} rpcs, {} writes",
            self.title,
            started.elapsed().as_secs_f64(),
            self.servers,
            cluster.rpc_total(),
            total_ops
        );
    }

    /// One client's round: returns how many appends (or writes, with random
    /// keys) it made. With its own key it also checks every Get against the
    /// value it knows the key must have.
    fn client_loop(&self, cluster: &KvCluster, c: usize, stop: &AtomicBool) -> usize {
        let client = cluster.make_client();
        let own_key = c.to_string();
        let mut last = String::new();
        if !self.random_keys {
            client.put(&own_key, &last);
        }
        let groups = scan_groups(self.clients);
        let mut rng = rand::rng();
        let mut j = 0;
        while !stop.load(Ordering::SeqCst) {
            let key = if self.random_keys {
                rng.random_range(0..self.clients).to_string()
            } else {
                own_key.clone()
            };
            let value = append_value(c, j);
            if !self.random_keys {
                j += own_key_step(&client, &own_key, &value, &mut last, &mut rng);
                continue;
            }
            match rng.random_range(0..100) {
                0..50 => {
                    client.append(&key, &value);
                    j += 1;
                }
                50..55 => {
                    client.put(&key, &value);
                    j += 1;
                }
                55..58 => {
                    client.delete(&key);
                    j += 1;
                }
                58..66 => {
                    // Read, then swap in the value with ours appended: "" is
                    // an absent key here (no write stores "").
                    let seen = client.get(&key);
                    let expected = (!seen.is_empty()).then_some(seen.as_str());
                    if client.cas(&key, expected, &format!("{seen}{value}")) == CasOutcome::Swapped
                    {
                        j += 1;
                    }
                }
                66..72 => {
                    let (start, end) = &groups[rng.random_range(0..groups.len())];
                    client.scan(start, end, rng.random_range(1..=3));
                }
                _ => {
                    client.get(&key);
                }
            }
        }
        j
    }
}

/// The longest value a client still appends to by Cas. A Cas entry carries
/// the whole value twice (expected and new), where an Append carries only
/// its piece: on a long value a handful of them would pass the snapshot
/// scenarios' bound of 8 × `max_raft_state` on the log by themselves.
const MAX_CAS_APPEND_VALUE: usize = 100;

/// One operation of a client on its own key, whose value it knows (`last`):
/// an Append (half the time), as a Cas a quarter of those while the value
/// is short, or a read by Get or by a one-key Scan, each checked. Returns
/// how many appends it made.
fn own_key_step(
    client: &KvClient,
    key: &str,
    value: &str,
    last: &mut String,
    rng: &mut impl Rng,
) -> usize {
    if rng.random_ratio(1, 2) {
        if last.len() <= MAX_CAS_APPEND_VALUE && rng.random_ratio(1, 4) {
            let appended = format!("{last}{value}");
            let outcome = client.cas(key, Some(last), &appended);
            assert_eq!(
                outcome,
                CasOutcome::Swapped,
                "Cas({key:?}) of the only client writing it did not swap"
            );
        } else {
            client.append(key, value);
        }
        last.push_str(value);
        return 1;
    }
    if rng.random_ratio(1, 5) {
        // The range [key, key + "\0") holds exactly the key.
        let items = client.scan(key, &format!("{key}\0"), 1);
        assert_eq!(
            items,
            [(key.to_string(), last.clone())],
            "Scan of {key:?} returned the wrong entries"
        );
    } else {
        let got = client.get(key);
        assert_eq!(got, *last, "Get({key:?}) returned the wrong value");
    }
    0
}

/// The shared keys "0".."clients-1" in byte order, in groups of two
/// neighbours, each as the Scan range [first, last + "\0") that holds
/// exactly that group's keys.
fn scan_groups(clients: usize) -> Vec<(String, String)> {
    let mut keys: Vec<String> = (0..clients).map(|k| k.to_string()).collect();
    keys.sort();
    keys.chunks(2)
        .map(|group| (group[0].clone(), format!("{}\0", group[group.len() - 1])))
        .collect()
}

/// Splits the servers into two random groups about once per election
/// timeout until told to stop (6.5840's `partitioner`).
pub fn partitioner(cluster: &KvCluster, stop: &AtomicBool) {
    sleep_unless_stopped(PARTITIONER_HEAD_START, stop);
    let mut rng = rand::rng();
    while !stop.load(Ordering::SeqCst) {
        let mut p1 = Vec::new();
        let mut p2 = Vec::new();
        for i in 0..cluster.n() {
            if rng.random_ratio(1, 2) {
                p1.push(i);
            } else {
                p2.push(i);
            }
        }
        cluster.partition(&p1, &p2);
        let hold = ELECTION_TIMEOUT + Duration::from_millis(rng.random_range(0..200));
        sleep_unless_stopped(hold, stop);
    }
}

/// Sleeps for `duration` (a fault schedule's pace), waking early on `stop`.
fn sleep_unless_stopped(duration: Duration, stop: &AtomicBool) {
    let deadline = Instant::now() + duration;
    while !stop.load(Ordering::SeqCst) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        thread::sleep(left.min(Duration::from_millis(20)));
    }
}
