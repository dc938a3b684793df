//! Holding back the answers one thread completes in a burst, so that each
//! connection gets them in one write instead of one write per answer.
//!
//! A KvServer's applier answers every write of a batch it applies, often
//! two dozen on the same client connection. Written one by one, each answer
//! is a `send` that runs the loopback receive path and wakes the client's
//! reader: measured on the leader of a loaded 3-node cluster, those sends
//! were 29% of the applier's time, and every entry of the batch waited for
//! the sends of the ones before it. Inside [`batch_answers`] the answers
//! are encoded as they complete, and each connection they went to is
//! written once when the burst ends, like TCP_CORK for one thread.

use std::cell::RefCell;
use std::sync::Arc;

use crate::outbox::Outbox;

thread_local! {
    /// The connections this thread holds answers for, while in a burst.
    static HELD: RefCell<Option<Vec<Arc<Outbox>>>> = const { RefCell::new(None) };
}

/// Runs `burst` with the answers this thread completes held back, and
/// writes each connection's held answers once it returns (or unwinds).
/// Nested calls join the outer burst.
pub fn batch_answers<T>(burst: impl FnOnce() -> T) -> T {
    let outer = HELD.with(|held| {
        let mut held = held.borrow_mut();
        let outer = held.is_none();
        if outer {
            *held = Some(Vec::new());
        }
        outer
    });
    let _release = outer.then_some(Release);
    burst()
}

/// Whether this thread is in a burst; if so, `outbox` is written when the
/// burst ends.
pub(crate) fn hold(outbox: &Arc<Outbox>) -> bool {
    HELD.with(|held| match held.borrow_mut().as_mut() {
        Some(list) => {
            list.push(outbox.clone());
            true
        }
        None => false,
    })
}

/// Ends the burst: writes what each held connection has queued.
struct Release;

impl Drop for Release {
    fn drop(&mut self) {
        let held = HELD
            .with(|held| held.borrow_mut().take())
            .unwrap_or_default();
        for outbox in held {
            outbox.release();
        }
    }
}
