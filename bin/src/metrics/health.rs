//! When a node is healthy (`/health`) and ready (`/ready`): pure decisions
//! over what the node reports, and the probes that ask it.
//!
//! Healthy: the process runs and its Raft has neither stopped by itself (a
//! persist failure, a panicked thread, an entry it cannot apply) nor been
//! shut down. Ready: healthy, it knows a leader, and its state machine has
//! applied through the commit index it had heard of when asked — so a read
//! it serves, or a write it forwards, is not held up by catching up.

use std::time::{Duration, Instant};

use kvserver::KvServer;

/// What `/health` says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    /// Running, its Raft alive.
    Alive,
    /// Raft stopped by itself, for this reason; the process is about to exit.
    Failed(String),
    /// Raft was shut down: the node is stopping.
    Stopped,
}

/// What `/ready` says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Readiness {
    Ready {
        leader: usize,
        applied: u64,
        commit: u64,
    },
    /// Not healthy, so not ready either.
    Unhealthy(Health),
    /// It knows no leader (an election is under way, or it is cut off).
    NoLeader,
    /// It has not applied everything it knows committed yet.
    Behind { applied: u64, commit: u64 },
}

/// An HTTP status code and a one-line body.
pub type Answer = (u16, String);

/// The health of a node whose Raft reports `failure` and `stopped`.
pub fn health(failure: Option<String>, stopped: bool) -> Health {
    match failure {
        Some(reason) => Health::Failed(reason),
        None if stopped => Health::Stopped,
        None => Health::Alive,
    }
}

/// Whether a node is ready, from its health, the leader it knows, the
/// commit index it has heard of and the index it has applied.
pub fn readiness(health: Health, leader: Option<usize>, commit: u64, applied: u64) -> Readiness {
    if health != Health::Alive {
        return Readiness::Unhealthy(health);
    }
    match leader {
        None => Readiness::NoLeader,
        Some(_) if applied < commit => Readiness::Behind { applied, commit },
        Some(leader) => Readiness::Ready {
            leader,
            applied,
            commit,
        },
    }
}

impl Health {
    /// 200 when alive, 503 otherwise, with a line saying why.
    pub fn answer(&self) -> Answer {
        match self {
            Health::Alive => (200, "alive".into()),
            Health::Failed(reason) => (503, format!("failed: {reason}")),
            Health::Stopped => (503, "stopped".into()),
        }
    }
}

impl Readiness {
    /// 200 when ready, 503 otherwise, with a line saying why.
    pub fn answer(&self) -> Answer {
        match self {
            Readiness::Ready {
                leader,
                applied,
                commit,
            } => (
                200,
                format!("ready: leader {leader}, applied {applied} of commit index {commit}"),
            ),
            Readiness::Unhealthy(health) => (503, format!("not ready: {}", health.answer().1)),
            Readiness::NoLeader => (503, "not ready: no known leader".into()),
            Readiness::Behind { applied, commit } => (
                503,
                format!("not ready: applied {applied} of commit index {commit}"),
            ),
        }
    }
}

/// How long `/ready` waits for the state machine to reach the commit index
/// it read: on a busy node the applier trails the commit index by a few
/// entries at any instant, which is no reason to say "not ready"; a node
/// still catching up after a restart is far behind for much longer.
pub const READY_PATIENCE: Duration = Duration::from_millis(500);

/// How often `/ready` looks again while it waits.
const READY_POLL: Duration = Duration::from_millis(2);

/// Asks `kv` how healthy it is.
pub fn check_health(kv: &KvServer) -> Health {
    health(kv.failure(), kv.raft().is_stopped())
}

/// Asks `kv` whether it is ready, waiting up to `patience` for its state
/// machine to apply through the commit index it reported first.
pub fn check_ready(kv: &KvServer, patience: Duration) -> Readiness {
    let status = kv.raft().status();
    let deadline = Instant::now() + patience;
    loop {
        let verdict = readiness(
            check_health(kv),
            status.leader,
            status.commit_index,
            kv.last_applied(),
        );
        if !matches!(verdict, Readiness::Behind { .. }) || Instant::now() >= deadline {
            return verdict;
        }
        std::thread::sleep(READY_POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_is_alive_until_raft_fails_or_stops() {
        assert_eq!(health(None, false), Health::Alive);
        assert_eq!(health(None, true), Health::Stopped);
        // A failed node is stopped too; the reason is what matters.
        assert_eq!(
            health(Some("disk full".into()), true),
            Health::Failed("disk full".into())
        );
        assert_eq!(Health::Alive.answer().0, 200);
        assert_eq!(Health::Stopped.answer().0, 503);
        let failed = Health::Failed("persister failed: EIO".into()).answer();
        assert_eq!(failed, (503, "failed: persister failed: EIO".into()));
    }

    #[test]
    fn ready_needs_health_a_leader_and_everything_committed_applied() {
        let ready = readiness(Health::Alive, Some(2), 40, 40);
        assert_eq!(
            ready,
            Readiness::Ready {
                leader: 2,
                applied: 40,
                commit: 40
            }
        );
        assert_eq!(ready.answer().0, 200);
        assert_eq!(readiness(Health::Alive, None, 40, 40), Readiness::NoLeader);
        assert_eq!(
            readiness(Health::Alive, Some(0), 41, 40),
            Readiness::Behind {
                applied: 40,
                commit: 41
            }
        );
        assert_eq!(
            readiness(Health::Stopped, Some(0), 40, 40),
            Readiness::Unhealthy(Health::Stopped)
        );
        for not_ready in [
            readiness(Health::Alive, None, 0, 0),
            readiness(Health::Alive, Some(1), 9, 3),
            readiness(Health::Failed("x".into()), Some(1), 3, 3),
        ] {
            assert_eq!(not_ready.answer().0, 503, "{not_ready:?}");
        }
        assert_eq!(
            readiness(Health::Alive, Some(1), 9, 3).answer().1,
            "not ready: applied 3 of commit index 9"
        );
    }
}
