//! The entry point: split a history into partitions, search each (in parallel), give a verdict.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::report::{CheckReport, PartitionReport};
use super::search::{search, Budget, Outcome, Stuck};
use super::{Model, Operation};

/// The memory all partitions' memos may take together, split among the threads.
const CACHE_BYTES: usize = 1 << 30;

/// How many operations of the longest linearizable prefix a [`Violation`] quotes.
const PREFIX_QUOTED: usize = 8;

/// How many characters of a state or an operation a [`Violation`] quotes.
const TEXT_QUOTED: usize = 300;

/// The verdict on a history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckResult {
    /// Some real-time-respecting order explains every output.
    Ok,
    /// No order does; the violation says where the search got stuck.
    Illegal(Violation),
    /// The timeout expired before every partition was decided (and none was illegal).
    Unknown,
}

impl CheckResult {
    /// True only for [`CheckResult::Ok`].
    pub fn is_ok(&self) -> bool {
        matches!(self, CheckResult::Ok)
    }

    /// True only for [`CheckResult::Illegal`].
    pub fn is_illegal(&self) -> bool {
        matches!(self, CheckResult::Illegal(_))
    }
}

/// Why a history is not linearizable, in words: one failing partition and how far it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The failing partition's position in the model's partitioning.
    pub partition: usize,
    /// Its name from [`Model::describe_partition`] (for the KV model, the key).
    pub label: String,
    /// How many operations the partition holds.
    pub operations: usize,
    /// Length of the longest linearizable prefix the search found.
    pub prefix_len: usize,
    /// The last few operations of that prefix, described, oldest first.
    pub prefix_tail: Vec<String>,
    /// The model state after the prefix (`Debug` form).
    pub state: String,
    /// The operation that returned although it could not be linearized after the prefix.
    pub blocked: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "history not linearizable: partition {} {}({} ops)",
            self.partition,
            if self.label.is_empty() {
                String::new()
            } else {
                format!("[{}] ", self.label)
            },
            self.operations
        )?;
        writeln!(
            f,
            "  longest linearizable prefix: {} ops, leaving state {}",
            self.prefix_len, self.state
        )?;
        writeln!(
            f,
            "  after which this one cannot take effect before it returns: {}",
            self.blocked
        )?;
        if !self.prefix_tail.is_empty() {
            writeln!(f, "  last ops of the prefix:")?;
            for op in &self.prefix_tail {
                writeln!(f, "    {op}")?;
            }
        }
        Ok(())
    }
}

/// Checks that `history` is linearizable under `M`, giving up after `timeout` (`None`: never).
///
/// Partitions from [`Model::partition`] are searched on up to as many threads as the machine
/// has cores; the first illegal partition stops the others.
pub fn check_operations<M: Model>(
    history: Vec<Operation<M::Input, M::Output>>,
    timeout: Option<Duration>,
) -> CheckResult {
    check_operations_report::<M>(history, timeout).result
}

/// Like [`check_operations`], and also says what the search reached in every partition
/// (a linearization, the longest linearizable prefix, or nothing), for a timeline.
pub fn check_operations_report<M: Model>(
    history: Vec<Operation<M::Input, M::Output>>,
    timeout: Option<Duration>,
) -> CheckReport {
    // A timeout too large to add to the clock is no timeout.
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    let partitions = M::partition(history);
    let threads = thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(partitions.len())
        .max(1);
    let stop = AtomicBool::new(false);
    let budget = Budget {
        cache_bytes: CACHE_BYTES / threads,
        deadline,
        stop: &stop,
    };
    let next = AtomicUsize::new(0);
    let verdicts: Mutex<Vec<(usize, Verdict, PartitionReport)>> = Mutex::new(Vec::new());

    let worker = || loop {
        let index = next.fetch_add(1, Ordering::Relaxed);
        let Some(ops) = partitions.get(index) else {
            return;
        };
        let outcome = search::<M>(ops, &budget);
        let report = PartitionReport::new::<M>(ops, &outcome);
        let verdict = match outcome {
            Outcome::Linearizable(_) => Verdict::Ok,
            Outcome::Aborted(_) => Verdict::Unknown,
            Outcome::Illegal(stuck) => {
                stop.store(true, Ordering::Relaxed);
                Verdict::Illegal(explain::<M>(index, ops, stuck))
            }
        };
        verdicts.lock().push((index, verdict, report));
    };

    thread::scope(|scope| {
        // The calling thread is one of the workers; a helper that cannot be spawned only
        // leaves more partitions to the others.
        for _ in 1..threads {
            let _ = thread::Builder::new()
                .name("lincheck".to_string())
                .spawn_scoped(scope, worker);
        }
        worker();
    });

    let mut verdicts = verdicts.into_inner();
    // Report the lowest-numbered illegal partition found, not whichever thread finished first.
    verdicts.sort_by_key(|(index, _, _)| *index);
    // A partition no thread reached (the check stopped first) is undecided.
    let mut reports: Vec<PartitionReport> = partitions
        .iter()
        .map(|ops| PartitionReport::unsearched::<M>(ops))
        .collect();
    let mut unknown = verdicts.len() < partitions.len();
    let mut illegal = None;
    for (index, verdict, report) in verdicts {
        reports[index] = report;
        match verdict {
            Verdict::Illegal(violation) => {
                illegal.get_or_insert(violation);
            }
            Verdict::Unknown => unknown = true,
            Verdict::Ok => {}
        }
    }
    let result = match illegal {
        Some(violation) => CheckResult::Illegal(violation),
        None if unknown => CheckResult::Unknown,
        None => CheckResult::Ok,
    };
    CheckReport {
        result,
        partitions: reports,
    }
}

enum Verdict {
    Ok,
    Illegal(Violation),
    Unknown,
}

fn explain<M: Model>(
    partition: usize,
    ops: &[Operation<M::Input, M::Output>],
    stuck: Stuck<M::State>,
) -> Violation {
    let skip = stuck.prefix.len().saturating_sub(PREFIX_QUOTED);
    Violation {
        partition,
        label: M::describe_partition(ops),
        operations: ops.len(),
        prefix_len: stuck.prefix.len(),
        prefix_tail: stuck.prefix[skip..]
            .iter()
            .filter_map(|&i| ops.get(i).map(describe::<M>))
            .collect(),
        state: clip(format!("{:?}", stuck.state)),
        blocked: ops
            .get(stuck.blocked)
            .map_or_else(|| "(none)".to_string(), describe::<M>),
    }
}

/// `client 3: Get("k") -> "v" during [1.200000 ms, 1.350000 ms]`.
pub(crate) fn describe<M: Model>(op: &Operation<M::Input, M::Output>) -> String {
    let end = op.return_time.map_or_else(|| "never".to_string(), millis);
    format!(
        "client {}: {} during [{}, {}]",
        op.client_id,
        clip(M::describe_operation(&op.input, op.output.as_ref())),
        millis(op.call),
        end
    )
}

/// Shortens long text (an appended-to value can be kilobytes) to its start and its length.
fn clip(text: String) -> String {
    if text.chars().count() <= TEXT_QUOTED {
        return text;
    }
    let head: String = text.chars().take(TEXT_QUOTED).collect();
    format!("{head}... ({} bytes)", text.len())
}

fn millis(nanos: u64) -> String {
    format!("{}.{:06} ms", nanos / 1_000_000, nanos % 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_clipped_to_its_start_and_length() {
        assert_eq!(clip("short".to_string()), "short");
        let long = "x".repeat(TEXT_QUOTED + 50);
        let clipped = clip(long);
        assert!(clipped.starts_with(&"x".repeat(TEXT_QUOTED)));
        assert!(clipped.ends_with(&format!("... ({} bytes)", TEXT_QUOTED + 50)));
    }

    #[test]
    fn times_read_as_milliseconds() {
        assert_eq!(millis(1_234_567), "1.234567 ms");
    }
}
