//! What the search reached in each partition: the material for a timeline of a history.

use super::checker::describe;
use super::search::Outcome;
use super::{CheckResult, Model, Operation};

/// Names one operation of a history: who called it, when, and when it returned.
///
/// Partitioning moves operations around, so a report points back into the history by these
/// three values; a client's operations never share a call instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OpRef {
    pub client_id: usize,
    pub call: u64,
    pub return_time: Option<u64>,
}

impl OpRef {
    /// The reference to `op`.
    pub fn of<I, O>(op: &Operation<I, O>) -> Self {
        OpRef {
            client_id: op.client_id,
            call: op.call,
            return_time: op.return_time,
        }
    }

    /// True if this names `op`.
    pub fn names<I, O>(&self, op: &Operation<I, O>) -> bool {
        *self == OpRef::of(op)
    }
}

/// How the search of one partition ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionVerdict {
    /// A linearization was found.
    Linearizable,
    /// None exists.
    Illegal,
    /// Out of time, or stopped because another partition was illegal.
    Unknown,
}

/// One partition's operations and what the search made of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionReport {
    /// The partition's name (for the KV model, its key).
    pub label: String,
    /// Every operation the checker kept in it (the model may drop some that cannot matter).
    pub ops: Vec<OpRef>,
    pub verdict: PartitionVerdict,
    /// In linearized order: the whole linearization when linearizable, the longest
    /// linearizable prefix when illegal, the deepest prefix reached so far when unknown.
    pub linearized: Vec<OpRef>,
    /// When illegal: the operation that returned without fitting after that prefix.
    pub blocked: Option<OpRef>,
    /// When illegal: that operation as the model describes it, e.g. `Get("k") -> "v"`.
    pub blocked_text: Option<String>,
    /// When illegal: the model's state after the prefix (`Debug` form).
    pub state: Option<String>,
}

/// A verdict and, for every partition, how far the search got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    pub result: CheckResult,
    pub partitions: Vec<PartitionReport>,
}

impl PartitionReport {
    /// The report on a partition searched to `outcome`.
    pub(crate) fn new<M: Model>(
        ops: &[Operation<M::Input, M::Output>],
        outcome: &Outcome<M::State>,
    ) -> Self {
        let refs = |indices: &[usize]| -> Vec<OpRef> {
            indices
                .iter()
                .filter_map(|&i| ops.get(i).map(OpRef::of))
                .collect()
        };
        let mut report = PartitionReport::unsearched::<M>(ops);
        match outcome {
            Outcome::Linearizable(order) => {
                report.verdict = PartitionVerdict::Linearizable;
                report.linearized = refs(order);
            }
            Outcome::Aborted(deepest) => report.linearized = refs(deepest),
            Outcome::Illegal(stuck) => {
                report.verdict = PartitionVerdict::Illegal;
                report.linearized = refs(&stuck.prefix);
                let blocked = ops.get(stuck.blocked);
                report.blocked = blocked.map(OpRef::of);
                report.blocked_text = blocked.map(describe::<M>);
                report.state = Some(format!("{:?}", stuck.state));
            }
        }
        report
    }

    /// The report on a partition the check stopped before searching.
    pub(crate) fn unsearched<M: Model>(ops: &[Operation<M::Input, M::Output>]) -> Self {
        PartitionReport {
            label: M::describe_partition(ops),
            ops: ops.iter().map(OpRef::of).collect(),
            verdict: PartitionVerdict::Unknown,
            linearized: Vec::new(),
            blocked: None,
            blocked_text: None,
            state: None,
        }
    }
}
