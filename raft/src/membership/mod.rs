//! Cluster membership as replicated data: who the members are, which of
//! them vote, and the quorum rules that follow from that.
//!
//! - `configuration.rs`: [`Configuration`], the members (voters and
//!   learners) with their addresses, as one value.
//! - `quorum.rs`: the majority rules (commit index, election, ReadIndex
//!   confirmation, check-quorum) as pure functions of a configuration.
//! - `change.rs`: [`ConfChange`], one single-server change applied to a
//!   configuration as a value, and why one may be refused ([`ChangeError`]).
//! - `history.rs`: the configurations a node's log and snapshot hold, so a
//!   truncated suffix reverts to the one before and a snapshot keeps the
//!   one in force at its last index.
//!
//! Why single-server changes (Ongaro's thesis, chapter 4) rather than joint
//! consensus: a change adds or removes at most one voter, so any majority
//! of the old voters and any majority of the new ones share a server, and
//! the new configuration may take effect the moment its entry is in a
//! node's log, with no intermediate joint state. Replacing a machine is
//! naturally a sequence of such steps (add a learner, promote it, remove
//! the old one), and the one rule a leader must obey is simple to check:
//! at most one change uncommitted at a time, and none until an entry of the
//! leader's own term has committed (the fix to the thesis' original rule).

mod change;
mod configuration;
mod history;
pub(crate) mod quorum;
pub(crate) use change::{apply_change, caught_up};

pub use change::{ChangeError, ConfChange};
pub use configuration::{Configuration, Member, MemberRole};
pub(crate) use history::History;
