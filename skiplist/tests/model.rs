//! Property tests: a SkipList behaves exactly like a BTreeMap under random operations.

use std::collections::BTreeMap;
use std::ops::Bound;

use proptest::prelude::*;
use skiplist::{Config, SkipList};

/// A small key space so that inserts collide and deletes hit.
const KEYS: u16 = 64;

#[derive(Debug, Clone)]
enum Op {
    Insert(u16, u32),
    InsertOrSet(u16, u32),
    Delete(u16),
    Search(u16),
    GetMut(u16, u32),
    Range(Bound<u16>, Bound<u16>),
    Iter,
}

fn bound() -> impl Strategy<Value = Bound<u16>> {
    prop_oneof![
        Just(Bound::Unbounded),
        (0..KEYS + 2).prop_map(Bound::Included),
        (0..KEYS + 2).prop_map(Bound::Excluded),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..KEYS, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
        2 => (0..KEYS, any::<u32>()).prop_map(|(k, v)| Op::InsertOrSet(k, v)),
        3 => (0..KEYS).prop_map(Op::Delete),
        2 => (0..KEYS).prop_map(Op::Search),
        1 => (0..KEYS, any::<u32>()).prop_map(|(k, v)| Op::GetMut(k, v)),
        1 => (bound(), bound()).prop_map(|(lo, hi)| Op::Range(lo, hi)),
        1 => Just(Op::Iter),
    ]
}

/// Whether BTreeMap::range accepts these bounds (it panics otherwise); the
/// skip list must yield nothing for the ones it rejects.
fn valid_range(lo: Bound<u16>, hi: Bound<u16>) -> bool {
    match (lo, hi) {
        (Bound::Excluded(a), Bound::Excluded(b)) => a < b,
        (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => {
            a <= b
        }
        _ => true,
    }
}

fn check(max_level: usize, seed: u64, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut list = SkipList::with_config(Config {
        max_level,
        seed: Some(seed),
    })
    .unwrap();
    let mut model = BTreeMap::new();
    for op in ops {
        match *op {
            Op::Insert(k, v) => {
                let fresh = !model.contains_key(&k);
                if fresh {
                    model.insert(k, v);
                }
                prop_assert_eq!(list.insert(k, v), fresh);
            }
            Op::InsertOrSet(k, v) => prop_assert_eq!(list.insert_or_set(k, v), model.insert(k, v)),
            Op::Delete(k) => prop_assert_eq!(list.delete(&k), model.remove(&k)),
            Op::Search(k) => prop_assert_eq!(list.search(&k), model.get(&k)),
            Op::GetMut(k, v) => {
                let ours = list.get_mut(&k).map(|x| std::mem::replace(x, v));
                let theirs = model.get_mut(&k).map(|x| std::mem::replace(x, v));
                prop_assert_eq!(ours, theirs);
            }
            Op::Range(lo, hi) => {
                let ours: Vec<_> = list.range((lo, hi)).collect();
                if valid_range(lo, hi) {
                    let theirs: Vec<_> = model.range((lo, hi)).collect();
                    prop_assert_eq!(ours, theirs);
                } else {
                    prop_assert!(ours.is_empty());
                }
            }
            Op::Iter => prop_assert!(list.iter().eq(model.iter())),
        }
        prop_assert_eq!(list.len(), model.len());
        prop_assert_eq!(list.is_empty(), model.is_empty());
        prop_assert!(list.level() <= max_level);
    }
    prop_assert!(list.iter().eq(model.iter()));
    prop_assert_eq!(list.iter().len(), model.len());
    let owned: Vec<_> = list.into_iter().collect();
    prop_assert_eq!(owned, model.into_iter().collect::<Vec<_>>());
    Ok(())
}

proptest! {
    #[test]
    fn behaves_like_a_btreemap(
        ops in prop::collection::vec(op(), 1..300),
        seed in any::<u64>(),
    ) {
        check(32, seed, &ops)?;
    }

    /// Short towers force long runs on every level and a flat list at 1.
    #[test]
    fn behaves_like_a_btreemap_when_short(
        ops in prop::collection::vec(op(), 1..200),
        max_level in 1usize..4,
        seed in any::<u64>(),
    ) {
        check(max_level, seed, &ops)?;
    }

    #[test]
    fn string_keys_borrow_as_str(
        entries in prop::collection::btree_map("[a-c:]{0,4}", any::<u8>(), 0..40),
        probe in "[a-c:]{0,4}",
    ) {
        let list: SkipList<String, u8> = entries.clone().into_iter().collect();
        prop_assert_eq!(list.search(probe.as_str()), entries.get(&probe));
        prop_assert_eq!(list.contains_key(probe.as_str()), entries.contains_key(&probe));
        let from = (Bound::Included(probe.as_str()), Bound::Unbounded);
        let ours: Vec<_> = list.range::<str, _>(from).collect();
        let theirs: Vec<_> = entries.range::<str, _>(from).collect();
        prop_assert_eq!(ours, theirs);
    }
}
