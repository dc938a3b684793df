//! Property tests for dump and load: round trips, and no panic on any bytes.

use std::collections::BTreeMap;

use proptest::prelude::*;
use skiplist::{SkipList, SkipListError};

proptest! {
    #[test]
    fn string_lists_round_trip(
        entries in prop::collection::btree_map(".{0,12}", ".{0,12}", 0..100),
    ) {
        let list: SkipList<String, String> = entries.clone().into_iter().collect();
        let back = SkipList::<String, String>::load(&list.dump().unwrap()).unwrap();
        prop_assert!(back.iter().eq(entries.iter()));
        prop_assert_eq!(back, list);
    }

    #[test]
    fn numeric_lists_round_trip(
        entries in prop::collection::btree_map(any::<u64>(), any::<Vec<u8>>(), 0..100),
    ) {
        let list: SkipList<u64, Vec<u8>> = entries.clone().into_iter().collect();
        let back = SkipList::<u64, Vec<u8>>::load(&list.dump().unwrap()).unwrap();
        prop_assert!(back.iter().eq(entries.iter()));
    }

    /// Every strict, non-empty prefix of a dump is an error, never a panic
    /// (the empty prefix is the empty list by design).
    #[test]
    fn truncated_dumps_are_errors(
        entries in prop::collection::btree_map(".{0,6}", any::<u32>(), 1..20),
    ) {
        let list: SkipList<String, u32> = entries.into_iter().collect();
        let bytes = list.dump().unwrap();
        for cut in 1..bytes.len() {
            prop_assert!(SkipList::<String, u32>::load(&bytes[..cut]).is_err(), "prefix {}", cut);
        }
        let mut longer = bytes.clone();
        longer.push(0);
        prop_assert_eq!(
            SkipList::<String, u32>::load(&longer),
            Err(SkipListError::TrailingBytes { extra: 1 })
        );
    }

    /// Arbitrary bytes decode or fail cleanly; whatever decodes is sorted.
    #[test]
    fn random_bytes_never_panic(bytes in any::<Vec<u8>>()) {
        if let Ok(list) = SkipList::<String, String>::load(&bytes) {
            prop_assert!(list.iter().zip(list.iter().skip(1)).all(|(a, b)| a.0 < b.0));
        }
        if let Ok(list) = SkipList::<u64, Vec<u8>>::load(&bytes) {
            prop_assert_eq!(list.iter().count(), list.len());
        }
    }

    /// Flipping any one byte of a valid dump never panics.
    #[test]
    fn corrupted_dumps_never_panic(
        entries in prop::collection::btree_map(".{0,6}", ".{0,6}", 1..20),
        at in any::<prop::sample::Index>(),
        xor in 1u8..,
    ) {
        let list: SkipList<String, String> = entries.into_iter().collect();
        let mut bytes = list.dump().unwrap();
        let i = at.index(bytes.len());
        bytes[i] ^= xor;
        let _ = SkipList::<String, String>::load(&bytes);
    }
}

#[test]
fn a_huge_length_claim_is_an_error() {
    // One entry whose key claims 2^63 bytes.
    let mut bytes = vec![0x01, 0xFD];
    bytes.extend_from_slice(&(1u64 << 63).to_le_bytes());
    let err = SkipList::<String, String>::load(&bytes).unwrap_err();
    assert!(matches!(err, SkipListError::Decode(_)), "{err}");
    // A count of 2^63 entries with nothing behind it.
    let mut bytes = vec![0xFD];
    bytes.extend_from_slice(&(1u64 << 63).to_le_bytes());
    assert!(SkipList::<u64, u64>::load(&bytes).is_err());
}

#[test]
fn a_large_list_round_trips() {
    let model: BTreeMap<u64, u64> = (0..50_000u64).map(|k| (k * 7919 % 100_003, k)).collect();
    let list: SkipList<u64, u64> = model.clone().into_iter().collect();
    let back = SkipList::<u64, u64>::load(&list.dump().unwrap()).unwrap();
    assert_eq!(back.len(), model.len());
    assert!(back.iter().eq(model.iter()));
}
