//! [`FrozenList`]: a read-only image of a [`ByteSkipList`](crate::ByteSkipList) at one moment, for background snapshots.

use std::ops::Bound;

use crate::arena::Arena;
use crate::byte_iter::Entries;

/// The entries of a [`ByteSkipList`](crate::ByteSkipList) as they were
/// when [`freeze`](crate::ByteSkipList::freeze) was called.
///
/// It owns handles to the list's chunks, so it is `Send + 'static`: hand
/// it to a thread that writes a snapshot while the list keeps taking
/// writes. It never changes. While it lives, the live list copies a tower
/// chunk (16 KiB) the first time it rewires a tower in it and writes new
/// entries to fresh blob chunks; entry bytes are never copied for it.
/// Dropping it gives back whatever only it still held.
#[derive(Clone)]
pub struct FrozenList {
    arena: Arena,
}

impl FrozenList {
    pub(crate) fn new(arena: Arena) -> Self {
        FrozenList { arena }
    }

    /// The value `key` had at the freeze.
    pub fn search(&self, key: &[u8]) -> Option<&[u8]> {
        self.arena.search(key)
    }

    /// Every entry in ascending key order.
    pub fn iter(&self) -> Entries<'_> {
        Entries::all(&self.arena)
    }

    /// The entries from `start` on, in ascending key order.
    pub fn iter_from(&self, start: &[u8]) -> Entries<'_> {
        self.range(Bound::Included(start), Bound::Unbounded)
    }

    /// The entries between two bounds, in ascending key order.
    pub fn range(&self, start: Bound<&[u8]>, end: Bound<&[u8]>) -> Entries<'_> {
        Entries::range(&self.arena, start, end)
    }

    /// Number of entries at the freeze.
    pub fn len(&self) -> usize {
        self.arena.len
    }

    pub fn is_empty(&self) -> bool {
        self.arena.len == 0
    }
}

impl std::fmt::Debug for FrozenList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for &'a FrozenList {
    type Item = (&'a [u8], &'a [u8]);
    type IntoIter = Entries<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// What a snapshot thread needs: the image can move to it and outlive the
/// borrow of the list it came from.
const _: fn() = || {
    fn sendable<T: Send + Sync + 'static>() {}
    sendable::<FrozenList>();
};
