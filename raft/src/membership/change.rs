//! One single-server membership change, applied to a configuration as a
//! value, and the reasons a leader refuses one.
//!
//! Every change moves at most one voter in or out (a learner is added
//! without a vote, then promoted), so the old and new majorities always
//! overlap (thesis §4.2) and a configuration may take effect as soon as
//! its entry is in a node's log.

use std::fmt;

use super::{Configuration, MemberRole};

/// A change an operator asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfChange {
    /// A new member that receives the log but does not vote.
    AddLearner { id: usize, address: String },
    /// A caught-up learner becomes a voter.
    Promote { id: usize },
    /// Any member leaves, the leader included.
    Remove { id: usize },
}

impl ConfChange {
    /// The member the change is about.
    pub fn id(&self) -> usize {
        match self {
            ConfChange::AddLearner { id, .. }
            | ConfChange::Promote { id }
            | ConfChange::Remove { id } => *id,
        }
    }
}

impl fmt::Display for ConfChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfChange::AddLearner { id, address } => write!(f, "add learner {id} at {address}"),
            ConfChange::Promote { id } => write!(f, "promote {id}"),
            ConfChange::Remove { id } => write!(f, "remove {id}"),
        }
    }
}

/// Why a membership change was refused; nothing entered the log.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    #[error("not the leader")]
    NotLeader,
    #[error("member {0} is already in the configuration")]
    AlreadyMember(usize),
    #[error("member {0} is not in the configuration")]
    UnknownMember(usize),
    #[error("member {0} is already a voter")]
    AlreadyVoter(usize),
    #[error("member {0} is the last voter; removing it would leave no one to decide")]
    LastVoter(usize),
    #[error("an address is needed: {0:?} is not HOST:PORT")]
    BadAddress(String),
    /// One change at a time (thesis §4.1): the previous one must commit first.
    #[error("another membership change (log index {0}) is not committed yet; retry when it is")]
    Pending(u64),
    /// The leader has not committed an entry of its own term yet, so an
    /// earlier leader's uncommitted change may still be in force somewhere.
    #[error("the leader has not committed an entry of its term yet; retry in a moment")]
    NotReady,
    #[error(
        "learner {id} lags: it has index {matched}, the leader {last}; retry once it has caught up"
    )]
    Lagging { id: usize, matched: u64, last: u64 },
    /// The change did not commit in time; it may still commit later.
    #[error("the change was not committed within {0:?}; check `member list`")]
    Timeout(std::time::Duration),
}

/// The configuration after `change`, or why the change is invalid for
/// `config` (the leader's checks of timing and lag come separately).
pub fn apply_change(
    config: &Configuration,
    change: &ConfChange,
) -> Result<Configuration, ChangeError> {
    let mut next = config.clone();
    match change {
        ConfChange::AddLearner { id, address } => {
            if config.contains(*id) {
                return Err(ChangeError::AlreadyMember(*id));
            }
            if !is_host_port(address) {
                return Err(ChangeError::BadAddress(address.clone()));
            }
            next.set(*id, address.clone(), MemberRole::Learner);
        }
        ConfChange::Promote { id } => match config.role(*id) {
            None => return Err(ChangeError::UnknownMember(*id)),
            Some(MemberRole::Voter) => return Err(ChangeError::AlreadyVoter(*id)),
            Some(MemberRole::Learner) => {
                let address = config.address(*id).unwrap_or_default().to_string();
                next.set(*id, address, MemberRole::Voter);
            }
        },
        ConfChange::Remove { id } => match config.role(*id) {
            None => return Err(ChangeError::UnknownMember(*id)),
            Some(MemberRole::Voter) if config.voter_count() == 1 => {
                return Err(ChangeError::LastVoter(*id))
            }
            Some(_) => {
                next.remove(*id);
            }
        },
    }
    Ok(next)
}

/// `HOST:PORT` with a non-empty host and a numeric port.
fn is_host_port(address: &str) -> bool {
    match address.rsplit_once(':') {
        Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok(),
        None => false,
    }
}

/// Whether a learner is close enough to the leader to be promoted: its
/// match index within `max_lag` entries of the leader's last index, and an
/// answer heard within the last round (`answered_recently`). A learner
/// promoted while far behind would count toward majorities it cannot yet
/// help form, and could stall commits (thesis §4.2.1).
pub(crate) fn caught_up(
    matched: u64,
    last_index: u64,
    max_lag: u64,
    answered_recently: bool,
) -> bool {
    answered_recently && matched.saturating_add(max_lag) >= last_index
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::membership::configuration::tests::conf;

    #[test]
    fn add_learner_then_promote_then_remove() {
        let c = conf(&[0, 1, 2], &[]);
        let add = ConfChange::AddLearner {
            id: 3,
            address: "10.0.0.4:29016".into(),
        };
        let c = apply_change(&c, &add).unwrap();
        assert!(c.is_learner(3));
        assert_eq!(c.address(3), Some("10.0.0.4:29016"));
        let c = apply_change(&c, &ConfChange::Promote { id: 3 }).unwrap();
        assert!(c.is_voter(3));
        assert_eq!(c.address(3), Some("10.0.0.4:29016"));
        let c = apply_change(&c, &ConfChange::Remove { id: 1 }).unwrap();
        assert_eq!(c.voters().collect::<Vec<_>>(), vec![0, 2, 3]);
    }

    #[test]
    fn every_change_moves_at_most_one_voter() {
        let c = conf(&[0, 1, 2], &[3]);
        let changes = [
            ConfChange::AddLearner {
                id: 4,
                address: "h:1".into(),
            },
            ConfChange::Promote { id: 3 },
            ConfChange::Remove { id: 0 },
            ConfChange::Remove { id: 3 },
        ];
        for change in &changes {
            let next = apply_change(&c, change).unwrap();
            let before: Vec<usize> = c.voters().collect();
            let after: Vec<usize> = next.voters().collect();
            let moved = before.iter().filter(|v| !after.contains(v)).count()
                + after.iter().filter(|v| !before.contains(v)).count();
            assert!(moved <= 1, "{change} moved {moved} voters");
        }
    }

    #[test]
    fn refusals() {
        let c = conf(&[0, 1], &[3]);
        let add = |id: usize, address: &str| ConfChange::AddLearner {
            id,
            address: address.into(),
        };
        assert_eq!(
            apply_change(&c, &add(1, "h:1")),
            Err(ChangeError::AlreadyMember(1))
        );
        assert_eq!(
            apply_change(&c, &add(3, "h:1")),
            Err(ChangeError::AlreadyMember(3))
        );
        assert_eq!(
            apply_change(&c, &add(5, "nohost")),
            Err(ChangeError::BadAddress("nohost".into()))
        );
        assert!(apply_change(&c, &add(5, ":80")).is_err());
        assert!(apply_change(&c, &add(5, "h:99999")).is_err());
        assert_eq!(
            apply_change(&c, &ConfChange::Promote { id: 9 }),
            Err(ChangeError::UnknownMember(9))
        );
        assert_eq!(
            apply_change(&c, &ConfChange::Promote { id: 0 }),
            Err(ChangeError::AlreadyVoter(0))
        );
        assert_eq!(
            apply_change(&c, &ConfChange::Remove { id: 9 }),
            Err(ChangeError::UnknownMember(9))
        );
        let single = conf(&[0], &[3]);
        assert_eq!(
            apply_change(&single, &ConfChange::Remove { id: 0 }),
            Err(ChangeError::LastVoter(0))
        );
        // The last voter's learners may still go.
        assert!(apply_change(&single, &ConfChange::Remove { id: 3 }).is_ok());
    }

    #[test]
    fn caught_up_needs_a_small_lag_and_a_recent_answer() {
        assert!(caught_up(95, 100, 10, true));
        assert!(caught_up(100, 100, 0, true));
        assert!(!caught_up(80, 100, 10, true));
        assert!(!caught_up(100, 100, 10, false));
    }
}
