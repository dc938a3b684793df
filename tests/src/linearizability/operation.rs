//! One client operation as recorded: what was asked, when, and what came back (if anything).

/// An operation of a history: `input` was sent at `call` and, if the client got an answer,
/// `output` arrived at `return_time`.
///
/// Times are nanoseconds from any common origin (the [`Recorder`](super::Recorder) uses its
/// creation). An operation whose client never heard back (timeout, crash, end of test) has
/// `return_time == None`: it may have taken effect at any instant after `call`, or never. Its
/// `output` is then normally `None` too, and the model accepts any output for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation<I, O> {
    /// Which client issued it; only used to explain a violation.
    pub client_id: usize,
    /// What the client asked for.
    pub input: I,
    /// When the request left the client (ns).
    pub call: u64,
    /// What the client was told, `None` if it was never told.
    pub output: Option<O>,
    /// When the answer arrived (ns), `None` for "never": the operation stays open forever.
    pub return_time: Option<u64>,
}

impl<I, O> Operation<I, O> {
    /// An operation that completed with `output`.
    pub fn completed(client_id: usize, input: I, call: u64, output: O, return_time: u64) -> Self {
        Operation {
            client_id,
            input,
            call,
            output: Some(output),
            return_time: Some(return_time),
        }
    }

    /// An operation whose client never got an answer: it may or may not have taken effect.
    pub fn unanswered(client_id: usize, input: I, call: u64) -> Self {
        Operation {
            client_id,
            input,
            call,
            output: None,
            return_time: None,
        }
    }

    /// The return time as a point on the time line, "never" being after everything.
    ///
    /// A return recorded before its call (a clock bug in the caller) is read as equal to the
    /// call rather than rejected: it only makes the operation instantaneous.
    pub(crate) fn return_point(&self) -> u64 {
        self.return_time.map_or(u64::MAX, |t| t.max(self.call))
    }
}
