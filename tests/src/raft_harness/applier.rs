//! What every server applied, checked as it arrives: the harness's state
//! machine and 6.5840's `applier` / `applierSnap` / `checkLogs`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use parking_lot::Mutex;
use raft::{ApplyMsg, LockQueue, Raft};

use super::command::describe;
use super::snapshot_codec;

/// In snapshot mode the applier snapshots after every this many entries.
pub const SNAPSHOT_INTERVAL: u64 = 10;

/// Every server's applied (index → command) pairs and the errors found.
#[derive(Default)]
pub struct Applies {
    state: Mutex<AppliesState>,
}

#[derive(Default)]
struct AppliesState {
    /// Per server: index → command, as applied (or restored from snapshot).
    logs: Vec<BTreeMap<u64, Vec<u8>>>,
    /// Per server: the last index applied by its current incarnation.
    last_applied: Vec<u64>,
    /// The highest index any server applied.
    max_index: u64,
    errors: Vec<String>,
}

impl Applies {
    pub fn new(n: usize) -> Self {
        Self {
            state: Mutex::new(AppliesState {
                logs: vec![BTreeMap::new(); n],
                last_applied: vec![0; n],
                max_index: 0,
                errors: Vec::new(),
            }),
        }
    }

    /// A restarted server applies again from its snapshot or from index 1.
    pub fn restart(&self, server: usize) {
        self.state.lock().last_applied[server] = 0;
    }

    /// The first safety violation seen, if any.
    pub fn first_error(&self) -> Option<String> {
        self.state.lock().errors.first().cloned()
    }

    /// How many servers applied `index`, and the command they agree on.
    /// Panics if two servers applied different commands there.
    pub fn n_committed(&self, index: u64) -> (usize, Option<Vec<u8>>) {
        let state = self.state.lock();
        let mut count = 0;
        let mut agreed: Option<&Vec<u8>> = None;
        for (server, log) in state.logs.iter().enumerate() {
            if let Some(command) = log.get(&index) {
                if let Some(other) = agreed {
                    assert!(
                        other == command,
                        "committed values do not match at index {index}: {} vs {} (server {server})",
                        describe(other),
                        describe(command)
                    );
                }
                agreed = Some(command);
                count += 1;
            }
        }
        (count, agreed.cloned())
    }

    pub fn max_index(&self) -> u64 {
        self.state.lock().max_index
    }

    /// Records one applied command; returns the error it reveals, if any.
    fn apply_command(&self, server: usize, index: u64, command: Vec<u8>) -> Option<String> {
        let mut state = self.state.lock();
        let expected = state.last_applied[server] + 1;
        let mut error = (index != expected).then(|| {
            format!("server {server} applied index {index} out of order: expected {expected}")
        });
        if error.is_none() {
            error = state.disagreement(server, index, &command);
        }
        state.logs[server].insert(index, command);
        state.last_applied[server] = index;
        state.max_index = state.max_index.max(index);
        state.note(error)
    }

    /// Replaces a server's state with a snapshot's; returns any error.
    fn apply_snapshot(&self, server: usize, index: u64, data: &[u8]) -> Option<String> {
        let mut state = self.state.lock();
        let error = match snapshot_codec::decode(data) {
            Err(e) => Some(format!("server {server}: undecodable snapshot: {e}")),
            Ok((last, _)) if last != index => Some(format!(
                "server {server}: snapshot holds entries through {last} but ApplyMsg says {index}"
            )),
            Ok(_) if index < state.last_applied[server] => Some(format!(
                "server {server}: snapshot at {index} would undo applies through {}",
                state.last_applied[server]
            )),
            Ok((_, commands)) => {
                let mut error = None;
                let restored: BTreeMap<u64, Vec<u8>> = (1..).zip(commands).collect();
                for (&i, command) in &restored {
                    error = error.or_else(|| state.disagreement(server, i, command));
                }
                state.logs[server] = restored;
                state.last_applied[server] = index;
                state.max_index = state.max_index.max(index);
                error
            }
        };
        state.note(error)
    }

    /// The commands 1..=index this server applied, for its next snapshot.
    fn prefix(&self, server: usize, index: u64) -> Vec<Vec<u8>> {
        let state = self.state.lock();
        (1..=index)
            .map(|i| state.logs[server].get(&i).cloned().unwrap_or_default())
            .collect()
    }
}

impl AppliesState {
    /// Whether another server applied a different command at `index`.
    fn disagreement(&self, server: usize, index: u64, command: &[u8]) -> Option<String> {
        self.logs.iter().enumerate().find_map(|(other, log)| {
            log.get(&index)
                .filter(|c| c.as_slice() != command)
                .map(|c| {
                    format!(
                        "commit index={index} server={server} {command:?} != server={other} {c:?}"
                    )
                })
        })
    }

    fn note(&mut self, error: Option<String>) -> Option<String> {
        if let Some(e) = &error {
            eprintln!("apply error: {e}");
            self.errors.push(e.clone());
        }
        error
    }
}

/// Starts the thread that drains `queue` into `applies` for `server`; in
/// snapshot mode it also hands Raft a snapshot every [`SNAPSHOT_INTERVAL`]
/// entries, from this thread, as a service would. It ends when the queue is
/// closed and drained.
pub fn spawn_applier(
    server: usize,
    raft: Raft,
    queue: Arc<LockQueue<ApplyMsg>>,
    applies: Arc<Applies>,
    snapshot: bool,
) -> JoinHandle<()> {
    thread::Builder::new()
        .name(format!("applier-{server}"))
        .spawn(move || {
            while let Some(msg) = queue.pop() {
                match msg {
                    ApplyMsg::Command { index, command, .. } => {
                        let failed = applies.apply_command(server, index, command).is_some();
                        if snapshot && !failed && index % SNAPSHOT_INTERVAL == 0 {
                            let commands = applies.prefix(server, index);
                            raft.snapshot(index, snapshot_codec::encode(index, &commands));
                        }
                    }
                    ApplyMsg::Membership { index, config, .. } => {
                        // Recorded like a command, so indexes stay in order
                        // and every server must agree on it too.
                        let entry = format!("config: {config}").into_bytes();
                        applies.apply_command(server, index, entry);
                    }
                    ApplyMsg::Snapshot { index, data, .. } => {
                        let bytes = data.to_vec().unwrap_or_default();
                        applies.apply_snapshot(server, index, &bytes);
                    }
                }
            }
        })
        .expect("cannot spawn an applier thread")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft_harness::cmd;

    #[test]
    fn agreeing_in_order_applies_pass() {
        let applies = Applies::new(2);
        for server in 0..2 {
            for index in 1..=3 {
                assert_eq!(applies.apply_command(server, index, cmd(index)), None);
            }
        }
        assert_eq!(applies.n_committed(2), (2, Some(cmd(2))));
        assert_eq!(applies.n_committed(4), (0, None));
        assert_eq!(applies.max_index(), 3);
        assert_eq!(applies.first_error(), None);
    }

    #[test]
    fn disagreement_gap_and_replay_are_caught() {
        let applies = Applies::new(2);
        applies.apply_command(0, 1, cmd(10));
        assert!(
            applies.apply_command(1, 1, cmd(11)).is_some(),
            "disagreement"
        );
        assert!(applies.apply_command(0, 3, cmd(30)).is_some(), "gap");
        let applies = Applies::new(1);
        applies.apply_command(0, 1, cmd(1));
        assert!(applies.apply_command(0, 1, cmd(1)).is_some(), "replay");
        assert!(applies.first_error().is_some());
    }

    #[test]
    fn snapshots_are_checked() {
        let applies = Applies::new(2);
        for index in 1..=4 {
            applies.apply_command(0, index, cmd(index));
        }
        let good = snapshot_codec::encode(2, &[cmd(1), cmd(2)]);
        assert_eq!(applies.apply_snapshot(1, 2, &good), None);
        assert_eq!(applies.apply_command(1, 3, cmd(3)), None);
        assert!(
            applies.apply_command(1, 2, cmd(2)).is_some(),
            "below snapshot"
        );

        let applies = Applies::new(2);
        applies.apply_command(0, 1, cmd(1));
        let wrong = snapshot_codec::encode(1, &[cmd(9)]);
        assert!(
            applies.apply_snapshot(1, 1, &wrong).is_some(),
            "diverging snapshot"
        );
        assert!(
            applies.apply_snapshot(1, 2, &good).is_some(),
            "index mismatch"
        );
        assert!(applies.apply_snapshot(1, 1, b"junk").is_some(), "garbage");
        let applies = Applies::new(1);
        for index in 1..=3 {
            applies.apply_command(0, index, cmd(index));
        }
        assert!(applies.apply_snapshot(0, 2, &good).is_some(), "regression");
    }
}
