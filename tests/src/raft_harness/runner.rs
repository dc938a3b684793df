//! Runs one scenario under a time bound and a process-wide limit on how
//! many clusters run at once, so a hang fails the test instead of blocking
//! CI, and a 2-core machine is not swamped by every test of a file at once.

use std::panic;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

/// 6.5840's limit: no scenario may take longer than this.
pub const TEST_TIME_LIMIT: Duration = Duration::from_secs(120);

/// Clusters allowed to run at once in one test binary; overridden by the
/// environment variable `RAFTKV_TEST_PARALLEL`.
const DEFAULT_PARALLEL: usize = 2;

static RUNNING: Mutex<usize> = Mutex::new(0);
static SLOT_FREED: Condvar = Condvar::new();

fn parallelism() -> usize {
    std::env::var("RAFTKV_TEST_PARALLEL")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(DEFAULT_PARALLEL)
}

/// A slot among the clusters allowed to run; freed on drop.
struct Slot;

impl Slot {
    fn acquire() -> Self {
        let mut running = RUNNING.lock();
        while *running >= parallelism() {
            SLOT_FREED.wait(&mut running);
        }
        *running += 1;
        Slot
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        *RUNNING.lock() -= 1;
        SLOT_FREED.notify_one();
    }
}

/// Runs `scenario` on its own thread once a slot is free; fails if it
/// panics or takes longer than [`TEST_TIME_LIMIT`].
pub fn run_test(scenario: impl FnOnce() + Send + 'static) {
    run_test_within(TEST_TIME_LIMIT, scenario);
}

/// [`run_test`] with another time limit.
pub fn run_test_within(limit: Duration, scenario: impl FnOnce() + Send + 'static) {
    let _slot = Slot::acquire();
    let (tx, rx) = mpsc::channel();
    let handle = thread::Builder::new()
        .name("scenario".to_string())
        .spawn(move || {
            let outcome = panic::catch_unwind(panic::AssertUnwindSafe(scenario));
            let _ = tx.send(outcome);
        })
        .expect("cannot spawn the scenario thread");
    match rx.recv_timeout(limit) {
        Ok(Ok(())) => {
            let _ = handle.join();
        }
        Ok(Err(payload)) => panic::resume_unwind(payload),
        Err(_) => panic!("scenario did not finish within {limit:?} (hung?)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hung_scenario_fails_instead_of_blocking() {
        let outcome = panic::catch_unwind(|| {
            run_test_within(Duration::from_millis(50), || {
                thread::sleep(Duration::from_secs(5));
            })
        });
        let message = *outcome.unwrap_err().downcast::<String>().unwrap();
        assert!(message.contains("did not finish"), "{message}");
    }

    #[test]
    fn a_failing_scenario_fails_the_test() {
        let outcome = panic::catch_unwind(|| run_test(|| panic!("boom")));
        assert_eq!(*outcome.unwrap_err().downcast::<&str>().unwrap(), "boom");
        run_test(|| {});
    }
}
