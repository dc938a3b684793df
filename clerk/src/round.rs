//! Which server a Clerk tries next: the one a server named as leader,
//! unless it was already tried twice in this round, else the next server
//! not tried yet, and a pause once every server has been tried.
//!
//! Following every hint is not enough. Servers removed from the cluster,
//! or cut off from it, keep naming the leader they last knew, and two of
//! them can name each other (or one names the other and that one names no
//! one, so the Clerk moves on to the first again): a request then goes
//! round between them for ever while the real leader, elsewhere, is never
//! asked. A second visit is still allowed, because a server tried while
//! an election was on may be the leader by the time another names it.

/// A hinted server is not asked more often than this in one round.
const VISITS_PER_ROUND: u8 = 2;

/// The servers one request has tried since the last pause.
pub(crate) struct Round {
    visits: Vec<u8>,
    /// Servers not tried yet in this round.
    left: usize,
}

/// Where a request goes after a fruitless attempt.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// Straight on to this server.
    Try(usize),
    /// Every server was tried: pause, then start a new round here.
    Pause(usize),
}

impl Round {
    /// A round over `servers` servers (at least one).
    pub(crate) fn new(servers: usize) -> Round {
        Round {
            visits: vec![0; servers],
            left: servers,
        }
    }

    /// `failed` gave no answer; `hint` is the leader it named, if any.
    pub(crate) fn after(&mut self, failed: usize, hint: Option<usize>) -> Next {
        let servers = self.visits.len();
        let hint = hint.filter(|&h| h < servers && h != failed);
        if self.visits[failed] == 0 {
            self.left -= 1;
        }
        self.visits[failed] = self.visits[failed].saturating_add(1);
        if self.left == 0 {
            self.visits.fill(0);
            self.left = servers;
            return Next::Pause(hint.unwrap_or((failed + 1) % servers));
        }
        if let Some(hint) = hint.filter(|&h| self.visits[h] < VISITS_PER_ROUND) {
            return Next::Try(hint);
        }
        let next = (1..servers)
            .map(|k| (failed + k) % servers)
            .find(|&s| self.visits[s] == 0)
            .expect("a server is left to try");
        Next::Try(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_are_followed_and_otherwise_servers_go_in_turn() {
        let mut round = Round::new(5);
        assert_eq!(round.after(0, Some(3)), Next::Try(3));
        assert_eq!(round.after(3, None), Next::Try(4));
        assert_eq!(
            round.after(4, Some(9)),
            Next::Try(1),
            "out of range: ignored"
        );
        assert_eq!(round.after(1, Some(1)), Next::Try(2), "itself: ignored");
        assert_eq!(round.after(2, Some(3)), Next::Pause(3));
    }

    #[test]
    fn servers_naming_each_other_cannot_hide_the_rest() {
        // Servers 2 and 3 were removed: 3 names 2, 2 names no one. Each
        // server must still be reached within one round.
        let hint_of = |s: usize| match s {
            3 => Some(2),
            2 => None,
            _ => Some(3),
        };
        let mut round = Round::new(8);
        let mut server = 0;
        let mut seen = vec![server];
        while let Next::Try(next) = round.after(server, hint_of(server)) {
            server = next;
            seen.push(server);
        }
        assert!(seen.len() <= 16, "a bounded round: {seen:?}");
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen, (0..8).collect::<Vec<_>>(), "each in one round");
    }

    #[test]
    fn a_server_tried_during_an_election_is_asked_again_when_named() {
        // 0 had no leader yet; by the time 1 answers, 0 leads.
        let mut round = Round::new(5);
        assert_eq!(round.after(0, None), Next::Try(1));
        assert_eq!(round.after(1, Some(0)), Next::Try(0));
        // Still not the leader: a third visit waits for the next round.
        assert_eq!(round.after(0, None), Next::Try(2));
        assert_eq!(round.after(2, Some(0)), Next::Try(3));
    }

    #[test]
    fn a_new_round_starts_after_a_pause() {
        let mut round = Round::new(2);
        assert_eq!(round.after(0, None), Next::Try(1));
        assert_eq!(round.after(1, Some(0)), Next::Pause(0));
        assert_eq!(round.after(0, Some(1)), Next::Try(1));
        assert_eq!(round.after(1, None), Next::Pause(0));
        let mut single = Round::new(1);
        assert_eq!(single.after(0, Some(0)), Next::Pause(0));
    }
}
