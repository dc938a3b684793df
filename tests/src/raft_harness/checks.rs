//! What tests ask of a cluster: is there one leader, did an index commit,
//! submit a command and wait for agreement (6.5840's `checkOneLeader`,
//! `nCommitted`, `one`, `wait`), and the summary line of a test.

use std::collections::BTreeMap;
use std::thread;
use std::time::{Duration, Instant};

use raft::Raft;
use rand::Rng;

use super::cluster::{RaftCluster, RunStart};
use super::command::describe;

impl RaftCluster {
    /// The running, connected servers.
    pub(super) fn connected_rafts(&self) -> Vec<(usize, Raft)> {
        let topology = self.topology.lock();
        topology
            .slots
            .iter()
            .enumerate()
            .filter(|(_, slot)| slot.connected)
            .filter_map(|(i, slot)| slot.raft.clone().map(|raft| (i, raft)))
            .collect()
    }

    /// Every running server, connected or not.
    fn running_rafts(&self) -> Vec<Raft> {
        let topology = self.topology.lock();
        topology
            .slots
            .iter()
            .filter_map(|slot| slot.raft.clone())
            .collect()
    }

    /// Fails the test if any applier saw a safety violation.
    pub fn check_apply_errors(&self) {
        if let Some(error) = self.applies.first_error() {
            panic!("apply error: {error}");
        }
    }

    /// Waits (up to ~5 s) until the connected servers have a leader and
    /// returns it; fails if any term has two leaders or none emerges.
    pub fn check_one_leader(&self) -> usize {
        for _ in 0..10 {
            let pause = rand::rng().random_range(450..550);
            thread::sleep(Duration::from_millis(pause));
            let mut leaders: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
            for (i, raft) in self.connected_rafts() {
                let (term, is_leader) = raft.get_state();
                if is_leader {
                    leaders.entry(term).or_default().push(i);
                }
            }
            for (term, ids) in &leaders {
                assert!(
                    ids.len() <= 1,
                    "term {term} has {} (>1) leaders: {ids:?}",
                    ids.len()
                );
            }
            if let Some((_, ids)) = leaders.last_key_value() {
                return ids[0];
            }
        }
        panic!("expected one leader, got none");
    }

    /// All connected servers agree on the term; returns it.
    pub fn check_terms(&self) -> u64 {
        let mut agreed = None;
        for (i, raft) in self.connected_rafts() {
            let (term, _) = raft.get_state();
            match agreed {
                None => agreed = Some(term),
                Some(t) => assert_eq!(t, term, "servers disagree on term (server {i})"),
            }
        }
        agreed.unwrap_or(0)
    }

    /// No connected server believes it is leader.
    pub fn check_no_leader(&self) {
        for (i, raft) in self.connected_rafts() {
            let (term, is_leader) = raft.get_state();
            assert!(
                !is_leader,
                "expected no leader among connected servers, but {i} claims to be leader in term {term}"
            );
        }
    }

    /// (term, is leader) of server i, or None while it is crashed.
    pub fn state(&self, i: usize) -> Option<(u64, bool)> {
        self.raft(i).map(|raft| raft.get_state())
    }

    /// Submits `command` to server i if running: Some((index, term)) if it
    /// accepted as leader.
    pub fn start(&self, i: usize, command: Vec<u8>) -> Option<(u64, u64)> {
        self.raft(i).and_then(|raft| raft.start(command))
    }

    /// How many servers applied `index`, and the command they agree on.
    pub fn n_committed(&self, index: u64) -> (usize, Option<Vec<u8>>) {
        self.check_apply_errors();
        self.applies.n_committed(index)
    }

    /// Submits `command` to whichever server is leader and waits until at
    /// least `expected_servers` applied it; returns its index. With `retry`
    /// it resubmits for up to 10 s if a leader loses the command; without,
    /// the first failure to commit within 2 s fails the test.
    pub fn one(&self, command: Vec<u8>, expected_servers: usize, retry: bool) -> u64 {
        let started = Instant::now();
        let mut next = 0;
        while started.elapsed() < Duration::from_secs(10) {
            self.check_apply_errors();
            let mut index = None;
            for _ in 0..self.n {
                next = (next + 1) % self.n;
                let raft = {
                    let topology = self.topology.lock();
                    let slot = &topology.slots[next];
                    slot.raft.clone().filter(|_| slot.connected)
                };
                if let Some((i, _)) = raft.and_then(|raft| raft.start(command.clone())) {
                    index = Some(i);
                    break;
                }
            }
            let Some(index) = index else {
                thread::sleep(Duration::from_millis(50));
                continue;
            };
            let submitted = Instant::now();
            while submitted.elapsed() < Duration::from_secs(2) {
                let (count, applied) = self.n_committed(index);
                if count > 0 && count >= expected_servers && applied.as_ref() == Some(&command) {
                    return index;
                }
                thread::sleep(Duration::from_millis(20));
            }
            assert!(
                retry,
                "one({}) failed to reach agreement at index {index}",
                describe(&command)
            );
        }
        panic!(
            "one({}) failed to reach agreement within 10 s",
            describe(&command)
        );
    }

    /// Waits for `n` servers to apply `index`; returns the command. Returns
    /// None early if some server moved past `start_term` (then the entry
    /// may never commit). Fails the test if it does not commit in time.
    pub fn wait(&self, index: u64, n: usize, start_term: Option<u64>) -> Option<Vec<u8>> {
        let mut pause = Duration::from_millis(10);
        for _ in 0..30 {
            if self.n_committed(index).0 >= n {
                break;
            }
            thread::sleep(pause);
            if pause < Duration::from_secs(1) {
                pause *= 2;
            }
            if let Some(start_term) = start_term {
                if self
                    .running_rafts()
                    .iter()
                    .any(|raft| raft.get_state().0 > start_term)
                {
                    return None;
                }
            }
        }
        let (count, command) = self.n_committed(index);
        assert!(
            count >= n,
            "only {count} decided for index {index}; wanted {n}"
        );
        Some(command.unwrap_or_default())
    }

    /// Calls received by server i's current incarnation.
    pub fn rpc_count(&self, i: usize) -> u64 {
        self.net.server_rpc_count(&format!("server-{i}"))
    }

    /// Calls sent over the network since the cluster was made.
    pub fn rpc_total(&self) -> u64 {
        self.net.rpc_total()
    }

    /// Bytes of requests and delivered replies since the cluster was made.
    pub fn bytes_total(&self) -> u64 {
        self.net.bytes_total()
    }

    /// The largest Raft state (hard state + log) any server persists.
    pub fn log_size(&self) -> u64 {
        let topology = self.topology.lock();
        topology
            .slots
            .iter()
            .map(|slot| slot.persister.raft_state_size())
            .max()
            .unwrap_or(0)
    }

    /// Starts a test: prints its name and notes the counters.
    pub fn begin(&self, description: &str) {
        println!("{description} ...");
        *self.run.lock() = Some(RunStart {
            description: description.to_string(),
            at: Instant::now(),
            rpcs: self.rpc_total(),
            bytes: self.bytes_total(),
            max_index: self.applies.max_index(),
        });
    }

    /// Ends a test: checks the appliers once more and prints the summary
    /// (seconds, servers, RPCs, bytes, commands committed).
    pub fn end(&self) {
        self.check_apply_errors();
        let Some(run) = self.run.lock().take() else {
            return;
        };
        println!(
            "  ... Passed -- {}: {:5.1}s {} servers {:5} rpcs {:8} bytes {:4} cmds",
            run.description,
            run.at.elapsed().as_secs_f64(),
            self.n,
            self.rpc_total() - run.rpcs,
            self.bytes_total() - run.bytes,
            self.applies.max_index() - run.max_index,
        );
    }
}
