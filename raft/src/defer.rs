//! Run a closure when a scope ends (the original's `DEFER` macro).

/// Runs its closure when dropped, however the scope is left.
pub struct Defer<F: FnOnce()> {
    f: Option<F>,
}

impl<F: FnOnce()> Defer<F> {
    pub fn new(f: F) -> Self {
        Self { f: Some(f) }
    }

    /// Drops the guard without running the closure.
    pub fn cancel(mut self) {
        self.f = None;
    }
}

impl<F: FnOnce()> Drop for Defer<F> {
    fn drop(&mut self) {
        if let Some(f) = self.f.take() {
            f();
        }
    }
}

/// `defer! { stmts }` runs `stmts` when the enclosing scope ends.
#[macro_export]
macro_rules! defer {
    ($($body:tt)*) => {
        let _defer_guard = $crate::Defer::new(|| { $($body)* });
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn runs_at_scope_end_in_reverse_order() {
        let log = std::cell::RefCell::new(Vec::new());
        {
            crate::defer! { log.borrow_mut().push(1); }
            crate::defer! { log.borrow_mut().push(2); }
            log.borrow_mut().push(0);
        }
        assert_eq!(*log.borrow(), vec![0, 2, 1]);
    }

    #[test]
    fn runs_on_early_return_and_can_be_cancelled() {
        let hits = Cell::new(0);
        let f = |early: bool| {
            let _g = Defer::new(|| hits.set(hits.get() + 1));
            if early {
                return;
            }
            hits.set(hits.get() + 10);
        };
        f(true);
        assert_eq!(hits.get(), 1);
        f(false);
        assert_eq!(hits.get(), 12);
        Defer::new(|| hits.set(100)).cancel();
        assert_eq!(hits.get(), 12);
    }
}
