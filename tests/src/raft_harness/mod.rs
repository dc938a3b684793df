//! A Raft cluster for scenario tests (6.5840's `raft/config.go`): n nodes
//! over the simulated network, crash and restart from copied persisters,
//! and appliers that check every apply against every other server's.
//!
//! Safety checked on every apply: the same index holds the same command on
//! every server; a server applies indexes in order with no gaps, never
//! again at or below a snapshot it was given; snapshots match their index.
//! Checked on demand: at most one leader per term (`check_one_leader`).

mod applier;
mod checks;
mod cluster;
mod command;
mod membership;
mod runner;
mod snapshot_codec;

pub use applier::SNAPSHOT_INTERVAL;
pub use cluster::{test_config, RaftCluster, ELECTION_TIMEOUT};
pub use command::{cmd, describe, random_bytes, random_cmd, value};
pub use runner::{run_test, run_test_within, TEST_TIME_LIMIT};
