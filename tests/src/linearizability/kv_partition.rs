//! How a KV history is split into parts checked on their own: by key, with the keys that a
//! Scan covers kept together.
//!
//! A history is linearizable iff every part is, when the parts touch disjoint keys. A Scan
//! reads every key in the range its page covered (from its start key to where the page
//! stopped), including the keys it found absent, so it is checked together with every
//! operation on every key of the history in that range: a union-find merges those keys into
//! one part. A Scan whose range holds no key of the history is a part of its own (its page
//! must be empty). Keys no Scan joins stay alone, as before Scans existed. So a workload should
//! keep its scans to small fixed groups of keys: a scan over everything makes the whole
//! history one part, which is still correct but can take the search far longer.

use std::collections::{BTreeSet, HashMap};

use super::kv::{KvInput, KvOp, KvOutput};
use super::Operation;

type KvOperation = Operation<KvInput, KvOutput>;

/// The parts of `history`, in order of first appearance, without the unanswered operations
/// that provably make no difference:
/// - unanswered Gets and Scans: they change nothing and any answer fits, so they can always
///   go last;
/// - in a part of Gets, Puts and Appends only, the unanswered Puts and Appends whose
///   (non-empty) value no Get ever saw, not even inside a longer value: had one taken effect,
///   every read until the next Put would contain its value, so no read came before the next
///   Put, and dropping it changes no read. Keeping them would let the search try each one at
///   every step, which explodes with many. (A Delete, Cas or Scan can observe a write without
///   showing its value — a Delete that found the key, a Cas that swapped — so parts with those
///   keep every write.)
pub(super) fn partition(history: Vec<KvOperation>) -> Vec<Vec<KvOperation>> {
    let history: Vec<KvOperation> = history
        .into_iter()
        .filter(|op| !(is_read(&op.input) && op.output.is_none()))
        .collect();
    let keys: Vec<String> = history
        .iter()
        .flat_map(|op| {
            let own = (op.input.op != KvOp::Scan).then_some(op.input.key.as_str());
            let seen = op.output.iter().flat_map(|out| out.items.iter());
            own.into_iter().chain(seen.map(|(k, _)| k.as_str()))
        })
        .collect::<BTreeSet<&str>>()
        .into_iter()
        .map(str::to_string)
        .collect();
    let mut sets = UnionFind::new(keys.len());
    // The keys each answered Scan covered, as a range of `keys`.
    let spans: Vec<Option<(usize, usize)>> = history
        .iter()
        .map(|op| {
            let out = op.output.as_ref().filter(|_| op.input.op == KvOp::Scan)?;
            let lo = keys.partition_point(|k| *k < op.input.key);
            let hi = lo + keys[lo..].partition_point(|k| op.input.covers(out, k));
            (hi > lo).then_some((lo, hi))
        })
        .collect();
    for &(lo, hi) in spans.iter().flatten() {
        for i in lo + 1..hi {
            sets.union(lo, i);
        }
    }

    let mut slot_of_root: HashMap<usize, usize> = HashMap::new();
    let mut parts: Vec<Vec<KvOperation>> = Vec::new();
    for (op, span) in history.into_iter().zip(spans) {
        let key_index = match (op.input.op, span) {
            (KvOp::Scan, Some((lo, _))) => Some(lo),
            (KvOp::Scan, None) => None,
            _ => keys.binary_search(&op.input.key).ok(),
        };
        let slot = match key_index {
            Some(i) => *slot_of_root.entry(sets.find(i)).or_insert_with(|| {
                parts.push(Vec::new());
                parts.len() - 1
            }),
            None => {
                parts.push(Vec::new());
                parts.len() - 1
            }
        };
        parts[slot].push(op);
    }
    for part in &mut parts {
        drop_unseen_lost_writes(part);
    }
    parts
}

/// Names a part: its key, or the keys it holds and how many Scans joined them.
pub(super) fn describe(part: &[KvOperation]) -> String {
    let keys: BTreeSet<&str> = part
        .iter()
        .filter(|op| op.input.op != KvOp::Scan)
        .map(|op| op.input.key.as_str())
        .collect();
    let scans = part.iter().filter(|op| op.input.op == KvOp::Scan).count();
    match (keys.len(), scans) {
        (0, 0) => String::new(),
        (1, 0) => format!("key {:?}", keys.first().expect("one key")),
        _ => format!("keys {keys:?} joined by {scans} scan(s)"),
    }
}

fn is_read(input: &KvInput) -> bool {
    matches!(input.op, KvOp::Get | KvOp::Scan)
}

/// Removes the unanswered Puts and Appends of a part whose value no answered Get contains, if
/// the part holds only Gets, Puts and Appends.
fn drop_unseen_lost_writes(part: &mut Vec<KvOperation>) {
    let lost_write = |op: &KvOperation| {
        op.output.is_none()
            && matches!(op.input.op, KvOp::Put | KvOp::Append)
            && !op.input.value.is_empty()
    };
    let simple = part
        .iter()
        .all(|op| matches!(op.input.op, KvOp::Get | KvOp::Put | KvOp::Append));
    if !simple || !part.iter().any(lost_write) {
        return;
    }
    let reads: Vec<String> = part
        .iter()
        .filter(|op| op.input.op == KvOp::Get)
        .filter_map(|op| op.output.as_ref().map(|out| out.value.clone()))
        .collect();
    part.retain(|op| !lost_write(op) || reads.iter().any(|r| r.contains(&op.input.value)));
}

/// Disjoint sets of key indices (path halving, union by size).
struct UnionFind {
    parent: Vec<usize>,
    size: Vec<usize>,
}

impl UnionFind {
    fn new(n: usize) -> Self {
        UnionFind {
            parent: (0..n).collect(),
            size: vec![1; n],
        }
    }

    fn find(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    fn union(&mut self, a: usize, b: usize) {
        let (mut a, mut b) = (self.find(a), self.find(b));
        if a == b {
            return;
        }
        if self.size[a] < self.size[b] {
            std::mem::swap(&mut a, &mut b);
        }
        self.parent[b] = a;
        self.size[a] += self.size[b];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linearizability::{KvModel, Model};

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

    #[test]
    fn a_delete_or_cas_keeps_every_lost_write_of_its_key() {
        for observer in [
            Operation::completed(3, KvInput::delete("k"), 5, KvOutput::deleted(true), 9),
            Operation::completed(3, KvInput::cas("k", None, "v"), 5, KvOutput::swapped(), 9),
        ] {
            let history = vec![
                Operation::unanswered(1, KvInput::put("k", "unseen"), 0),
                observer,
            ];
            assert_eq!(KvModel::partition(history)[0].len(), 2);
        }
    }

    #[test]
    fn a_scan_joins_the_keys_it_covered_and_no_others() {
        let out = KvOutput::default;
        let history = vec![
            Operation::completed(0, KvInput::put("a", "1"), 0, out(), 1),
            Operation::completed(0, KvInput::put("b", "2"), 0, out(), 1),
            Operation::completed(0, KvInput::put("c", "3"), 0, out(), 1),
            Operation::completed(0, KvInput::put("d", "4"), 0, out(), 1),
            // Covers a and b (its page stopped at c), though it saw only a.
            Operation::completed(
                1,
                KvInput::scan("a", ""),
                2,
                KvOutput::page(&[("a", "1")], Some("c")),
                3,
            ),
            // Covers nothing of the history.
            Operation::completed(1, KvInput::scan("x", "z"), 2, KvOutput::page(&[], None), 3),
            Operation::unanswered(2, KvInput::scan("", ""), 2),
        ];
        let parts = KvModel::partition(history);
        let sizes: Vec<usize> = parts.iter().map(Vec::len).collect();
        assert_eq!(sizes, [3, 1, 1, 1]);
        assert_eq!(
            KvModel::describe_partition(&parts[0]),
            "keys {\"a\", \"b\"} joined by 1 scan(s)"
        );
        assert_eq!(KvModel::describe_partition(&parts[1]), "key \"c\"");
    }
}
