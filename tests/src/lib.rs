//! Cross-crate integration tests of raftkv, in the manner of MIT 6.5840's labs.
//!
//! The C++ original tests its Raft by hand, starting processes and reading
//! logs. Here, as in 6.5840, the nodes run in one process over a simulated
//! network that can drop, delay and reorder messages and partition servers,
//! and a harness checks every apply against every other server's.
//!
//! - [`sim`]: the simulated network (6.5840's `labrpc`), generic over
//!   `rpc::Service`, plus a [`raft::RaftPeer`] over it.
//! - [`raft_harness`]: a cluster of Raft nodes with crash/restart, partitions
//!   and safety checkers (6.5840's `raft/config.go`).
//!
//! - [`kv_harness`]: a cluster of KvServers with clients on simulated ends,
//!   partitions, crash/restart and 6.5840's GenericTest (`kvraft/config.go`).
//! - [`linearizability`]: a Porcupine-style checker that KV tests run on
//!   recorded client histories; a failed check writes an HTML timeline of the
//!   history and the run's faults (drawn by `raftkv_bin::timeline`).
//! - [`power_loss`]: the seeds of the power losses a crash simulates: a
//!   crashed server loses what it never synced, and may keep some of it torn.
//!
//! The scenarios themselves live in `tests/raft_*.rs` and `tests/kv_*.rs`.

pub mod kv_harness;
pub mod linearizability;
pub mod power_loss;
pub mod raft_harness;
pub mod sim;
