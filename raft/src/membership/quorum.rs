//! The majority rules of Raft as pure functions of a configuration: only
//! voters count, and a majority is of the voters alone. Learners (and
//! servers outside the configuration) never move a commit index, never
//! elect anyone, never confirm a read and never keep a leader in office.

use super::Configuration;

/// How many voters make a majority (§5.2); 1 for a configuration without
/// voters, which no set of answers then reaches.
pub(crate) fn majority(config: &Configuration) -> usize {
    config.voter_count() / 2 + 1
}

/// The largest value that a majority of the voters have reached, each
/// voter's value given by `value_of`: the commit index from match indexes
/// (§5.3), the confirmed ReadIndex round from acknowledged rounds (thesis
/// §6.4). 0 when there are no voters.
pub(crate) fn quorum_value(config: &Configuration, value_of: impl Fn(usize) -> u64) -> u64 {
    let mut values: Vec<u64> = config.voters().map(value_of).collect();
    if values.is_empty() {
        return 0;
    }
    values.sort_unstable_by(|a, b| b.cmp(a));
    // The (majority)-th largest: that many voters are at or above it.
    values[majority(config) - 1]
}

/// Whether the voters among `yes` are a majority: an election (votes
/// granted, the candidate's own included if it is a voter) or check-quorum
/// (voters heard from recently, the leader itself included).
pub(crate) fn is_majority(config: &Configuration, yes: impl Fn(usize) -> bool) -> bool {
    config.voters().filter(|&id| yes(id)).count() >= majority(config)
}

/// §5.3/§5.4.2: the commit index a leader may advance to, given every
/// voter's match index (its own: what it has synced) and the term of each
/// index; only an entry of `current_term` is committed by counting
/// (Figure 8), and the commit index never goes back.
pub(crate) fn commit_index(
    config: &Configuration,
    match_of: impl Fn(usize) -> u64,
    term_at: impl Fn(u64) -> Option<u64>,
    current_term: u64,
    commit_index: u64,
) -> u64 {
    let n = quorum_value(config, match_of);
    if n > commit_index && term_at(n) == Some(current_term) {
        n
    } else {
        commit_index
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::membership::configuration::tests::conf;
    use std::collections::HashMap;

    fn values(pairs: &[(usize, u64)]) -> impl Fn(usize) -> u64 {
        let map: HashMap<usize, u64> = pairs.iter().copied().collect();
        move |id| map.get(&id).copied().unwrap_or(0)
    }

    #[test]
    fn majority_is_of_voters_only() {
        assert_eq!(majority(&conf(&[0, 1, 2], &[3, 4])), 2);
        assert_eq!(majority(&conf(&[0, 1, 2, 3], &[])), 3);
        assert_eq!(majority(&conf(&[0], &[1])), 1);
        assert_eq!(majority(&conf(&[], &[1])), 1);
    }

    #[test]
    fn quorum_value_ignores_learners() {
        let c = conf(&[0, 1, 2], &[3, 4]);
        // Learners far ahead do not carry an index the voters lack.
        let v = values(&[(0, 9), (1, 5), (2, 1), (3, 50), (4, 50)]);
        assert_eq!(quorum_value(&c, v), 5);
        let c = conf(&[0, 1, 2, 3], &[]);
        assert_eq!(
            quorum_value(&c, values(&[(0, 9), (1, 7), (2, 3), (3, 1)])),
            3
        );
        assert_eq!(quorum_value(&conf(&[], &[1]), values(&[(1, 9)])), 0);
    }

    #[test]
    fn votes_count_voters_only() {
        let c = conf(&[0, 1, 2], &[3, 4]);
        assert!(!is_majority(&c, |id| [0, 3, 4].contains(&id)));
        assert!(is_majority(&c, |id| [0, 2].contains(&id)));
        // Votes of servers outside the configuration count for nothing.
        assert!(!is_majority(&c, |id| [1, 7, 8].contains(&id)));
        assert!(!is_majority(&conf(&[], &[0]), |_| true));
    }

    #[test]
    fn check_quorum_after_a_removal_needs_the_new_majority() {
        // Five voters, two removed: two of the remaining three must answer.
        let before = conf(&[0, 1, 2, 3, 4], &[]);
        let after = conf(&[0, 1, 2], &[]);
        let heard = |id: usize| [0, 3, 4].contains(&id);
        assert!(is_majority(&before, heard));
        assert!(!is_majority(&after, heard));
    }

    #[test]
    fn commit_needs_a_current_term_entry_on_a_voter_majority() {
        let terms = [0u64, 1, 2, 2, 2];
        let term_at = |i: u64| terms.get(i as usize).copied();
        let c = conf(&[0, 1, 2], &[3]);
        let m = values(&[(0, 4), (1, 3), (2, 1), (3, 4)]);
        assert_eq!(commit_index(&c, &m, term_at, 2, 0), 3);
        // Figure 8: an older term's entry is not committed by counting.
        assert_eq!(commit_index(&c, &m, term_at, 3, 0), 0);
        // Never backwards.
        assert_eq!(commit_index(&c, &m, term_at, 2, 4), 4);
    }
}
