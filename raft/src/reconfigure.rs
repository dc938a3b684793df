//! The leader's side of a membership change: checks that the change may
//! start now (one at a time, after a commit in the leader's term, a
//! promoted learner caught up), appends the configuration entry, and
//! waits for it to commit. The rules themselves are in `membership/`.

use std::time::{Duration, Instant};

use crate::config::PROMOTE_MAX_LAG;
use crate::membership::{apply_change, caught_up, ChangeError, ConfChange, Configuration};
use crate::node::Raft;
use crate::state::Role;

/// How often a waiting change looks at the commit index again.
const POLL: Duration = Duration::from_millis(5);

impl Raft {
    /// Appends the configuration entry for `change` if this node leads and
    /// the change may start now; returns its (index, term). It is in force
    /// at once (thesis §4.1) and done once committed.
    pub fn propose_change(&self, change: &ConfChange) -> Result<(u64, u64), ChangeError> {
        let inner = &self.inner;
        let mut st = inner.state.lock();
        if st.dead || st.role != Role::Leader {
            return Err(ChangeError::NotLeader);
        }
        if st.handover.is_some() {
            return Err(ChangeError::NotReady);
        }
        let term = st.current_term;
        if st.log.term(st.commit_index) != Some(term) {
            // An earlier leader's change may be uncommitted in some log;
            // until an entry of this term commits, this leader cannot know
            // which configuration a majority holds (the thesis' one-change
            // rule, as corrected). Restating the configuration in force
            // commits one without changing who votes (this leader appends
            // no no-op of its own), and commits any change before it.
            if st.log.last_term() != term {
                let same = st.config().to_proto();
                let index = st.log.append_config(term, same);
                st.track_configs(index, Instant::now());
                drop(st);
                inner.writer_cv.notify_one();
                inner.wake_replicators();
            }
            return Err(ChangeError::NotReady);
        }
        // Checked against the configuration in force (the latest).
        let next = apply_change(st.config(), change)?;
        if let Some(index) = st.membership.pending(st.commit_index) {
            return Err(ChangeError::Pending(index));
        }
        if let ConfChange::Promote { id } = change {
            let window = inner.config.election_timeout_max;
            let now = Instant::now();
            let last = st.log.last_index();
            // A learner that never acknowledged an entry (its match index
            // is 0, as after a leader change) has not been heard from yet.
            let (matched, recent) = st.progress.get(id).map_or((0, false), |p| {
                let heard = p.match_index > 0 && now.duration_since(p.last_ack) <= window;
                (p.match_index, heard)
            });
            if !caught_up(matched, last, PROMOTE_MAX_LAG, recent) {
                return Err(ChangeError::Lagging {
                    id: *id,
                    matched,
                    last,
                });
            }
        }
        let index = st.log.append_config(term, next.to_proto());
        tracing::info!(me = inner.me, index, %change, config = %next, "proposes a membership change");
        st.track_configs(index, Instant::now());
        let stale = st.links_stale;
        drop(st);
        if stale {
            inner.refresh_links();
        }
        inner.writer_cv.notify_one();
        inner.wake_replicators();
        Ok((index, term))
    }

    /// Proposes `change` and waits until it is committed, retrying while
    /// the leader is not ready or another change is pending, for at most
    /// `timeout`. Returns the configuration's log index.
    pub fn change_membership(
        &self,
        change: &ConfChange,
        timeout: Duration,
    ) -> Result<u64, ChangeError> {
        let deadline = Instant::now() + timeout;
        let (index, term) = loop {
            match self.propose_change(change) {
                Ok(at) => break at,
                Err(ChangeError::NotReady | ChangeError::Pending(_))
                    if Instant::now() < deadline =>
                {
                    std::thread::sleep(POLL)
                }
                Err(ChangeError::NotReady | ChangeError::Pending(_)) => {
                    return Err(ChangeError::Timeout(timeout))
                }
                Err(e) => return Err(e),
            }
        };
        loop {
            {
                let st = self.inner.state.lock();
                if st.commit_index >= index {
                    // Committed, unless another leader replaced our entry.
                    // Compacted into a snapshot meanwhile, it is ours if the
                    // term never moved: no other leader had that term.
                    let ours = match st.log.term(index) {
                        Some(t) => t == term,
                        None => st.current_term == term,
                    };
                    return if ours {
                        Ok(index)
                    } else {
                        Err(ChangeError::NotLeader)
                    };
                }
                if st.dead || st.current_term != term {
                    return Err(ChangeError::NotLeader);
                }
            }
            if Instant::now() >= deadline {
                return Err(ChangeError::Timeout(timeout));
            }
            std::thread::sleep(POLL);
        }
    }

    /// Whether this node was removed from the cluster by a committed
    /// configuration (it then stops by itself; see [`failure`](Self::failure)).
    pub fn is_removed(&self) -> bool {
        self.inner.state.lock().removed_at().is_some()
    }

    /// The configuration in force on this node, and whether it is committed.
    pub fn configuration(&self) -> (Configuration, bool) {
        let st = self.inner.state.lock();
        let committed = st.membership.pending(st.commit_index).is_none();
        (st.config().clone(), committed)
    }
}
