//! The KvServer: a key-value store replicated by Raft (the original's
//! `kvServer.cpp`, over the skip list of `skipList.h`).
//!
//! - [`KvServer`] (`server.rs`): serves `kvServerRpc` and `adminRpc` for one
//!   Raft node; the applier thread applies committed entries and answers the
//!   requests waiting on them.
//! - `state_machine.rs`: the skip list and the dedup table; the pure apply step.
//! - `dedup.rs`: which writes each client already had applied.
//! - `op.rs`: the operation carried in log entries; `codec.rs`: its bytes.
//! - `waiters.rs`: requests parked until their entry applies.
//! - `admin.rs`: the node's status for operators.
//! - [`KvServerConfig`] (`config.rs`), [`KvServerError`] (`error.rs`).
//!
//! What changed from the original, and why:
//! - A request does not pin a thread while it waits: its `done` is parked by
//!   log index and answered by the applier when the entry applies, or by the
//!   sweeper when leadership is lost (ErrWrongLeader) or time runs out
//!   (ErrTimeout).
//! - Gets go through the log and read the state at their own index, so a
//!   deposed leader can never answer with a stale value. (The original read
//!   after waiting, and on a timeout answered from its local state.)
//! - Append appends; the original's overwrote the value.
//! - Dedup (`dedup.rs`) remembers each client's recent writes with a digest
//!   of what they do, not just its highest request id, so clients with
//!   concurrent requests or reused ids cannot lose acknowledged writes; the
//!   table is part of the snapshot, so a retried request is applied at most
//!   once even across restarts and InstallSnapshot.
//! - The service is built completely (Raft recovered, applier running)
//!   before anyone can call it: the original registered its RPC service
//!   before its Raft node existed, and a restarted node crashed.

mod admin;
mod codec;
mod config;
mod dedup;
mod error;
mod op;
mod server;
mod state_machine;
mod waiters;

pub use config::KvServerConfig;
pub use error::KvServerError;
pub use op::{Op, OpKind};
pub use server::KvServer;
pub use state_machine::KvStateMachine;
