//! One client's session: its highest applied request id and a bitmap of
//! the [`WINDOW`] ids below it, and the verdict on a request id.

use serde::{Deserialize, Serialize};

/// How many request ids below a client's highest applied one are still
/// told apart (the bits of the bitmap).
pub const WINDOW: i64 = 64;

/// How a write stands against its client's session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Never applied: apply it.
    New,
    /// Applied already: answer OK, apply nothing.
    Duplicate,
    /// Too old to tell, or its session is unknown: refuse, apply nothing.
    Stale,
}

/// One client's session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Session {
    /// The highest request id applied.
    pub(super) max: i64,
    /// Bit i set: request `max - 1 - i` was applied.
    pub(super) below: u64,
    /// Ids at or below this are refused whatever the bitmap says: a session
    /// started again after it expired knows nothing of its old ids.
    pub(super) floor: i64,
    /// Log time (ms) of the last write of this client.
    pub(super) last_seen_ms: u64,
    /// Position in least-recently-used order (larger: used later).
    pub(super) seq: u64,
}

impl Session {
    pub(super) fn judge(&self, request_id: i64) -> Verdict {
        if request_id < 0 || request_id <= self.floor {
            return Verdict::Stale;
        }
        if request_id > self.max {
            return Verdict::New;
        }
        let behind = self.max - request_id;
        if behind == 0 {
            Verdict::Duplicate
        } else if behind > WINDOW {
            Verdict::Stale
        } else if self.below & (1 << (behind - 1)) != 0 {
            Verdict::Duplicate
        } else {
            Verdict::New
        }
    }

    /// Marks `request_id` applied; it must have been judged new.
    pub(super) fn mark(&mut self, request_id: i64) {
        if request_id > self.max {
            let shift = request_id - self.max;
            // The old maximum becomes bit shift-1; ids that leave the
            // window leave the bitmap.
            let moved = u32::try_from(shift)
                .ok()
                .and_then(|s| self.below.checked_shl(s))
                .unwrap_or(0);
            let old_max = if shift <= WINDOW { 1 << (shift - 1) } else { 0 };
            self.below = moved | old_max;
            self.max = request_id;
        } else {
            self.below |= 1 << (self.max - request_id - 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(max: i64) -> Session {
        Session {
            max,
            below: 0,
            floor: -1,
            last_seen_ms: 0,
            seq: 0,
        }
    }

    #[test]
    fn the_bitmap_follows_the_maximum() {
        let mut s = session(10);
        s.mark(12);
        assert_eq!((s.max, s.below), (12, 0b10), "the old max is 2 below");
        s.mark(11);
        assert_eq!(s.below, 0b11);
        s.mark(12 + WINDOW);
        assert_eq!(s.below, 1 << 63, "12 is exactly at the window's edge");
        assert_eq!(s.judge(12), Verdict::Duplicate);
        assert_eq!(s.judge(11), Verdict::Stale);
        s.mark(i64::MAX);
        assert_eq!((s.max, s.below), (i64::MAX, 0));
        assert_eq!(s.judge(i64::MAX - 1), Verdict::New);
        assert_eq!(s.judge(i64::MIN), Verdict::Stale);
    }
}
