//! The model of the KV store: one string per key, Get/Put/Append, keys independent.

use std::collections::HashMap;

use super::{Model, Operation};

/// The kind of a KV request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KvOp {
    /// Read the key's value ("" if never written).
    Get,
    /// Replace the key's value.
    Put,
    /// Concatenate to the key's value.
    Append,
}

/// A KV request as the clerk sends it; `value` is ignored for Get.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KvInput {
    pub op: KvOp,
    pub key: String,
    pub value: String,
}

/// One recorded KV operation.
pub type KvOperation = Operation<KvInput, KvOutput>;

/// A recorder of KV operations, shared by the clerks of a test.
pub type KvRecorder = super::Recorder<KvInput, KvOutput>;

/// A KV answer: the value read, for Get; ignored for Put and Append.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct KvOutput {
    pub value: String,
}

impl KvInput {
    /// `Get(key)`.
    pub fn get(key: impl Into<String>) -> Self {
        KvInput {
            op: KvOp::Get,
            key: key.into(),
            value: String::new(),
        }
    }

    /// `Put(key, value)`.
    pub fn put(key: impl Into<String>, value: impl Into<String>) -> Self {
        KvInput {
            op: KvOp::Put,
            key: key.into(),
            value: value.into(),
        }
    }

    /// `Append(key, value)`.
    pub fn append(key: impl Into<String>, value: impl Into<String>) -> Self {
        KvInput {
            op: KvOp::Append,
            key: key.into(),
            value: value.into(),
        }
    }
}

impl KvOutput {
    /// The answer to a Get that read `value`.
    pub fn value(value: impl Into<String>) -> Self {
        KvOutput {
            value: value.into(),
        }
    }
}

/// The KV store's sequential specification; each partition holds one key, so the state is
/// that key's value.
#[derive(Debug, Clone, Copy)]
pub struct KvModel;

impl Model for KvModel {
    type State = String;
    type Input = KvInput;
    type Output = KvOutput;

    fn init() -> String {
        String::new()
    }

    fn step(state: &String, input: &KvInput, output: Option<&KvOutput>) -> Option<String> {
        match input.op {
            KvOp::Get => match output {
                Some(out) if out.value != *state => None,
                _ => Some(state.clone()),
            },
            KvOp::Put => Some(input.value.clone()),
            KvOp::Append => {
                let mut next = String::with_capacity(state.len() + input.value.len());
                next.push_str(state);
                next.push_str(&input.value);
                Some(next)
            }
        }
    }

    fn is_read_only(input: &KvInput) -> bool {
        input.op == KvOp::Get
    }

    fn state_bytes(state: &String) -> usize {
        std::mem::size_of::<String>() + state.len()
    }

    /// One partition per key, in order of first appearance, without the unanswered operations
    /// that provably make no difference:
    /// - Gets: they change nothing and any answer fits, so they can always go last.
    /// - Puts and Appends whose (non-empty) value no Get of the key ever saw, not even inside a
    ///   longer value: had one taken effect, every read until the next Put would contain its
    ///   value, so no read came before the next Put, and dropping it changes no read. Keeping
    ///   them would let the search try each one at every step, which explodes with many.
    fn partition(
        history: Vec<Operation<KvInput, KvOutput>>,
    ) -> Vec<Vec<Operation<KvInput, KvOutput>>> {
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut parts: Vec<Vec<Operation<KvInput, KvOutput>>> = Vec::new();
        for op in history {
            if op.input.op == KvOp::Get && op.output.is_none() {
                continue;
            }
            let slot = *index.entry(op.input.key.clone()).or_insert_with(|| {
                parts.push(Vec::new());
                parts.len() - 1
            });
            parts[slot].push(op);
        }
        for part in &mut parts {
            drop_unseen_lost_writes(part);
        }
        parts
    }

    /// `Get("k") -> "v"`, `Put("k", "v")`, `Append("k", "v")`, `Get("k") -> ?`.
    fn describe_operation(input: &KvInput, output: Option<&KvOutput>) -> String {
        match (input.op, output) {
            (KvOp::Get, Some(out)) => format!("Get({:?}) -> {:?}", input.key, out.value),
            (KvOp::Get, None) => format!("Get({:?}) -> ?", input.key),
            (op, _) => format!("{op:?}({:?}, {:?})", input.key, input.value),
        }
    }

    fn describe_partition(partition: &[Operation<KvInput, KvOutput>]) -> String {
        partition
            .first()
            .map(|op| format!("key {:?}", op.input.key))
            .unwrap_or_default()
    }
}

/// Removes the unanswered writes of one key whose value no answered Get contains.
fn drop_unseen_lost_writes(part: &mut Vec<Operation<KvInput, KvOutput>>) {
    let lost_write = |op: &Operation<KvInput, KvOutput>| {
        op.output.is_none() && op.input.op != KvOp::Get && !op.input.value.is_empty()
    };
    if !part.iter().any(lost_write) {
        return;
    }
    let reads: Vec<String> = part
        .iter()
        .filter(|op| op.input.op == KvOp::Get)
        .filter_map(|op| op.output.as_ref().map(|out| out.value.clone()))
        .collect();
    part.retain(|op| !lost_write(op) || reads.iter().any(|r| r.contains(&op.input.value)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_must_read_the_state_unless_its_answer_is_unknown() {
        let state = "ab".to_string();
        let get = KvInput::get("k");
        assert_eq!(
            KvModel::step(&state, &get, Some(&KvOutput::value("ab"))),
            Some(state.clone())
        );
        assert_eq!(
            KvModel::step(&state, &get, Some(&KvOutput::value("a"))),
            None
        );
        assert_eq!(KvModel::step(&state, &get, None), Some(state.clone()));
    }

    #[test]
    fn put_replaces_and_append_concatenates() {
        let state = "ab".to_string();
        let out = KvOutput::default();
        assert_eq!(
            KvModel::step(&state, &KvInput::put("k", "x"), Some(&out)).as_deref(),
            Some("x")
        );
        assert_eq!(
            KvModel::step(&state, &KvInput::append("k", "c"), None).as_deref(),
            Some("abc")
        );
    }

    #[test]
    fn partition_groups_by_key_and_drops_unanswered_gets() {
        let out = KvOutput::default;
        let history = vec![
            Operation::completed(0, KvInput::put("a", "1"), 0, out(), 1),
            Operation::completed(1, KvInput::put("b", "2"), 0, out(), 1),
            Operation::unanswered(2, KvInput::get("a"), 2),
            Operation::completed(0, KvInput::get("a"), 2, KvOutput::value("1"), 3),
        ];
        let parts = KvModel::partition(history);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].len(), 2);
        assert_eq!(parts[1].len(), 1);
        assert_eq!(KvModel::describe_partition(&parts[1]), "key \"b\"");
    }

    #[test]
    fn partition_drops_lost_writes_no_read_saw() {
        let history = vec![
            Operation::unanswered(0, KvInput::append("k", "seen"), 0),
            Operation::unanswered(1, KvInput::put("k", "unseen"), 0),
            Operation::unanswered(2, KvInput::append("k", ""), 0),
            Operation::completed(3, KvInput::get("k"), 5, KvOutput::value("xseenx"), 9),
        ];
        let parts = KvModel::partition(history);
        let kept: Vec<usize> = parts[0].iter().map(|op| op.client_id).collect();
        assert_eq!(kept, vec![0, 2, 3]);
    }
}
