//! The sequential specification a history is checked against.

use std::fmt::Debug;
use std::hash::Hash;

use super::Operation;

/// A sequential object: a start state and a step function that says which outputs are possible.
///
/// The checker looks for an order of the operations, consistent with real time, in which every
/// `step` succeeds. Methods take no `self`: a model is a type, like Porcupine's function tables.
pub trait Model {
    /// The object's state; hashed and compared to prune states already explored.
    type State: Clone + Eq + Hash + Debug + Send;
    /// What a client asks.
    type Input: Debug + Send + Sync;
    /// What a client is told.
    type Output: Debug + Send + Sync;

    /// The state before any operation.
    fn init() -> Self::State;

    /// Applies `input` to `state` if `output` is a possible answer there, giving the next
    /// state; `None` if that answer is impossible. `output` is `None` when the client never
    /// heard back: any answer is then acceptable.
    fn step(
        state: &Self::State,
        input: &Self::Input,
        output: Option<&Self::Output>,
    ) -> Option<Self::State>;

    /// True if `input` never changes the state, whatever the state and output (a read).
    ///
    /// The search then takes such an operation as soon as its output fits, without branching:
    /// if any order of the rest works, one that starts with the read works too, since moving a
    /// read earlier changes no state and breaks no real-time edge. Saying `false` is always
    /// safe, only slower.
    fn is_read_only(_input: &Self::Input) -> bool {
        false
    }

    /// About how many bytes a state holds, heap included; bounds the memory of the search's
    /// memo. The default counts only the inline size.
    fn state_bytes(_state: &Self::State) -> usize {
        std::mem::size_of::<Self::State>()
    }

    /// Splits a history into independent sub-histories, each checked on its own (a history is
    /// linearizable iff every partition is, when the parts touch disjoint objects).
    fn partition(
        history: Vec<Operation<Self::Input, Self::Output>>,
    ) -> Vec<Vec<Operation<Self::Input, Self::Output>>> {
        vec![history]
    }

    /// Shows one operation in a violation report; the default uses `Debug`.
    fn describe_operation(input: &Self::Input, output: Option<&Self::Output>) -> String {
        match output {
            Some(output) => format!("{input:?} -> {output:?}"),
            None => format!("{input:?} -> ?"),
        }
    }

    /// Names a partition in a violation report (e.g. its key).
    fn describe_partition(_partition: &[Operation<Self::Input, Self::Output>]) -> String {
        String::new()
    }
}
