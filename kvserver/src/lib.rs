//! The KvServer: a key-value store replicated by Raft (the original's
//! `kvServer.cpp`, over the skip list of `skipList.h`).
//!
//! - [`KvServer`] (`server.rs`): serves `kvServerRpc` and `adminRpc` for one
//!   Raft node; the applier thread applies committed entries and answers the
//!   requests waiting on them; `server/reads.rs` holds its read path
//!   (ReadIndex).
//! - `state_machine.rs`: the skip list and the dedup table; the pure apply
//!   step (Get, Put, Append, Delete, Cas). `scan.rs`: one Scan page, cut to
//!   the client's limit and to one reply frame.
//! - `dedup.rs`: client sessions (which writes each client already had
//!   applied) and their deterministic expiry; `dedup/session.rs`: one
//!   session's window of request ids; `dedup/replies.rs`: what each
//!   session's latest Delete or Cas decided, told again to its retries.
//! - `snapshot.rs`: the snapshot format, written and read as a stream.
//! - `op.rs`: the operation carried in log entries, stamped with the
//!   leader's clock; `codec.rs`: its bytes.
//! - `waiters.rs`: requests parked until their entry applies;
//!   `read_waiters.rs`: reads (Gets, Scans) parked until their read index is confirmed
//!   and applied.
//! - `admin.rs`: the node's status for operators; `metrics.rs`: request
//!   latencies and snapshots counted for monitoring ([`KvServer::metrics`]).
//! - [`KvServerConfig`] (`config.rs`, with the size limits derived from
//!   `raft::limits`), [`KvServerError`] (`error.rs`).
//!
//! What changed from the original, and why:
//! - A request does not pin a thread while it waits: its `done` is parked by
//!   log index and answered by the applier when the entry applies, or by the
//!   sweeper when leadership is lost (ErrWrongLeader) or time runs out
//!   (ErrTimeout).
//! - Gets take no log entry, no fsync and no commit: the leader confirms it
//!   is still the leader with one heartbeat round (ReadIndex, thesis §6.4,
//!   shared by every Get that arrives meanwhile), then reads once it has
//!   applied through its commit index of that moment. A deposed or paused
//!   leader can never answer with a stale value. (The original put Gets in
//!   the log, yet on a timeout answered from its local state anyway.) A new
//!   leader that has not committed an entry of its term yet puts Gets
//!   through the log, which commits one.
//! - Append appends; the original's overwrote the value.
//! - Delete, Scan and compare-and-swap (Cas), which the original lacked.
//!   Delete and Cas are writes, applied exactly once; a retry is told what
//!   the first attempt decided (kept per session). Scan is a read like Get
//!   (ReadIndex): a page is one consistent view, capped by a limit (default
//!   [`DEFAULT_SCAN_LIMIT`]) and by bytes ([`SCAN_PAGE_BYTES`]).
//! - Dedup (`dedup.rs`) keeps, per client session, the highest applied
//!   request id and a 64-bit bitmap of the ids below it, so a write is
//!   applied at most once however late a copy of it arrives, and a client
//!   may have several requests in flight. A copy too old to judge is
//!   refused with ErrSessionExpired and applies nothing. Sessions expire
//!   deterministically: each entry carries the leader's clock, the state
//!   machine keeps the largest stamp as its "log time", and forgets
//!   sessions idle longer than `KvServerConfig::session_ttl` (default 1 h)
//!   or beyond `max_sessions` (default 100 000, least recently used first);
//!   both must be equal on every node. A forgotten session leaves a small
//!   tombstone that refuses late copies of its writes. (The original kept a
//!   highest request id per client forever.) Sessions and tombstones are
//!   part of the snapshot, so all of this holds across restarts and
//!   InstallSnapshot.
//! - An entry or snapshot the applier cannot decode stops the node with an
//!   error; the original skipped it and applied what followed onto the
//!   wrong state.
//! - Sizes are bounded: a key or value over the node's limits is refused
//!   with ErrTooLarge before it reaches Raft, and an Append that would grow
//!   a value past what one reply frame carries is refused when it applies.
//!   The original took any size, and a large enough write stopped Raft.
//! - A server that cannot go on says why ([`KvServer::failure`]), so its
//!   process can exit instead of answering ErrWrongLeader forever.
//! - The service is built completely (Raft recovered, applier running)
//!   before anyone can call it: the original registered its RPC service
//!   before its Raft node existed, and a restarted node crashed.

mod admin;
mod codec;
mod config;
mod dedup;
mod error;
pub mod metrics;
mod op;
mod read_waiters;
mod scan;
mod server;
mod snapshot;
mod state_machine;
mod waiters;

pub use config::{
    KvServerConfig, DEFAULT_MAX_KEY_BYTES, DEFAULT_MAX_VALUE_BYTES, DEFAULT_SCAN_LIMIT,
    MAX_KEY_AND_VALUE_BYTES, MAX_SCAN_REPLY_BYTES, MAX_STORED_VALUE_BYTES, SCAN_PAGE_BYTES,
};
pub use dedup::{Decision, SessionLimits, WINDOW as DEDUP_WINDOW};
pub use error::KvServerError;
pub use op::{Command, Op, OpKind};
pub use scan::{Page, ScanQuery};
pub use server::KvServer;
pub use snapshot::FrozenState;
pub use state_machine::{KvStateMachine, Outcome};
