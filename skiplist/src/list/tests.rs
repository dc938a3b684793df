//! Unit tests for the list's core operations.

use super::*;

#[test]
fn insert_does_not_overwrite_and_insert_or_set_does() {
    let mut list = SkipList::seeded(1);
    assert!(list.insert("b".to_string(), 2));
    assert!(list.insert("a".to_string(), 1));
    assert!(!list.insert("b".to_string(), 20));
    assert_eq!(list.search("b"), Some(&2));
    assert_eq!(list.insert_or_set("b".to_string(), 22), Some(2));
    assert_eq!(list.insert_or_set("c".to_string(), 3), None);
    assert_eq!(list.search("b"), Some(&22));
    assert_eq!((list.len(), list.size()), (3, 3));
    assert!(list.contains_key("c") && !list.contains_key("z"));
}

#[test]
fn delete_returns_the_value_and_lowers_the_level() {
    let mut list = SkipList::seeded(2);
    list.insert_with_height(1, "one", 1);
    list.insert_with_height(5, "five", 4);
    list.insert_with_height(9, "nine", 2);
    assert_eq!(list.level(), 4);
    assert_eq!(list.delete(&4), None);
    assert_eq!(list.delete(&5), Some("five"));
    assert_eq!(list.level(), 2);
    assert_eq!(list.search(&5), None);
    assert_eq!(list.search(&9), Some(&"nine"));
    assert_eq!(list.delete(&9), Some("nine"));
    assert_eq!(list.delete(&1), Some("one"));
    assert_eq!((list.len(), list.level(), list.is_empty()), (0, 0, true));
    assert_eq!(list.delete(&1), None);
}

#[test]
fn freed_slots_are_reused() {
    let mut list = SkipList::seeded(3);
    for k in 0..100 {
        list.insert(k, k);
    }
    for k in 0..50 {
        assert_eq!(list.delete(&k), Some(k));
    }
    for k in 100..150 {
        list.insert(k, k);
    }
    assert_eq!(list.nodes.len(), 100, "the arena did not grow");
    assert!(list.iter().map(|(k, _)| *k).eq(50..150));
}

#[test]
fn get_mut_changes_the_value_in_place() {
    let mut list: SkipList<u32, Vec<u8>> = SkipList::seeded(4);
    list.insert(7, vec![1]);
    list.get_mut(&7).unwrap().push(2);
    assert_eq!(list.search(&7), Some(&vec![1, 2]));
    assert!(list.get_mut(&8).is_none());
}

#[test]
fn a_single_level_list_still_works() {
    let config = Config {
        max_level: 1,
        seed: Some(5),
    };
    let mut list = SkipList::with_config(config).unwrap();
    for k in [5, 3, 9, 1] {
        assert!(list.insert(k, ()));
    }
    assert_eq!(list.level(), 1);
    assert_eq!(list.delete(&3), Some(()));
    assert!(list.iter().map(|(k, _)| *k).eq([1, 5, 9]));
    let bad = Config {
        max_level: 0,
        seed: None,
    };
    assert!(SkipList::<u8, u8>::with_config(bad).is_err());
}

#[test]
fn clear_empties_and_the_list_stays_usable() {
    let mut list: SkipList<_, _> = (0..10).map(|k| (k, k * 2)).collect();
    list.clear();
    assert!(list.is_empty() && list.iter().next().is_none());
    list.insert(1, 1);
    assert_eq!(list.search(&1), Some(&1));
}

#[test]
fn equality_ignores_shape_and_debug_reads_like_a_map() {
    let a: SkipList<_, _> = [(2, 'b'), (1, 'a')].into_iter().collect();
    let mut b = SkipList::seeded(99);
    b.insert(1, 'a');
    b.insert(2, 'b');
    assert_eq!(a, b);
    assert_eq!(format!("{a:?}"), "{1: 'a', 2: 'b'}");
    b.insert_or_set(2, 'c');
    assert_ne!(a, b);
}
