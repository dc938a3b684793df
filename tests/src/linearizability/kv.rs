//! The model of the KV store: one string per key (or none), Get/Put/Append/Delete/Cas on one
//! key and Scan over a key range; partitioned by key (`kv_partition.rs`).

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;

use super::kv_value::Value;
use super::{Model, Operation};

/// The kind of a KV request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KvOp {
    /// Read the key's value ("" if it has none).
    Get,
    /// Replace the key's value.
    Put,
    /// Concatenate to the key's value.
    Append,
    /// Remove the key; the answer says whether it existed.
    Delete,
    /// Set the key to `value` if it holds `expected` (`None`: if it is absent).
    Cas,
    /// Read one page of the keys in [`key`, `end`) (`end` empty: to the end).
    Scan,
}

/// A KV request as the clerk sends it. `key` is the start key of a Scan; `value` is ignored
/// for Get, Delete and Scan.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KvInput {
    pub op: KvOp,
    pub key: String,
    pub value: String,
    /// Cas: the value the key must hold to be swapped; `None`: it must be absent.
    pub expected: Option<String>,
    /// Scan: the end of the range (exclusive); empty: to the end of the store.
    pub end: String,
}

/// One recorded KV operation.
pub type KvOperation = Operation<KvInput, KvOutput>;

/// A recorder of KV operations, shared by the clerks of a test.
pub type KvRecorder = super::Recorder<KvInput, KvOutput>;

/// A KV answer. Get: `value` (the value read, "" if none). Delete: `absent` (the answer was
/// ErrNoKey). Cas: `swapped`, and if not, `value` and `absent` (what it found). Scan: `items`
/// and `next_key`. Put and Append: nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct KvOutput {
    pub value: String,
    pub absent: bool,
    pub swapped: bool,
    pub items: Vec<(String, String)>,
    /// Scan: where the page stopped (exclusive); `None`: it covered the whole range.
    pub next_key: Option<String>,
}

impl KvInput {
    fn new(op: KvOp, key: impl Into<String>, value: impl Into<String>) -> Self {
        KvInput {
            op,
            key: key.into(),
            value: value.into(),
            expected: None,
            end: String::new(),
        }
    }

    /// `Get(key)`.
    pub fn get(key: impl Into<String>) -> Self {
        KvInput::new(KvOp::Get, key, "")
    }

    /// `Put(key, value)`.
    pub fn put(key: impl Into<String>, value: impl Into<String>) -> Self {
        KvInput::new(KvOp::Put, key, value)
    }

    /// `Append(key, value)`.
    pub fn append(key: impl Into<String>, value: impl Into<String>) -> Self {
        KvInput::new(KvOp::Append, key, value)
    }

    /// `Delete(key)`.
    pub fn delete(key: impl Into<String>) -> Self {
        KvInput::new(KvOp::Delete, key, "")
    }

    /// `Cas(key, expected, value)`; `expected` `None`: swap only if the key is absent.
    pub fn cas(key: impl Into<String>, expected: Option<&str>, value: impl Into<String>) -> Self {
        KvInput {
            expected: expected.map(str::to_string),
            ..KvInput::new(KvOp::Cas, key, value)
        }
    }

    /// `Scan(start, end)`: one page; an empty `end` is the end of the store.
    pub fn scan(start: impl Into<String>, end: impl Into<String>) -> Self {
        KvInput {
            end: end.into(),
            ..KvInput::new(KvOp::Scan, start, "")
        }
    }

    /// Whether this Scan, answered `output`, covered `key`: the page spans from the start
    /// key to where it stopped (its `next_key`), or to the range's end if it did not stop.
    pub fn covers(&self, output: &KvOutput, key: &str) -> bool {
        let end = output.next_key.as_deref().unwrap_or(&self.end);
        key >= self.key.as_str() && (end.is_empty() || key < end)
    }
}

impl KvOutput {
    /// The answer to a Get that read `value`.
    pub fn value(value: impl Into<String>) -> Self {
        KvOutput {
            value: value.into(),
            ..KvOutput::default()
        }
    }

    /// The answer to a Delete: whether the key existed.
    pub fn deleted(existed: bool) -> Self {
        KvOutput {
            absent: !existed,
            ..KvOutput::default()
        }
    }

    /// The answer to a Cas that swapped.
    pub fn swapped() -> Self {
        KvOutput {
            swapped: true,
            ..KvOutput::default()
        }
    }

    /// The answer to a Cas that did not swap: what it found (`None`: no key).
    pub fn not_swapped(current: Option<&str>) -> Self {
        KvOutput {
            value: current.unwrap_or_default().to_string(),
            absent: current.is_none(),
            ..KvOutput::default()
        }
    }

    /// The answer to a Scan: its page and where it stopped (`None`: the range is done).
    pub fn page(items: &[(&str, &str)], next_key: Option<&str>) -> Self {
        KvOutput {
            items: items
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            next_key: next_key.map(str::to_string),
            ..KvOutput::default()
        }
    }
}

/// The values of the keys of one partition; a key that is absent has no entry.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct KvState(BTreeMap<String, Value>);

impl fmt::Debug for KvState {
    /// A partition of one key shows just its value, as when the state was one string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.len() {
            1 => write!(f, "{:?}", self.0.values().next().expect("one entry")),
            _ => write!(f, "{:?}", self.0),
        }
    }
}

/// The KV store's sequential specification. A partition holds one key, or the keys that some
/// Scan covers together, so the state is those keys' values.
#[derive(Debug, Clone, Copy)]
pub struct KvModel;

impl Model for KvModel {
    type State = KvState;
    type Input = KvInput;
    type Output = KvOutput;

    fn init() -> KvState {
        KvState::default()
    }

    fn step(state: &KvState, input: &KvInput, output: Option<&KvOutput>) -> Option<KvState> {
        let current = state.0.get(&input.key);
        let with = |value: Option<Value>| {
            let mut next = state.clone();
            match value {
                Some(value) => next.0.insert(input.key.clone(), value),
                None => next.0.remove(&input.key),
            };
            Some(next)
        };
        match input.op {
            KvOp::Get => match output {
                Some(out) if !current.map_or(out.value.is_empty(), |v| v.is(&out.value)) => None,
                _ => Some(state.clone()),
            },
            KvOp::Put => with(Some(Value::new(input.value.as_str()))),
            KvOp::Append => with(Some(match current {
                Some(current) => current.append(&input.value),
                None => Value::new(input.value.as_str()),
            })),
            KvOp::Delete => match output {
                Some(out) if out.absent != current.is_none() => None,
                _ => with(None),
            },
            KvOp::Cas => {
                let matches = match (current, &input.expected) {
                    (Some(current), Some(expected)) => current.is(expected),
                    (None, None) => true,
                    _ => false,
                };
                match output {
                    Some(out) if out.swapped != matches => None,
                    Some(out)
                        if !matches
                            && (out.absent != current.is_none()
                                || current.is_some_and(|c| !c.is(&out.value))) =>
                    {
                        None
                    }
                    _ if matches => with(Some(Value::new(input.value.as_str()))),
                    _ => Some(state.clone()),
                }
            }
            KvOp::Scan => match output {
                Some(out) if !page_matches(state, input, out) => None,
                _ => Some(state.clone()),
            },
        }
    }

    fn is_read_only(input: &KvInput) -> bool {
        matches!(input.op, KvOp::Get | KvOp::Scan)
    }

    /// A value shares its older pieces with the states it grew from, which the memo or the
    /// search's path hold already: only its newest piece is counted.
    fn state_bytes(state: &KvState) -> usize {
        std::mem::size_of::<KvState>()
            + state
                .0
                .iter()
                .map(|(k, v)| k.len() + v.own_bytes() + 2 * std::mem::size_of::<String>())
                .sum::<usize>()
    }

    fn partition(
        history: Vec<Operation<KvInput, KvOutput>>,
    ) -> Vec<Vec<Operation<KvInput, KvOutput>>> {
        super::kv_partition::partition(history)
    }

    /// `Get("k") -> "v"`, `Put("k", "v")`, `Delete("k") -> existed`,
    /// `Cas("k", "e" => "v") -> swapped`, `Scan("a".."c") -> [("a", "1")] next "b"`, `… -> ?`.
    fn describe_operation(input: &KvInput, output: Option<&KvOutput>) -> String {
        let call = match input.op {
            KvOp::Get | KvOp::Delete => format!("{:?}({:?})", input.op, input.key),
            KvOp::Put | KvOp::Append => {
                format!("{:?}({:?}, {:?})", input.op, input.key, input.value)
            }
            KvOp::Cas => match &input.expected {
                Some(expected) => {
                    format!("Cas({:?}, {expected:?} => {:?})", input.key, input.value)
                }
                None => format!("Cas({:?}, absent => {:?})", input.key, input.value),
            },
            KvOp::Scan => format!("Scan({:?}..{:?})", input.key, input.end),
        };
        let Some(out) = output else {
            return match input.op {
                KvOp::Put | KvOp::Append => call,
                _ => format!("{call} -> ?"),
            };
        };
        match input.op {
            KvOp::Get => format!("{call} -> {:?}", out.value),
            KvOp::Put | KvOp::Append => call,
            KvOp::Delete if out.absent => format!("{call} -> no key"),
            KvOp::Delete => format!("{call} -> existed"),
            KvOp::Cas if out.swapped => format!("{call} -> swapped"),
            KvOp::Cas if out.absent => format!("{call} -> not swapped, absent"),
            KvOp::Cas => format!("{call} -> not swapped, found {:?}", out.value),
            KvOp::Scan => match &out.next_key {
                Some(next) => format!("{call} -> {:?} next {next:?}", out.items),
                None => format!("{call} -> {:?}", out.items),
            },
        }
    }

    fn describe_partition(partition: &[Operation<KvInput, KvOutput>]) -> String {
        super::kv_partition::describe(partition)
    }
}

/// Whether a Scan's page is exactly the state's entries in the range it covered.
fn page_matches(state: &KvState, input: &KvInput, out: &KvOutput) -> bool {
    let end = out.next_key.as_deref().unwrap_or(&input.end);
    let upper = if end.is_empty() {
        Bound::Unbounded
    } else {
        Bound::Excluded(end)
    };
    if !end.is_empty() && end < input.key.as_str() {
        // An inverted range: nothing.
        return out.items.is_empty();
    }
    let mut expected = state
        .0
        .range::<str, _>((Bound::Included(input.key.as_str()), upper));
    let mut found = out.items.iter();
    loop {
        match (expected.next(), found.next()) {
            (None, None) => return true,
            (Some((k, v)), Some((fk, fv))) if k == fk && v.is(fv) => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(entries: &[(&str, &str)]) -> KvState {
        KvState(
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), Value::new(*v)))
                .collect(),
        )
    }

    #[test]
    fn get_must_read_the_state_unless_its_answer_is_unknown() {
        let state = state(&[("k", "ab")]);
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
        assert_eq!(format!("{state:?}"), "\"ab\"");
    }

    #[test]
    fn put_replaces_and_append_concatenates() {
        let state = state(&[("k", "ab")]);
        let out = KvOutput::default();
        let put = KvModel::step(&state, &KvInput::put("k", "x"), Some(&out)).unwrap();
        assert_eq!(format!("{put:?}"), "\"x\"");
        let appended = KvModel::step(&state, &KvInput::append("k", "c"), None).unwrap();
        assert_eq!(format!("{appended:?}"), "\"abc\"");
        let fresh = KvModel::step(&KvState::default(), &KvInput::append("j", "c"), None);
        assert_eq!(fresh, Some(super::tests::state(&[("j", "c")])));
    }

    #[test]
    fn delete_must_say_whether_the_key_existed() {
        let full = state(&[("k", "v")]);
        let empty = KvState::default();
        let delete = KvInput::delete("k");
        assert_eq!(
            KvModel::step(&full, &delete, Some(&KvOutput::deleted(true))),
            Some(empty.clone())
        );
        assert_eq!(
            KvModel::step(&full, &delete, Some(&KvOutput::deleted(false))),
            None
        );
        assert_eq!(
            KvModel::step(&empty, &delete, Some(&KvOutput::deleted(false))),
            Some(empty.clone())
        );
        assert_eq!(KvModel::step(&full, &delete, None), Some(empty));
    }

    #[test]
    fn cas_swaps_exactly_when_the_value_matches() {
        let full = state(&[("k", "v")]);
        let swap = KvInput::cas("k", Some("v"), "w");
        let after = KvModel::step(&full, &swap, Some(&KvOutput::swapped()));
        assert_eq!(after, Some(state(&[("k", "w")])));
        assert_eq!(KvModel::step(&full, &swap, None), after);
        assert_eq!(
            KvModel::step(&full, &swap, Some(&KvOutput::not_swapped(Some("v")))),
            None
        );
        let miss = KvInput::cas("k", Some("x"), "w");
        assert_eq!(
            KvModel::step(&full, &miss, Some(&KvOutput::not_swapped(Some("v")))),
            Some(full.clone())
        );
        assert_eq!(
            KvModel::step(&full, &miss, Some(&KvOutput::not_swapped(Some("u")))),
            None,
            "it must report what it found"
        );
        assert_eq!(
            KvModel::step(&full, &miss, Some(&KvOutput::not_swapped(None))),
            None
        );
        assert_eq!(
            KvModel::step(&full, &miss, Some(&KvOutput::swapped())),
            None
        );
        let absent = KvInput::cas("k", None, "w");
        assert_eq!(
            KvModel::step(&KvState::default(), &absent, Some(&KvOutput::swapped())),
            Some(state(&[("k", "w")]))
        );
        assert_eq!(
            KvModel::step(&state(&[("k", "")]), &absent, Some(&KvOutput::swapped())),
            None,
            "an empty value is not absent"
        );
    }

    #[test]
    fn a_scan_page_must_be_the_covered_part_of_the_state() {
        let s = state(&[("a", "1"), ("b", "2"), ("c", "3")]);
        let scan = KvInput::scan("a", "");
        let ok = |out: KvOutput| KvModel::step(&s, &scan, Some(&out)).is_some();
        assert!(ok(KvOutput::page(
            &[("a", "1"), ("b", "2"), ("c", "3")],
            None
        )));
        assert!(ok(KvOutput::page(&[("a", "1")], Some("b"))));
        assert!(ok(KvOutput::page(&[("a", "1")], Some("a0"))));
        assert!(!ok(KvOutput::page(&[("a", "1")], None)), "missing b and c");
        assert!(!ok(KvOutput::page(&[("a", "1")], Some("c"))), "missing b");
        assert!(!ok(KvOutput::page(&[("a", "1"), ("b", "9")], Some("c"))));
        assert!(!ok(KvOutput::page(&[("b", "2"), ("a", "1")], Some("c"))));
        let bounded = KvInput::scan("b", "c");
        assert!(KvModel::step(&s, &bounded, Some(&KvOutput::page(&[("b", "2")], None))).is_some());
        assert!(bounded.covers(&KvOutput::page(&[], None), "b"));
        assert!(!bounded.covers(&KvOutput::page(&[], None), "c"));
    }
}
