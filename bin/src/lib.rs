//! The raftkv programs (the original's `example/raftCoreExample`:
//! raftKvDB.cpp's raftCoreRun and caller.cpp's callerMain, plus tools it
//! lacked). The binaries in `src/bin` parse arguments and call in here.
//!
//! - `node.rs`: `raft-node`, one replica as a process.
//! - `local_cluster.rs`: N raft-node children with their logs and data dirs,
//!   for `raftkv`, the demo and the tests.
//! - `demo.rs`: `raftkv demo`; `demo_timeline.rs`: what it draws for `--timeline`.
//! - `caller.rs`: the callerMain workload; `latency.rs`: its percentiles.
//! - `status.rs`: every node's status, for `kvctl status`.
//! - `metrics/`: `raft-node --metrics-addr`: Prometheus metrics, `/health`, `/ready`.
//! - `scale_bench/`: `scale-bench`, the whole cluster measured at a size.
//! - `chaos/`: `chaos`, a soak under kill -9, SIGSTOP and restarts, checked.
//! - `logging.rs`: timestamped, levelled log lines naming the node.
//! - `error_line.rs`: the one line a failing program prints.
//! - `interrupt.rs`: Ctrl-C for the tools that run a cluster.
//! - `timeline/`: a run drawn as one self-contained HTML page (the demo's, and the test
//!   harness's when a history is not linearizable).

pub mod caller;
pub mod chaos;
pub mod demo;
pub mod demo_timeline;
mod error_line;
mod interrupt;
pub mod latency;
pub mod local_cluster;
pub mod logging;
pub mod member;
pub mod metrics;
pub mod node;
pub mod scale_bench;
pub mod status;
pub mod timeline;

pub use error_line::error_line;
