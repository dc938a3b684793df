//! Why a node stopped by itself: the first reason, kept for whoever asks or waits.

use std::any::Any;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

/// The reason a node stopped by itself, if it did. Only the first reason
/// is kept: later ones are usually consequences of it.
#[derive(Default)]
pub(crate) struct Failure {
    reason: Mutex<Option<String>>,
    recorded: Condvar,
}

impl Failure {
    /// Keeps `reason` unless a reason is kept already, and wakes the waiters.
    pub fn record(&self, reason: String) {
        let mut kept = self.reason.lock();
        if kept.is_none() {
            *kept = Some(reason);
        }
        self.recorded.notify_all();
    }

    /// The reason, if the node stopped by itself.
    pub fn get(&self) -> Option<String> {
        self.reason.lock().clone()
    }

    /// Waits up to `timeout` for a reason; `None` if there is none by then.
    pub fn wait(&self, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        let mut kept = self.reason.lock();
        while kept.is_none() {
            if self.recorded.wait_until(&mut kept, deadline).timed_out() {
                break;
            }
        }
        kept.clone()
    }
}

/// The text a panic was raised with (`panic!` takes a `&str` or a `String`).
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn the_first_reason_is_kept() {
        let failure = Failure::default();
        assert_eq!(failure.get(), None);
        assert_eq!(failure.wait(Duration::from_millis(5)), None);
        failure.record("disk full".into());
        failure.record("a consequence".into());
        assert_eq!(failure.get().as_deref(), Some("disk full"));
        assert_eq!(
            failure.wait(Duration::from_millis(5)).as_deref(),
            Some("disk full")
        );
    }

    #[test]
    fn a_waiter_wakes_when_a_reason_is_recorded() {
        let failure = Arc::new(Failure::default());
        let waiter = {
            let failure = failure.clone();
            std::thread::spawn(move || failure.wait(Duration::from_secs(60)))
        };
        failure.record("stopped".into());
        assert_eq!(waiter.join().unwrap().as_deref(), Some("stopped"));
    }

    #[test]
    fn panic_messages_of_both_kinds() {
        let text = std::panic::catch_unwind(|| panic!("plain")).unwrap_err();
        assert_eq!(panic_message(&*text), "plain");
        let n = 3;
        let formatted = std::panic::catch_unwind(|| panic!("formatted {n}")).unwrap_err();
        assert_eq!(panic_message(&*formatted), "formatted 3");
    }
}
