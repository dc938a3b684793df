//! A node's state under its one mutex: role, terms, the log, volatile
//! indexes, per-peer progress, and the role transitions (Figure 2).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::{Duration, Instant};

use rand::Rng;

use crate::config::RaftConfig;
use crate::leadership::Handover;
use crate::log::Log;
pub(crate) use crate::members::Farewell;
use crate::membership::{Configuration, History};
use crate::read_index::ReadQueue;
use crate::sender::LANES;
use crate::transfer::Transfer;
use crate::{HardState, SnapshotData};

/// What a node is doing in the current term.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Follower,
    /// Asking for pre-votes before it disturbs anyone (thesis §9.6).
    PreCandidate,
    Candidate,
    Leader,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Follower => "Follower",
            Role::PreCandidate => "PreCandidate",
            Role::Candidate => "Candidate",
            Role::Leader => "Leader",
        })
    }
}

/// A consistent snapshot of a node's state for operators and tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RaftStatus {
    pub me: usize,
    pub role: Role,
    pub term: u64,
    pub commit_index: u64,
    pub last_applied: u64,
    pub last_log_index: u64,
    pub snapshot_index: u64,
    pub leader: Option<usize>,
    pub raft_state_bytes: u64,
    /// The configuration in force (the latest in the log).
    pub configuration: Configuration,
}

/// What a leader knows about one follower (§5.3).
#[derive(Clone, Debug)]
pub(crate) struct Progress {
    /// The next entry to send.
    pub next_index: u64,
    /// The highest entry known to be replicated there; never goes back.
    pub match_index: u64,
    /// RPCs to this peer still waiting for their reply.
    pub inflight: usize,
    /// Whether one of them carries entries or a snapshot (at most one does).
    pub data_inflight: bool,
    /// When the last RPC carrying data went out.
    pub data_sent_at: Option<Instant>,
    /// Which of the peer's sender lanes are making one of them.
    pub lane_busy: [bool; LANES],
    /// When the last RPC went out (heartbeats are due `heartbeat_interval` later).
    pub last_send: Option<Instant>,
    /// When this peer last answered in the current term (check-quorum).
    pub last_ack: Instant,
    /// After a failed call, new entries wait for the next heartbeat slot
    /// instead of being retried at once against an unreachable peer.
    pub backoff: bool,
    /// The read round (see `read_index.rs`) of the last RPC sent here, and
    /// the highest one this peer answered in the current term.
    pub round_sent: u64,
    pub round_acked: u64,
    /// A heartbeat sent to confirm reads is out: later reads wait for its
    /// answer and share the next one.
    pub read_probe_inflight: bool,
    /// A snapshot being streamed to this peer, chunk by chunk.
    pub transfer: Option<Transfer>,
}

impl Progress {
    /// Whether the replicator sends entries as soon as they exist: nothing
    /// of its data is out and it is not backing off from a failed call.
    pub(crate) fn sends_new_entries_now(&self) -> bool {
        !self.data_inflight && !self.backoff
    }

    pub(crate) fn new(next_index: u64, now: Instant) -> Self {
        Self {
            next_index,
            match_index: 0,
            inflight: 0,
            data_inflight: false,
            data_sent_at: None,
            lane_busy: [false; LANES],
            last_send: None,
            last_ack: now,
            backoff: false,
            round_sent: 0,
            round_acked: 0,
            read_probe_inflight: false,
            transfer: None,
        }
    }
}

/// A snapshot received from a leader that the applier has yet to deliver.
pub(crate) struct PendingSnapshot {
    pub index: u64,
    pub term: u64,
    pub data: SnapshotData,
}

pub(crate) struct State {
    pub me: usize,
    pub role: Role,
    // Persistent state (Figure 2), written through the persister.
    pub current_term: u64,
    pub voted_for: Option<usize>,
    pub log: Log,
    /// The latest snapshot, streamed to followers that lag behind it.
    pub snapshot: Option<SnapshotData>,

    // Volatile state on all servers.
    pub commit_index: u64,
    pub last_applied: u64,
    pub leader: Option<usize>,
    pub pending_snapshot: Option<PendingSnapshot>,

    // How much of the state the persister holds. Invariant: the persister's
    // log equals `log` through `written_index`; through `durable_index` it
    // is synced. `hard_dirty` means term/vote changed since the last save.
    pub written_index: u64,
    pub durable_index: u64,
    pub hard_dirty: bool,
    /// Entries the persister must drop (from this index on) at the next persist.
    pub pending_truncate: Option<u64>,
    /// Bumped whenever written entries are truncated, so a log writer that
    /// synced entries which meanwhile vanished does not count them.
    pub log_epoch: u64,

    // Elections.
    pub election_deadline: Instant,
    pub last_leader_contact: Option<Instant>,
    /// Identifies the current (pre-)campaign, so late replies of an older
    /// one are not counted.
    pub campaign: u64,
    /// Who granted this campaign's (pre-)vote, the candidate included.
    pub granted: BTreeSet<usize>,

    /// The configurations of the snapshot and the log; the latest rules.
    pub membership: History,
    /// The set of members changed: the node's links to its peers (threads,
    /// transports) must follow, outside the state lock (`Inner::refresh_links`).
    pub links_stale: bool,
    /// Some configuration of this node's has held it (a joining node's
    /// has not, until its addition reaches it): only then can it be removed.
    pub member_seen: bool,
    /// Members a committed configuration removed, which this leader keeps
    /// telling the commit index (so they learn of their removal and stop)
    /// until one of them acknowledges it or the deadline passes.
    pub farewells: BTreeMap<usize, Farewell>,
    /// A leadership transfer under way: no new commands meanwhile (§3.10).
    pub handover: Option<Handover>,
    /// The deadline of the transfer that ended when this node stepped
    /// down, so the transferring caller knows how long to wait for news.
    pub handover_ended: Option<Instant>,

    // Volatile state on leaders (kept for every other member, so a new
    // leader and a new member start from fresh progress).
    pub progress: BTreeMap<usize, Progress>,
    pub quorum_check_at: Instant,
    /// Reads waiting for a majority to confirm this leader (§6.4).
    pub reads: ReadQueue,

    pub dead: bool,
}

impl State {
    /// A node's state after recovery: `base` is the configuration in force
    /// at the log's snapshot index; configuration entries in `log` follow it.
    pub fn new(me: usize, base: Configuration, log: Log, hard: HardState, now: Instant) -> Self {
        let last = log.last_index();
        let snap = log.snapshot_index();
        let mut membership = History::new(snap, base);
        for e in log.range(snap + 1, last) {
            if let Some(c) = &e.config {
                match Configuration::from_proto(c) {
                    Ok(c) => membership.push(e.log_index, c),
                    Err(err) => {
                        tracing::error!(me, index = e.log_index, %err, "bad configuration entry")
                    }
                }
            }
        }
        let mut st = Self {
            me,
            role: Role::Follower,
            current_term: hard.current_term,
            voted_for: hard.voted_for.map(|v| v as usize),
            log,
            snapshot: None,
            commit_index: snap,
            last_applied: snap,
            leader: None,
            pending_snapshot: None,
            written_index: last,
            durable_index: last,
            hard_dirty: false,
            pending_truncate: None,
            log_epoch: 0,
            election_deadline: now,
            last_leader_contact: None,
            campaign: 0,
            granted: BTreeSet::new(),
            membership,
            links_stale: true,
            member_seen: false,
            farewells: BTreeMap::new(),
            handover: None,
            handover_ended: None,
            progress: BTreeMap::new(),
            quorum_check_at: now,
            reads: ReadQueue::default(),
            dead: false,
        };
        st.sync_progress(now);
        st
    }

    pub fn hard_state(&self) -> HardState {
        HardState {
            current_term: self.current_term,
            voted_for: self.voted_for.map(|v| v as u32),
        }
    }

    pub fn reset_election_deadline(&mut self, config: &RaftConfig, now: Instant) {
        self.election_deadline = now + random_timeout(config);
    }

    /// Drops log entries from `from` on, keeping the persister bookkeeping
    /// straight (the persister truncates at the next persist).
    pub fn truncate_log(&mut self, from: u64) {
        self.log.truncate_from(from);
        if self.membership.truncate_from(from) {
            // §4.1: a node uses the latest configuration in its log, so
            // dropping one reverts to the one before.
            tracing::info!(me = self.me, config = %self.config(), "configuration reverts");
            self.sync_progress(Instant::now());
        }
        if from <= self.written_index {
            self.pending_truncate = Some(self.pending_truncate.map_or(from, |t| t.min(from)));
            self.written_index = from - 1;
            self.durable_index = self.durable_index.min(from - 1);
            self.log_epoch += 1;
        }
    }

    /// Adopts `term` if it is newer (§5.1: "If RPC request or response
    /// contains term T > currentTerm: set currentTerm = T, convert to
    /// follower"), forgetting the vote of the older term.
    pub fn observe_term(&mut self, term: u64, config: &RaftConfig, now: Instant) -> bool {
        if term <= self.current_term {
            return false;
        }
        tracing::debug!(
            me = self.me,
            from = self.current_term,
            to = term,
            "term changes"
        );
        self.current_term = term;
        self.voted_for = None;
        self.hard_dirty = true;
        self.leader = None;
        self.become_follower(config, now);
        true
    }

    pub fn become_follower(&mut self, config: &RaftConfig, now: Instant) {
        if self.role != Role::Follower {
            tracing::info!(me = self.me, term = self.current_term, from = %self.role, "becomes follower");
            if self.role == Role::Leader {
                self.reset_election_deadline(config, now);
                self.reads.abandon();
                self.handover_ended = self.handover.take().map(|h| h.deadline);
                if !self.farewells.is_empty() {
                    self.farewells.clear();
                    self.sync_progress(now);
                }
            }
            self.role = Role::Follower;
        }
    }

    pub fn become_leader(&mut self, config: &RaftConfig, now: Instant) {
        tracing::info!(
            me = self.me,
            term = self.current_term,
            last_index = self.log.last_index(),
            "becomes leader"
        );
        self.role = Role::Leader;
        self.leader = Some(self.me);
        let next = self.log.last_index() + 1;
        for p in self.progress.values_mut() {
            p.next_index = next;
            p.match_index = 0;
            p.last_send = None;
            p.last_ack = now;
            p.backoff = false;
            p.round_sent = 0;
            p.round_acked = 0;
            p.read_probe_inflight = false;
            p.transfer = None;
        }
        self.quorum_check_at = now + config.election_timeout_max;
    }

    /// The matchIndex of a member, the leader's own being what it has synced.
    pub fn match_index(&self, id: usize) -> u64 {
        if id == self.me {
            self.durable_index
        } else {
            self.progress.get(&id).map_or(0, |p| p.match_index)
        }
    }

    pub fn status(&self, raft_state_bytes: u64) -> RaftStatus {
        RaftStatus {
            me: self.me,
            role: self.role,
            term: self.current_term,
            commit_index: self.commit_index,
            last_applied: self.last_applied,
            last_log_index: self.log.last_index(),
            snapshot_index: self.log.snapshot_index(),
            leader: self.leader,
            raft_state_bytes,
            configuration: self.config().clone(),
        }
    }
}

/// A fresh election timeout, uniform in `[min, max]` (§5.2).
pub(crate) fn random_timeout(config: &RaftConfig) -> Duration {
    let lo = config.election_timeout_min.as_micros() as u64;
    let hi = (config.election_timeout_max.as_micros() as u64).max(lo);
    Duration::from_micros(rand::rng().random_range(lo..=hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three() -> Configuration {
        Configuration::voters_of((0..3).map(|i| (i, String::new())))
    }

    #[test]
    fn random_timeouts_stay_in_range() {
        let c = RaftConfig::default();
        for _ in 0..1000 {
            let t = random_timeout(&c);
            assert!(t >= c.election_timeout_min && t <= c.election_timeout_max);
        }
    }

    #[test]
    fn higher_term_forgets_the_vote_and_steps_down() {
        let c = RaftConfig::default();
        let now = Instant::now();
        let mut s = State::new(0, three(), Log::new(), HardState::default(), now);
        s.current_term = 2;
        s.voted_for = Some(0);
        s.role = Role::Leader;
        assert!(!s.observe_term(2, &c, now));
        assert!(s.observe_term(5, &c, now));
        assert_eq!(
            (s.current_term, s.voted_for, s.role),
            (5, None, Role::Follower)
        );
        assert!(s.hard_dirty);
    }

    #[test]
    fn truncating_written_entries_schedules_a_persister_truncate() {
        let now = Instant::now();
        let mut log = Log::new();
        for _ in 0..5 {
            log.append_new(1, vec![]);
        }
        let mut s = State::new(0, three(), log, HardState::default(), now);
        assert_eq!((s.written_index, s.durable_index), (5, 5));
        s.truncate_log(4);
        s.truncate_log(3);
        assert_eq!(s.pending_truncate, Some(3));
        assert_eq!((s.written_index, s.durable_index), (2, 2));
        s.log.append_new(1, vec![]);
        s.truncate_log(4); // never written: nothing for the persister to do
        assert_eq!(s.pending_truncate, Some(3));
    }
}
