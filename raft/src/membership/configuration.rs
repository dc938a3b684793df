//! A cluster configuration: every member's id, address and role.

use std::collections::BTreeMap;
use std::fmt;

/// Whether a member votes and counts toward quorums.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemberRole {
    /// Votes, may lead, and counts toward every majority.
    Voter,
    /// Receives the log and snapshots; never votes, never counts, never
    /// campaigns. A new server catches up as a learner before it votes.
    Learner,
}

impl fmt::Display for MemberRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MemberRole::Voter => "voter",
            MemberRole::Learner => "learner",
        })
    }
}

/// One member of a configuration.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Member {
    pub id: usize,
    /// `HOST:PORT` the member's Raft and KV services listen on; empty when
    /// the configuration was built from ids alone (tests, the simulated network).
    pub address: String,
    pub role: MemberRole,
}

/// The members of the cluster at one point of the log, ordered by id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Configuration {
    members: BTreeMap<usize, (String, MemberRole)>,
}

impl Configuration {
    /// A configuration of voters only (a cluster's initial one).
    pub fn voters_of(voters: impl IntoIterator<Item = (usize, String)>) -> Configuration {
        Configuration {
            members: voters
                .into_iter()
                .map(|(id, address)| (id, (address, MemberRole::Voter)))
                .collect(),
        }
    }

    /// A configuration of the given members; a later duplicate id wins.
    pub fn from_members(members: impl IntoIterator<Item = Member>) -> Configuration {
        Configuration {
            members: members
                .into_iter()
                .map(|m| (m.id, (m.address, m.role)))
                .collect(),
        }
    }

    /// No member at all: a node that joined and has not yet heard the
    /// cluster's configuration.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn contains(&self, id: usize) -> bool {
        self.members.contains_key(&id)
    }

    pub fn role(&self, id: usize) -> Option<MemberRole> {
        self.members.get(&id).map(|(_, role)| *role)
    }

    pub fn is_voter(&self, id: usize) -> bool {
        self.role(id) == Some(MemberRole::Voter)
    }

    pub fn is_learner(&self, id: usize) -> bool {
        self.role(id) == Some(MemberRole::Learner)
    }

    pub fn address(&self, id: usize) -> Option<&str> {
        self.members.get(&id).map(|(address, _)| address.as_str())
    }

    /// Every member's id, voters and learners, in order.
    pub fn ids(&self) -> impl Iterator<Item = usize> + '_ {
        self.members.keys().copied()
    }

    /// The voters' ids, in order.
    pub fn voters(&self) -> impl Iterator<Item = usize> + '_ {
        self.members
            .iter()
            .filter(|(_, (_, role))| *role == MemberRole::Voter)
            .map(|(id, _)| *id)
    }

    /// The learners' ids, in order.
    pub fn learners(&self) -> impl Iterator<Item = usize> + '_ {
        self.members
            .iter()
            .filter(|(_, (_, role))| *role == MemberRole::Learner)
            .map(|(id, _)| *id)
    }

    pub fn voter_count(&self) -> usize {
        self.voters().count()
    }

    /// Every member, in id order.
    pub fn members(&self) -> impl Iterator<Item = Member> + '_ {
        self.members.iter().map(|(id, (address, role))| Member {
            id: *id,
            address: address.clone(),
            role: *role,
        })
    }

    /// Adds or replaces one member (see `change.rs` for the checked way).
    pub(crate) fn set(&mut self, id: usize, address: String, role: MemberRole) {
        self.members.insert(id, (address, role));
    }

    pub(crate) fn remove(&mut self, id: usize) -> bool {
        self.members.remove(&id).is_some()
    }

    /// The wire and log form (`raft.proto`'s `Configuration`).
    pub fn to_proto(&self) -> proto::raft::Configuration {
        proto::raft::Configuration {
            members: self
                .members()
                .map(|m| proto::raft::Member {
                    id: m.id as u64,
                    address: m.address,
                    learner: m.role == MemberRole::Learner,
                })
                .collect(),
        }
    }

    /// Reads the wire and log form; ids that do not fit a `usize` are an error.
    pub fn from_proto(p: &proto::raft::Configuration) -> Result<Configuration, String> {
        let mut out = Configuration::default();
        for m in &p.members {
            let id = usize::try_from(m.id).map_err(|_| format!("member id {} too large", m.id))?;
            let role = if m.learner {
                MemberRole::Learner
            } else {
                MemberRole::Voter
            };
            if out.contains(id) {
                return Err(format!("member {id} listed twice"));
            }
            out.set(id, m.address.clone(), role);
        }
        Ok(out)
    }
}

impl fmt::Display for Configuration {
    /// `voters [0, 1, 2] learners [3]`, for log lines.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let voters: Vec<usize> = self.voters().collect();
        let learners: Vec<usize> = self.learners().collect();
        write!(f, "voters {voters:?} learners {learners:?}")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn conf(voters: &[usize], learners: &[usize]) -> Configuration {
        let mut c = Configuration::voters_of(voters.iter().map(|&v| (v, format!("h{v}:1"))));
        for &l in learners {
            c.set(l, format!("h{l}:1"), MemberRole::Learner);
        }
        c
    }

    #[test]
    fn roles_and_lists() {
        let c = conf(&[0, 2, 1], &[7]);
        assert_eq!(c.voters().collect::<Vec<_>>(), vec![0, 1, 2]);
        assert_eq!(c.learners().collect::<Vec<_>>(), vec![7]);
        assert!(c.is_voter(1) && !c.is_voter(7) && c.is_learner(7));
        assert_eq!(c.address(7), Some("h7:1"));
        assert_eq!(c.role(9), None);
        assert_eq!(c.voter_count(), 3);
        assert_eq!(c.to_string(), "voters [0, 1, 2] learners [7]");
    }

    #[test]
    fn proto_round_trip_and_duplicates() {
        let c = conf(&[0, 1], &[5]);
        assert_eq!(Configuration::from_proto(&c.to_proto()), Ok(c.clone()));
        let mut p = c.to_proto();
        p.members.push(p.members[0].clone());
        assert!(Configuration::from_proto(&p).is_err());
    }
}
