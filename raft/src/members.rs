//! Membership as a node's state sees it: the configuration in force, the
//! members it keeps progress for and links to, what a committed
//! configuration changes (farewells to removed members, this node's own
//! removal), and majorities of voters.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::membership::{quorum, Configuration};
use crate::state::{Progress, Role, State};

/// A removed member the leader still owes the news of its removal.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Farewell {
    /// The commit index that tells it (the removal's index or later).
    pub index: u64,
    pub until: Instant,
}

/// How long a leader keeps sending to a member whose removal committed, so
/// it learns of it (longer than a few heartbeats, shorter than anyone waits).
pub(crate) const FAREWELL_FOR: Duration = Duration::from_secs(2);

impl State {
    /// The configuration in force.
    pub fn config(&self) -> &Configuration {
        self.membership.current()
    }

    /// Whether this node may vote, campaign and count toward majorities.
    pub fn is_voter(&self) -> bool {
        self.config().is_voter(self.me)
    }

    /// The members this node keeps progress for and links to: those of the
    /// latest configuration and of the committed one (so a member being
    /// removed still hears that its removal committed), itself excluded.
    pub fn peer_ids(&self) -> BTreeSet<usize> {
        let committed = self.membership.at(self.commit_index);
        self.config()
            .ids()
            .chain(committed.ids())
            .chain(self.farewells.keys().copied())
            .filter(|&id| id != self.me)
            .collect()
    }

    /// Makes `progress` cover exactly [`peer_ids`](Self::peer_ids); a new
    /// member starts from the end of the log, as after an election.
    pub fn sync_progress(&mut self, now: Instant) {
        self.member_seen |= self.config().contains(self.me);
        let wanted = self.peer_ids();
        let before = self.progress.len();
        self.progress.retain(|id, _| wanted.contains(id));
        let mut changed = self.progress.len() != before;
        let next = self.log.last_index() + 1;
        for id in wanted {
            self.progress.entry(id).or_insert_with(|| {
                changed = true;
                Progress::new(next, now)
            });
        }
        self.links_stale |= changed;
    }

    /// Records the configuration entries among the log's entries from
    /// `from` on (just appended), which take effect at once (thesis §4.1).
    pub fn track_configs(&mut self, from: u64, now: Instant) {
        let mut found = false;
        for e in self.log.range(from, self.log.last_index()) {
            if let Some(c) = &e.config {
                match Configuration::from_proto(c) {
                    Ok(c) => {
                        tracing::info!(me = self.me, index = e.log_index, config = %c, "configuration changes");
                        self.membership.push(e.log_index, c);
                        found = true;
                    }
                    Err(err) => {
                        tracing::error!(me = self.me, index = e.log_index, %err, "bad configuration entry")
                    }
                }
            }
        }
        if found {
            self.sync_progress(now);
        }
    }

    /// Moves the commit index forward to `to` (never back); a committed
    /// configuration changes who still gets the log.
    pub fn advance_commit(&mut self, to: u64) -> bool {
        if to <= self.commit_index {
            return false;
        }
        let before = self.commit_index;
        self.commit_index = to;
        let index = self.membership.current_index();
        if index > before && self.membership.at(before) != self.membership.at(to) {
            let now = Instant::now();
            if self.role == Role::Leader {
                let (old, new) = (self.membership.at(before), self.membership.at(to));
                let gone: Vec<usize> = old
                    .ids()
                    .filter(|&id| id != self.me && !new.contains(id) && !self.config().contains(id))
                    .collect();
                for id in gone {
                    let until = now + FAREWELL_FOR;
                    self.farewells.insert(id, Farewell { index: to, until });
                }
            }
            self.sync_progress(now);
        }
        true
    }

    /// The index of the committed configuration that removed this node,
    /// if it has been removed for good: neither the committed nor the
    /// latest configuration holds it, though an earlier one did (a joining
    /// node replays configurations from before its addition).
    pub fn removed_at(&self) -> Option<u64> {
        let committed = self.membership.at(self.commit_index);
        let gone =
            self.member_seen && !committed.contains(self.me) && !self.config().contains(self.me);
        gone.then(|| self.membership.current_index())
    }

    /// Until when a transfer started in this node's leadership may still
    /// be waited for (`fallback` from now if none is known).
    pub fn handover_deadline(&self, now: Instant, fallback: Duration) -> Instant {
        self.handover
            .map(|h| h.deadline)
            .or(self.handover_ended)
            .unwrap_or(now + fallback)
    }

    /// Ends the farewell to `id` (it heard, or it is too late); true if
    /// there was one.
    pub fn end_farewell(&mut self, id: usize) -> bool {
        if self.farewells.remove(&id).is_none() {
            return false;
        }
        self.sync_progress(Instant::now());
        true
    }

    /// Whether the voters among `yes` (this node included when it says so)
    /// are a majority of the configuration in force.
    pub fn is_majority(&self, yes: impl Fn(usize) -> bool) -> bool {
        quorum::is_majority(self.config(), yes)
    }
}
