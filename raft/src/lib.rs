//! The Raft consensus node of raftkv (the original's `src/raftCore`:
//! `raft.h`/`raft.cpp`, `Persister`, `ApplyMsg.h`, and `LockQueue` and
//! `DEFER` from `util.h`).
//!
//! A node is a [`Raft`] handle over one mutex-protected state, driven by
//! plain OS threads. The rules of Figure 2 of the Raft paper live in pure
//! functions over values (log matching, vote rules, the commit rule) that
//! are unit-tested without threads. Peers are reached through the
//! [`RaftPeer`] seam, storage through the [`Persister`] seam.
//!
//! - `node.rs`: the handle — `make`, `start`, `snapshot`, `shutdown`, `failure`,
//!   locking rules.
//! - `state.rs`: role, terms, volatile state, per-peer progress, role transitions.
//! - `log.rs`: the in-memory log, absolute indexes over a snapshot offset (§5.3).
//! - `membership/`: the cluster's configuration (voters, learners, addresses),
//!   single-server changes, and the quorum rules as pure functions of it.
//! - `reconfigure.rs`: the leader's side of a change (`propose_change`,
//!   `change_membership`); `envelope.rs`: the configuration at the head of
//!   every snapshot; `links.rs`: one link (transport, replicator, senders)
//!   per other member, following the configuration.
//! - `leadership.rs`: leadership transfer (TimeoutNow, thesis §3.10).
//! - `members.rs`: membership as the state sees it (who gets progress and
//!   links, what a committed configuration changes).
//! - `election.rs`: election timeout ticker, pre-vote, RequestVote (§5.2, §5.4.1).
//! - `replication.rs`: per-peer replicators, AppendEntries, commit rule (§5.3, §5.4.2).
//! - `sender.rs`: the threads that make a replicator's RPCs.
//! - `read_index.rs`: linearizable reads confirmed by a heartbeat round (thesis §6.4).
//! - `log_writer.rs`: the leader's group-commit log writer.
//! - `snapshot.rs`: the service's snapshots, written off every lock (§7).
//! - `transfer.rs`, `install.rs`: a snapshot streamed to a lagging follower
//!   in chunks, the leader's half and the follower's (Figure 13).
//! - `applier.rs`: the applier, feeding [`ApplyMsg`]s to the service.
//! - `peer.rs`: [`RaftPeer`], [`PeerError`], [`RpcPeer`]; `service.rs`: serving the handlers.
//! - `persister/`: the [`Persister`] trait, [`MemoryPersister`], [`FilePersister`].
//! - `limits.rs`: the largest command, derived from the RPC frame limit.
//! - `failure.rs`: why a node stopped by itself, for `Raft::failure`.
//! - `metrics.rs`: counters and latency histograms for monitoring ([`Raft::metrics`]).
//! - `config.rs`, `error.rs`, `lock_queue.rs`, `defer.rs`, `apply_msg.rs`.
//!
//! Threads of a node: the election ticker (sleeps until the election
//! deadline, or on a leader until the next quorum check); one replicator per
//! peer (woken by `start` and by replies; sleeps until the next heartbeat)
//! with two sender threads per peer that make its RPCs; the log writer
//! (woken by `start` on a leader; syncs batches); the applier (woken by
//! commit progress and installed snapshots).
//!
//! What we changed from the original, and why:
//! - It replicated only on its 25 ms heartbeat tick (about 24 ms per
//!   operation); here `start` wakes every replicator at once and each sends
//!   all missing entries in one AppendEntries.
//! - Its leader busy-spun a core between ticks; every thread here sleeps on
//!   a condvar until its deadline or its work arrives.
//! - Its persist re-serialized the whole log every time (and truncated the
//!   files at start-up); the [`Persister`] here is incremental, and the
//!   leader syncs many entries at once (group commit) off the state lock.
//! - Its vote counting raced; votes are counted per campaign under the lock.
//! - It served RPCs before it had finished initializing; [`Raft::make`]
//!   starts nothing until the recovered state is complete.
//! - It sent a snapshot in one message and held it in memory; here a
//!   snapshot lives in its file, is streamed in chunks to followers, and is
//!   written by the service while Raft keeps running.
//! - Reads need no log entry: [`Raft::read_index`] confirms leadership with
//!   one heartbeat round shared by every read that arrives meanwhile.
//! - Pre-vote and check-quorum (Ongaro's thesis §9.6, §6.2) keep a node
//!   returning from a partition from deposing a healthy leader.
//! - Its members were fixed by a config file; here membership is in the
//!   log (single-server changes, learners, removal of any member) and a
//!   leader can hand leadership over ([`Raft::transfer_leadership`]).

mod applier;
mod apply_msg;
mod config;
mod defer;
mod election;
mod envelope;
mod error;
mod failure;
mod install;
mod leadership;
pub mod limits;
mod links;
mod lock_queue;
pub mod log;
mod log_writer;
mod members;
pub mod membership;
pub mod metrics;
mod node;
mod peer;
pub mod persister;
mod read_index;
mod reconfigure;
mod replication;
mod sender;
mod service;
mod snapshot;
mod state;
mod transfer;

pub use apply_msg::ApplyMsg;
pub use config::RaftConfig;
pub use defer::Defer;
pub use error::{RaftError, StartError, TransferError};
pub use links::PeerFactory;
pub use lock_queue::LockQueue;
pub use membership::{ChangeError, ConfChange, Configuration, Member, MemberRole};
pub use node::{Cluster, Raft};
pub use peer::{PeerError, RaftPeer, RpcPeer};
pub use persister::memory::MemoryPersister;
pub use persister::FilePersister;
pub use persister::{
    HardState, PersistError, Persister, Recovered, SnapshotData, SnapshotMeta, SnapshotReader,
    SnapshotSource, SnapshotWriter, WriteAdapter,
};
pub use read_index::{OnConfirmed, ReadIndexError, ReadStart};
pub use state::{RaftStatus, Role};
