//! A linearizability checker for histories of concurrent operations, in the manner of Porcupine.
//!
//! Concurrent clients record every operation with [`Recorder`] (call time, return time, output);
//! [`check_operations`] then asks whether some total order of the operations, consistent with
//! real time, explains every output under a sequential [`Model`]. [`KvModel`] is the model of
//! the replicated KV store (Get/Put/Append/Delete/Cas on one key, Scan over a range),
//! partitioned by key, with the keys a Scan covers kept together.
//!
//! The search is Wing & Gong's, with Lowe's memoisation of (linearized set, state) pairs, on a
//! doubly-linked list of call/return events, checked partition by partition and in parallel,
//! under a timeout (verdict `Unknown`) and a memory budget for the memo. Two sound shortcuts
//! keep lab-sized histories fast: reads that fit are taken without branching, and the KV model
//! drops unanswered writes no read ever saw. Like any such checker it is exponential in the
//! worst case: a dozen clients appending to one key all the time can exhaust any timeout.
//!
//! The C++ original has no such checker: its clerk tests only print results. We add one because
//! a Raft KV store that returns stale or duplicated values still "works" in a demo.
//!
//! Modules: `operation` (one recorded op), `model` (the sequential spec), `kv` (the KV spec),
//! `kv_value` (a value that grows by shared pieces), `kv_partition` (splitting a KV history by key),
//! `recorder` (thread-safe history capture, and the faults of the run on the same clock),
//! `faults` (a partition, crash or restart), `entries` (the event list), `bitset`, `cache`
//! (visited states), `search` (the DFS on one partition), `checker` (partitions, threads,
//! timeout, verdict), `report` (what the search reached in each partition), `timeline` (a
//! checked history and its faults drawn as an HTML timeline).

mod bitset;
mod cache;
mod checker;
mod entries;
mod faults;
mod kv;
mod kv_partition;
mod kv_value;
mod model;
mod operation;
mod recorder;
mod report;
mod search;
mod timeline;

pub use checker::{check_operations, check_operations_report, CheckResult, Violation};
pub use faults::{Fault, FaultKind};
pub use kv::{KvInput, KvModel, KvOp, KvOperation, KvOutput, KvRecorder, KvState};
pub use model::Model;
pub use operation::Operation;
pub use recorder::{OpId, Recorder};
pub use report::{CheckReport, OpRef, PartitionReport, PartitionVerdict};
pub use timeline::draw as draw_timeline;
