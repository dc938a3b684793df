//! Unit tests for ByteSkipList: the operations, compaction, and freezing.

use std::collections::BTreeMap;

use super::*;

fn key(i: u32) -> Vec<u8> {
    format!("key-{i:08}").into_bytes()
}

#[test]
fn insert_search_overwrite_append_delete() {
    let mut list = ByteSkipList::seeded(1);
    assert!(list.insert(b"b", b"2"));
    assert!(list.insert(b"a", b"1"));
    assert!(!list.insert(b"b", b"20"));
    assert_eq!(list.search(b"b"), Some(&b"2"[..]));
    assert!(list.insert_or_set(b"b", b"22"));
    assert!(!list.insert_or_set(b"c", b""));
    assert_eq!(list.append(b"c", b"x"), 1);
    assert_eq!(list.append(b"c", b"yz"), 3);
    assert_eq!(list.append(b"d", b"new"), 3);
    assert_eq!(list.search(b"c"), Some(&b"xyz"[..]));
    assert_eq!(list.search(b"d"), Some(&b"new"[..]));
    assert_eq!(list.len(), 4);
    assert!(list.delete(b"a"));
    assert!(!list.delete(b"a"));
    assert!(!list.delete(b"zz"));
    let all: Vec<_> = list.iter().collect();
    assert_eq!(
        all,
        [(&b"b"[..], &b"22"[..]), (b"c", b"xyz"), (b"d", b"new")]
    );
}

#[test]
fn empty_keys_and_values_are_entries_too() {
    let mut list = ByteSkipList::seeded(2);
    assert!(list.insert(b"", b""));
    assert_eq!(list.search(b""), Some(&b""[..]));
    assert!(list.contains_key(b"") && !list.contains_key(b"\0"));
    assert!(list.insert(b"\0", b"v"));
    assert_eq!(
        list.iter().map(|(k, _)| k.len()).collect::<Vec<_>>(),
        [0, 1]
    );
    assert!(list.delete(b""));
    assert_eq!((list.len(), list.level() >= 1), (1, true));
}

#[test]
fn deleting_everything_lowers_the_level_to_zero_and_the_list_stays_usable() {
    let mut list = ByteSkipList::seeded(3);
    for i in 0..500 {
        list.insert(&key(i), b"v");
    }
    for i in 0..500 {
        assert!(list.delete(&key(i)));
    }
    assert_eq!((list.len(), list.level(), list.iter().count()), (0, 0, 0));
    list.insert(b"k", b"v");
    assert_eq!(list.search(b"k"), Some(&b"v"[..]));
    list.clear();
    assert!(list.is_empty() && list.memory().total() < 1024);
}

#[test]
fn ranges_honour_every_kind_of_bound() {
    let list = ByteSkipList::from_sorted((0..20u8).step_by(2).map(|k| ([k], [k]))).unwrap();
    let keys = |it: Entries<'_>| it.map(|(k, _)| k[0]).collect::<Vec<_>>();
    use Bound::*;
    assert_eq!(keys(list.range(Included(&[4]), Excluded(&[10]))), [4, 6, 8]);
    assert_eq!(
        keys(list.range(Excluded(&[4]), Included(&[10]))),
        [6, 8, 10]
    );
    assert_eq!(keys(list.range(Unbounded, Excluded(&[3]))), [0, 2]);
    assert_eq!(keys(list.iter_from(&[15])), [16, 18]);
    assert!(keys(list.range(Included(&[5]), Excluded(&[6]))).is_empty());
    assert!(keys(list.range(Included(&[12]), Excluded(&[4]))).is_empty());
    assert!(keys(list.iter_from(&[19])).is_empty());
    assert_eq!(list.iter().size_hint(), (10, Some(10)));
}

#[test]
fn large_values_get_their_own_chunk_and_give_it_back() {
    let mut list = ByteSkipList::seeded(4);
    let big = vec![9u8; 1 << 20];
    list.insert(b"big", &big);
    list.insert(b"small", b"s");
    assert_eq!(list.search(b"big"), Some(&big[..]));
    let before = list.memory().blob_bytes;
    assert!(before >= big.len());
    list.insert_or_set(b"big", b"tiny now");
    assert!(list.memory().blob_bytes < before - big.len() + 64);
    assert_eq!(list.search(b"big"), Some(&b"tiny now"[..]));
}

/// Overwrites make garbage; compaction keeps it under about 1/8 of the
/// blob bytes (plus the four-chunk floor of the budget and the tail's
/// room) and moves live entries without losing any.
#[test]
fn compaction_bounds_garbage_and_keeps_every_entry() {
    let mut list = ByteSkipList::seeded(5);
    let mut model = BTreeMap::new();
    let n = 40_000;
    for i in 0..n {
        list.insert(&key(i), &[0; 100]);
        model.insert(key(i), vec![0; 100]);
    }
    for round in 0..6u32 {
        for i in 0..n {
            // Each round rewrites a scattered third of the keys, so chunks
            // die partly, never whole; odd rounds change lengths.
            if (i.wrapping_mul(2_654_435_761) >> 7).wrapping_add(round) % 3 != 0 {
                continue;
            }
            let value = vec![(i + round) as u8; 90 + (round as usize % 2) * 20];
            list.insert_or_set(&key(i), &value);
            model.insert(key(i), value);
            if i % 997 == 0 {
                let m = list.memory();
                let garbage = m.blob_bytes - m.live_entry_bytes;
                assert!(
                    garbage <= m.live_entry_bytes / 7 + 5 * blobs::CHUNK_BYTES,
                    "round {round}: {garbage} garbage bytes for {} live",
                    m.live_entry_bytes
                );
            }
        }
    }
    for i in (0..n).step_by(3) {
        list.delete(&key(i));
        model.remove(&key(i));
        if i % 2 == 0 {
            list.append(&key(i + 1), b"+tail");
            model
                .get_mut(&key(i + 1))
                .unwrap()
                .extend_from_slice(b"+tail");
        }
    }
    assert!(list.iter().eq(model.iter().map(|(k, v)| (&k[..], &v[..]))));
    for (k, v) in &model {
        assert_eq!(list.search(k), Some(&v[..]));
    }
    let m = list.memory();
    assert!(m.blob_bytes - m.live_entry_bytes <= m.live_entry_bytes / 7 + 5 * blobs::CHUNK_BYTES);
}

#[test]
fn a_frozen_image_keeps_its_entries_while_the_list_changes() {
    let mut list = ByteSkipList::seeded(6);
    for i in 0..3000 {
        list.insert(&key(i), &i.to_le_bytes());
    }
    let frozen = list.freeze();
    for i in 0..3000 {
        match i % 4 {
            0 => assert!(list.delete(&key(i))),
            1 => assert!(list.insert_or_set(&key(i), b"new")),
            2 => {
                list.append(&key(i), b"!");
            }
            _ => assert!(list.insert(&key(i + 10_000), b"more")),
        }
    }
    assert_eq!(frozen.len(), 3000);
    assert!(frozen
        .iter()
        .map(|(k, v)| (k.to_vec(), v.to_vec()))
        .eq((0..3000u32).map(|i| (key(i), i.to_le_bytes().to_vec()))));
    assert_eq!(frozen.search(&key(4)), Some(&4u32.to_le_bytes()[..]));
    assert_eq!(list.search(&key(4)), None);
    assert_eq!(list.search(&key(5)), Some(&b"new"[..]));
    assert_eq!(list.len(), 3000 - 750 + 750);
}

#[test]
fn compaction_leaves_chunks_a_frozen_image_holds_alone_and_resumes_after() {
    let mut list = ByteSkipList::seeded(7);
    let value = [1u8; 100];
    for i in 0..20_000 {
        list.insert(&key(i), &value);
    }
    let frozen = list.freeze();
    let shared = list.memory().blob_bytes;
    // Delete 90%: the image holds every old chunk, so nothing can move and
    // nothing is copied for it.
    for i in 0..20_000 {
        if i % 10 != 0 {
            list.delete(&key(i));
        }
    }
    assert!(list.memory().blob_bytes <= shared);
    assert_eq!(frozen.iter().count(), 20_000);
    drop(frozen);
    // With the image gone, the next writes of any kind (here same-length
    // overwrites, which make no garbage themselves) squeeze out the dead
    // 90%, down to the budget's floor of four chunks of garbage.
    for _ in 0..2 {
        for i in (0..20_000).step_by(10) {
            list.insert_or_set(&key(i), &value);
        }
    }
    let m = list.memory();
    assert!(
        m.blob_bytes <= m.live_entry_bytes + 5 * blobs::CHUNK_BYTES,
        "{m:?} (before: {shared} blob bytes)"
    );
    assert_eq!(list.len(), 2000);
    assert!(list.iter().all(|(_, v)| v == value));
}

#[test]
fn a_same_length_overwrite_is_in_place_unless_an_image_shares_the_bytes() {
    let mut list = ByteSkipList::seeded(8);
    for i in 0..5000 {
        list.insert(&key(i), &[1; 100]);
    }
    let before = list.memory();
    for i in 0..5000 {
        assert!(list.insert_or_set(&key(i), &[2; 100]));
    }
    assert_eq!(list.memory(), before, "no new blob, no garbage");
    assert!(list.iter().all(|(_, v)| v == [2; 100]));

    let image = list.freeze();
    for i in 0..5000 {
        list.insert_or_set(&key(i), &[3; 100]);
    }
    assert!(
        image.iter().all(|(_, v)| v == [2; 100]),
        "the image changed"
    );
    assert!(list.iter().all(|(_, v)| v == [3; 100]));
}

#[test]
fn a_clone_shares_chunks_and_then_goes_its_own_way() {
    let mut a = ByteSkipList::seeded(9);
    for i in 0..1000 {
        a.insert(&key(i), b"a");
    }
    let mut b = a.clone();
    a.insert_or_set(&key(1), b"A");
    b.delete(&key(1));
    b.append(&key(2), b"b");
    assert_eq!(a.search(&key(1)), Some(&b"A"[..]));
    assert_eq!(a.search(&key(2)), Some(&b"a"[..]));
    assert_eq!(b.search(&key(1)), None);
    assert_eq!(b.search(&key(2)), Some(&b"ab"[..]));
    assert_eq!((a.len(), b.len()), (1000, 999));
}

/// Walks every level from the head: keys rise along each, and the last
/// tower reached on each is the one the list keeps as its tail.
fn assert_levels_sorted_and_tail_last(list: &ByteSkipList) {
    for lvl in 0..MAX_LEVEL_CAP {
        if lvl >= list.arena.head.len() {
            assert_eq!(list.tail[lvl], Pos::Head, "tail above the top level");
            continue;
        }
        let mut pos = Pos::Head;
        let mut previous: Option<&[u8]> = None;
        while let Some(id) = list.arena.next(pos, lvl) {
            let key = list.arena.key(id);
            assert!(previous.is_none_or(|p| p < key), "level {lvl} out of order");
            previous = Some(key);
            pos = Pos::At(id);
        }
        assert_eq!(list.tail[lvl], pos, "tail of level {lvl}");
    }
}

#[test]
fn appends_past_the_largest_key_link_at_the_tail_on_every_level() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
    let mut list = ByteSkipList::seeded(8);
    let mut model = BTreeMap::new();
    let mut next_ascending = 1_000_000u32;
    for step in 0..20_000u32 {
        let roll = rng.random_range(0..10);
        let k = match roll {
            // Past the largest key: the shortcut.
            0..=3 => {
                next_ascending += 1;
                key(next_ascending)
            }
            // Anywhere, present or not.
            4..=6 => key(rng.random_range(0..next_ascending + 2)),
            // The largest key itself, so deletes keep moving the tail back.
            _ => model.keys().next_back().cloned().unwrap_or_else(|| key(0)),
        };
        match roll {
            0..=4 => {
                let value = step.to_le_bytes();
                assert_eq!(
                    list.insert_or_set(&k, &value),
                    model.insert(k, value.to_vec()).is_some()
                );
            }
            5 => assert_eq!(list.append(&k, b"+"), {
                let v = model.entry(k).or_default();
                v.push(b'+');
                v.len()
            }),
            _ => assert_eq!(list.delete(&k), model.remove(&k).is_some()),
        }
        if step % 1000 == 0 {
            assert_levels_sorted_and_tail_last(&list);
        }
    }
    assert_levels_sorted_and_tail_last(&list);
    assert!(list.iter().eq(model.iter().map(|(k, v)| (&k[..], &v[..]))));
    for (k, v) in &model {
        assert_eq!(list.search(k), Some(&v[..]));
    }
    list.clear();
    assert_levels_sorted_and_tail_last(&list);
    assert!(list.insert(b"a", b"1") && list.insert(b"b", b"2"));
    assert_eq!(list.iter().count(), 2);
}
