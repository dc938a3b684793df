//! Bounded busy-polling before a thread goes to sleep, for waits that are
//! usually short.
//!
//! On a virtual machine, waking a thread whose CPU went idle costs far more
//! than the work itself: measured here, a blocking 64-byte TCP ping-pong over
//! loopback takes 110–140 µs, and the same ping-pong takes 11 µs when both
//! sides poll for 50 µs before blocking. So the places that wait for the
//! next step of a call (a caller for its reply, the event loop for the next
//! request, a worker for the next job) first poll for a short budget.
//!
//! Two rules keep this from becoming the original's leader that busy-spins a
//! core: the poll is bounded (the budget, then a real sleep), and it is
//! adaptive: after [`MISSES_BEFORE_BACKING_OFF`] polls in a row that found
//! nothing, a [`Spinner`] stops polling, trying again only on one wait in
//! [`PROBE_EVERY`], until a poll succeeds. An idle node, or one whose waits
//! are long (a follower's fsync), thus sleeps at once. Each round yields the
//! CPU, so on a busy machine a polling thread gives way to runnable ones.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Fruitless polls in a row after which a spinner stops polling.
pub(crate) const MISSES_BEFORE_BACKING_OFF: u32 = 8;
/// While backed off, one wait in this many still polls, to notice when
/// waits become short again.
pub(crate) const PROBE_EVERY: u32 = 64;

/// The polling policy and its recent record for one waiting place.
///
/// Atomics, so that callers taking turns on a shared connection share one
/// record; relaxed, since it is only a hint.
pub(crate) struct Spinner {
    budget: Duration,
    misses: AtomicU32,
    waits: AtomicU32,
}

impl Spinner {
    /// A spinner that polls for up to `budget` (zero: never polls).
    pub fn new(budget: Duration) -> Self {
        Self {
            budget,
            misses: AtomicU32::new(0),
            waits: AtomicU32::new(0),
        }
    }

    /// Calls `attempt` until it returns `Some` or the budget runs out
    /// (`None`: the caller should block as it would have). Returns `None`
    /// without calling it when recent polls were fruitless.
    pub fn poll<T>(&self, mut attempt: impl FnMut() -> Option<T>) -> Option<T> {
        if !self.worth_polling() {
            return None;
        }
        let until = Instant::now() + self.budget;
        loop {
            if let Some(found) = attempt() {
                self.misses.store(0, Ordering::Relaxed);
                return Some(found);
            }
            if Instant::now() >= until {
                self.misses.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            std::thread::yield_now();
        }
    }

    fn worth_polling(&self) -> bool {
        if self.budget.is_zero() {
            return false;
        }
        if self.misses.load(Ordering::Relaxed) < MISSES_BEFORE_BACKING_OFF {
            return true;
        }
        self.waits
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(PROBE_EVERY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn a_zero_budget_never_polls() {
        let spinner = Spinner::new(Duration::ZERO);
        let calls = Cell::new(0);
        let found = spinner.poll(|| {
            calls.set(calls.get() + 1);
            Some(())
        });
        assert_eq!(found, None);
        assert_eq!(calls.get(), 0);
    }

    #[test]
    fn polls_until_found() {
        let spinner = Spinner::new(Duration::from_secs(10));
        let calls = Cell::new(0);
        let found = spinner.poll(|| {
            calls.set(calls.get() + 1);
            (calls.get() == 3).then_some(7)
        });
        assert_eq!(found, Some(7));
        assert_eq!(calls.get(), 3);
    }

    #[test]
    fn backs_off_after_fruitless_polls_and_probes_now_and_then() {
        let spinner = Spinner::new(Duration::from_micros(1));
        let polled = Cell::new(0u32);
        let wait = || {
            let before = polled.get();
            spinner.poll(|| {
                polled.set(polled.get() + 1);
                None::<()>
            });
            polled.get() > before
        };
        for _ in 0..MISSES_BEFORE_BACKING_OFF {
            assert!(wait(), "polls until it has missed enough times");
        }
        let probes = (0..PROBE_EVERY * 4).filter(|_| wait()).count();
        assert_eq!(probes, 4, "backed off: one wait in PROBE_EVERY polls");
    }

    #[test]
    fn a_successful_probe_resumes_polling() {
        let spinner = Spinner::new(Duration::from_micros(1));
        for _ in 0..MISSES_BEFORE_BACKING_OFF {
            spinner.poll(|| None::<()>);
        }
        // The next probe finds something.
        while spinner.poll(|| Some(())).is_none() {}
        let calls = Cell::new(0);
        spinner.poll(|| {
            calls.set(calls.get() + 1);
            None::<()>
        });
        assert!(calls.get() > 0, "polling again after a hit");
    }
}
