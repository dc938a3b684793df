//! Model tests: a ByteSkipList behaves like a BTreeMap, and every FrozenList keeps exactly the entries of its moment.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::thread;

use proptest::prelude::*;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use skiplist::{ByteSkipList, FrozenList};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

#[derive(Debug, Clone)]
enum Op {
    Insert(u8, Vec<u8>),
    InsertOrSet(u8, Vec<u8>),
    Append(u8, Vec<u8>),
    Delete(u8),
    Search(u8),
    IterFrom(u8),
    Range(Bound<u8>, Bound<u8>),
    Freeze,
    /// Drops the image at this index (modulo the number held).
    Thaw(usize),
}

/// Keys from a small space so that writes collide; lengths vary so that
/// keys are prefixes of each other.
fn key(k: u8) -> Vec<u8> {
    let mut key = vec![b'k'; usize::from(k % 5)];
    key.push(k);
    key
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        20 => prop::collection::vec(any::<u8>(), 0..120),
        // Past a quarter chunk: a blob with a chunk of its own.
        1 => (any::<u8>(), 65_000usize..70_000).prop_map(|(b, n)| vec![b; n]),
    ]
}

fn bound() -> impl Strategy<Value = Bound<u8>> {
    prop_oneof![
        Just(Bound::Unbounded),
        (0..50u8).prop_map(Bound::Included),
        (0..50u8).prop_map(Bound::Excluded),
    ]
}

/// Whether BTreeMap::range accepts these bounds (it panics on an inverted
/// or empty-excluded range, where ours yields nothing).
fn valid_range(lo: &Bound<Vec<u8>>, hi: &Bound<Vec<u8>>) -> bool {
    match (lo, hi) {
        (Bound::Excluded(a), Bound::Excluded(b)) => a < b,
        (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => {
            a <= b
        }
        _ => true,
    }
}

fn op() -> impl Strategy<Value = Op> {
    let k = 0..48u8;
    prop_oneof![
        4 => (k.clone(), value()).prop_map(|(k, v)| Op::Insert(k, v)),
        4 => (k.clone(), value()).prop_map(|(k, v)| Op::InsertOrSet(k, v)),
        3 => (k.clone(), value()).prop_map(|(k, v)| Op::Append(k, v)),
        4 => k.clone().prop_map(Op::Delete),
        1 => k.clone().prop_map(Op::Search),
        1 => k.prop_map(Op::IterFrom),
        1 => (bound(), bound()).prop_map(|(lo, hi)| Op::Range(lo, hi)),
        1 => Just(Op::Freeze),
        1 => any::<usize>().prop_map(Op::Thaw),
    ]
}

fn same(list_or_image: skiplist::Entries<'_>, model: &Model) -> bool {
    list_or_image.eq(model.iter().map(|(k, v)| (&k[..], &v[..])))
}

fn run(seed: u64, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut list = ByteSkipList::seeded(seed);
    let mut model = Model::new();
    let mut images: Vec<(FrozenList, Model)> = Vec::new();
    for op in ops {
        match op {
            Op::Insert(k, v) => {
                let fresh = !model.contains_key(&key(*k));
                if fresh {
                    model.insert(key(*k), v.clone());
                }
                prop_assert_eq!(list.insert(&key(*k), v), fresh);
            }
            Op::InsertOrSet(k, v) => {
                let replaced = model.insert(key(*k), v.clone()).is_some();
                prop_assert_eq!(list.insert_or_set(&key(*k), v), replaced);
            }
            Op::Append(k, v) => {
                let entry = model.entry(key(*k)).or_default();
                entry.extend_from_slice(v);
                prop_assert_eq!(list.append(&key(*k), v), entry.len());
            }
            Op::Delete(k) => {
                prop_assert_eq!(list.delete(&key(*k)), model.remove(&key(*k)).is_some())
            }
            Op::Search(k) => {
                prop_assert_eq!(list.search(&key(*k)), model.get(&key(*k)).map(|v| &v[..]))
            }
            Op::IterFrom(k) => {
                let from = (Bound::Included(key(*k)), Bound::Unbounded);
                let theirs = model.range(from).map(|(k, v)| (&k[..], &v[..]));
                prop_assert!(list.iter_from(&key(*k)).eq(theirs));
            }
            Op::Range(lo, hi) => {
                let (lo, hi) = (lo.map(key), hi.map(key));
                let ours: Vec<_> = list
                    .range(lo.as_ref().map(|k| &k[..]), hi.as_ref().map(|k| &k[..]))
                    .collect();
                if valid_range(&lo, &hi) {
                    let theirs: Vec<_> = model
                        .range((lo, hi))
                        .map(|(k, v)| (&k[..], &v[..]))
                        .collect();
                    prop_assert_eq!(ours, theirs);
                } else {
                    prop_assert!(ours.is_empty());
                }
            }
            Op::Freeze => images.push((list.freeze(), model.clone())),
            Op::Thaw(i) => {
                if !images.is_empty() {
                    let at = i % images.len();
                    images.swap_remove(at);
                }
            }
        }
        prop_assert_eq!(list.len(), model.len());
    }
    prop_assert!(same(list.iter(), &model));
    for (image, then) in &images {
        prop_assert_eq!(image.len(), then.len());
        prop_assert!(same(image.iter(), then));
        for (k, v) in then {
            prop_assert_eq!(image.search(k), Some(&v[..]));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn images_keep_their_moment_and_the_list_follows_the_model(
        ops in prop::collection::vec(op(), 1..250),
        seed in any::<u64>(),
    ) {
        run(seed, &ops)?;
    }
}

/// Enough writes (about 10 MB of garbage) to make compaction run many
/// times, with images taken and dropped along the way.
#[test]
fn heavy_mutation_with_compaction_keeps_every_image_exact() {
    let mut rng = SmallRng::seed_from_u64(9);
    let mut list = ByteSkipList::seeded(9);
    let mut model = Model::new();
    let mut images: Vec<(FrozenList, Model)> = Vec::new();
    for step in 0..120_000u32 {
        let k = format!("user{:05}", rng.random_range(0..6000u32)).into_bytes();
        let v = vec![step as u8; rng.random_range(60..140)];
        match rng.random_range(0..10) {
            0..=3 => {
                list.insert_or_set(&k, &v);
                model.insert(k, v);
            }
            4..=5 => {
                let grown = model.entry(k.clone()).or_default();
                grown.extend_from_slice(&v[..8]);
                grown.truncate(grown.len());
                assert_eq!(list.append(&k, &v[..8]), grown.len());
                if grown.len() > 400 {
                    list.insert_or_set(&k, &v);
                    model.insert(k, v);
                }
            }
            6..=8 => assert_eq!(list.delete(&k), model.remove(&k).is_some()),
            _ => assert_eq!(
                list.insert(&k, &v),
                !model.contains_key(&k) && {
                    model.insert(k, v);
                    true
                }
            ),
        }
        if step % 20_000 == 0 {
            images.push((list.freeze(), model.clone()));
        }
        if step % 30_000 == 29_999 {
            images.remove(0);
        }
    }
    assert!(same(list.iter(), &model));
    assert_eq!(images.len(), 2);
    for (image, then) in &images {
        assert!(same(image.iter(), then));
    }
}

/// The reason it exists: a snapshot thread reads the image while the
/// owner keeps writing.
#[test]
fn an_image_is_read_on_another_thread_while_the_list_changes() {
    let mut list = ByteSkipList::seeded(10);
    let mut model = Model::new();
    for i in 0..20_000u32 {
        let (k, v) = (i.to_be_bytes().to_vec(), vec![i as u8; 100]);
        list.insert(&k, &v);
        model.insert(k, v);
    }
    let image = list.freeze();
    let reader = thread::spawn(move || same(image.iter(), &model) && image.len() == 20_000);
    for i in 0..20_000u32 {
        let k = i.to_be_bytes();
        match i % 3 {
            0 => list.delete(&k),
            1 => list.insert_or_set(&k, b"changed"),
            _ => list.append(&k, b"!") > 0,
        };
        list.insert(&(i + 1_000_000).to_be_bytes(), b"new");
    }
    assert!(reader.join().expect("the reader does not panic"));
    assert_eq!(list.len(), 20_000 - 6667 + 20_000);
}
