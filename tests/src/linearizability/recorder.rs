//! Thread-safe capture of a history from many client threads.

use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use super::{Fault, FaultKind, Operation};

/// A handle to one recorded operation, returned by [`Recorder::begin`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OpId(usize);

/// Records operations as clients issue them; clone it into every client thread.
///
/// Call [`begin`](Recorder::begin) just before sending a request and
/// [`end`](Recorder::end) just after its answer arrives: the recorded interval then contains
/// the real one. An operation never ended stays "unanswered" (it may or may not have happened).
pub struct Recorder<I, O> {
    inner: Arc<Inner<I, O>>,
}

struct Inner<I, O> {
    origin: Instant,
    ops: Mutex<Vec<Operation<I, O>>>,
    /// What the test did to the cluster meanwhile, on the same clock, for a timeline.
    faults: Mutex<Vec<Fault>>,
}

impl<I, O> Clone for Recorder<I, O> {
    fn clone(&self) -> Self {
        Recorder {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<I, O> Default for Recorder<I, O> {
    fn default() -> Self {
        Self::new()
    }
}

impl<I, O> Recorder<I, O> {
    /// An empty history whose time origin is now.
    pub fn new() -> Self {
        Recorder {
            inner: Arc::new(Inner {
                origin: Instant::now(),
                ops: Mutex::new(Vec::new()),
                faults: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Records that `client_id` is about to send `input`.
    pub fn begin(&self, client_id: usize, input: I) -> OpId {
        let call = self.now();
        let mut ops = self.inner.ops.lock();
        ops.push(Operation::unanswered(client_id, input, call));
        OpId(ops.len() - 1)
    }

    /// Records that the operation `id` has just been answered with `output`. Ending an
    /// operation twice keeps the first answer.
    pub fn end(&self, id: OpId, output: O) {
        let now = self.now();
        let mut ops = self.inner.ops.lock();
        if let Some(op) = ops.get_mut(id.0) {
            if op.return_time.is_none() {
                op.output = Some(output);
                op.return_time = Some(now);
            }
        }
    }

    /// How many operations have begun so far.
    pub fn len(&self) -> usize {
        self.inner.ops.lock().len()
    }

    /// True if no operation has begun.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A copy of the history so far; operations not yet ended are unanswered.
    pub fn history(&self) -> Vec<Operation<I, O>>
    where
        I: Clone,
        O: Clone,
    {
        self.inner.ops.lock().clone()
    }

    /// Records that the test injected `kind` just now.
    pub fn fault(&self, kind: FaultKind) {
        let at = self.now();
        self.inner.faults.lock().push(Fault { at, kind });
    }

    /// The faults recorded so far, in time order.
    pub fn faults(&self) -> Vec<Fault> {
        let mut faults = self.inner.faults.lock().clone();
        // Two threads may stamp and push in opposite orders.
        faults.sort_by_key(|f| f.at);
        faults
    }

    /// Nanoseconds since the recorder was made: the clock of its history and faults.
    pub fn now(&self) -> u64 {
        // u64 nanoseconds last 584 years; saturate rather than wrap beyond.
        u64::try_from(self.inner.origin.elapsed().as_nanos()).unwrap_or(u64::MAX - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ended_ops_get_an_interval_and_the_rest_stay_open() {
        let rec: Recorder<&str, u32> = Recorder::new();
        let a = rec.begin(0, "a");
        let _never_ended = rec.begin(1, "b");
        rec.end(a, 7);
        rec.end(a, 8);
        let history = rec.history();
        assert_eq!(history.len(), 2);
        assert_eq!(history[0].output, Some(7));
        assert!(history[0].return_time.unwrap() >= history[0].call);
        assert_eq!(history[1].output, None);
        assert_eq!(history[1].return_time, None);
    }

    #[test]
    fn faults_share_the_history_clock() {
        let rec: Recorder<&str, u32> = Recorder::new();
        let op = rec.begin(0, "a");
        rec.fault(FaultKind::Crash { server: 1 });
        rec.end(op, 1);
        let (history, faults) = (rec.history(), rec.faults());
        assert_eq!(faults.len(), 1);
        assert!(history[0].call <= faults[0].at);
        assert!(faults[0].at <= history[0].return_time.unwrap());
    }

    #[test]
    fn many_threads_record_into_one_history() {
        let rec: Recorder<usize, usize> = Recorder::new();
        thread_scope(&rec);
        let history = rec.history();
        assert_eq!(history.len(), 400);
        assert!(history.iter().all(|op| op.output == Some(op.input)));
    }

    fn thread_scope(rec: &Recorder<usize, usize>) {
        std::thread::scope(|s| {
            for client in 0..4 {
                let rec = rec.clone();
                s.spawn(move || {
                    for i in 0..100 {
                        let id = rec.begin(client, i);
                        rec.end(id, i);
                    }
                });
            }
        });
    }
}
