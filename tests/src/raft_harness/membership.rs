//! Membership changes driven the way an operator would: find the leader,
//! ask it for one change, wait until it is committed.

use std::thread;
use std::time::{Duration, Instant};

use raft::{ChangeError, ConfChange, Configuration};

use super::cluster::RaftCluster;

/// How long a change may take, elections and retries included.
const CHANGE_TIME: Duration = Duration::from_secs(10);

impl RaftCluster {
    /// Asks whichever connected server leads for `change` and waits until
    /// it is committed; retries on another leader. The first error no
    /// retry can fix (an unknown id, a lagging learner) is returned.
    pub fn try_change(&self, change: &ConfChange) -> Result<u64, ChangeError> {
        self.change_retrying(change, |_| false)
    }

    /// `try_change`, also retrying the errors `retry_also` picks, all
    /// within one CHANGE_TIME.
    fn change_retrying(
        &self,
        change: &ConfChange,
        retry_also: impl Fn(&ChangeError) -> bool,
    ) -> Result<u64, ChangeError> {
        let started = Instant::now();
        loop {
            let leader = self
                .connected_rafts()
                .into_iter()
                .map(|(_, raft)| raft)
                .find(|raft| raft.get_state().1);
            let result = match leader {
                Some(raft) => raft.change_membership(change, Duration::from_secs(2)),
                None => Err(ChangeError::NotLeader),
            };
            let retry = |e: &ChangeError| {
                matches!(e, ChangeError::NotLeader | ChangeError::Timeout(_)) || retry_also(e)
            };
            match result {
                Err(e) if retry(&e) && started.elapsed() < CHANGE_TIME => {
                    thread::sleep(Duration::from_millis(50));
                }
                other => return other,
            }
        }
    }

    /// Like [`try_change`](Self::try_change); fails the test on an error.
    pub fn change(&self, change: ConfChange) -> u64 {
        self.try_change(&change)
            .unwrap_or_else(|e| panic!("{change} failed: {e}"))
    }

    /// Promotes learner `id` once the leader counts it caught up, and waits
    /// until that is committed. A learner that applied an entry may still
    /// be refused as lagging for a moment: the AppendEntries that brought
    /// the entry also brought the commit index, and the learner applies it
    /// before the leader has processed its reply. Fails the test on any
    /// other error, or if it still lags after CHANGE_TIME.
    pub fn promote(&self, id: usize) -> u64 {
        let lagging = |e: &ChangeError| matches!(e, ChangeError::Lagging { .. });
        self.change_retrying(&ConfChange::Promote { id }, lagging)
            .unwrap_or_else(|e| panic!("promote {id} failed: {e}"))
    }

    /// Server i's configuration in force, if it runs.
    pub fn configuration(&self, i: usize) -> Option<Configuration> {
        self.raft(i).map(|raft| raft.configuration().0)
    }

    /// Waits up to `limit` for server i to stop by itself; its reason.
    pub fn wait_stopped(&self, i: usize, limit: Duration) -> Option<String> {
        self.raft(i).and_then(|raft| raft.wait_failure(limit))
    }
}
