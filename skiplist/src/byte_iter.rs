//! [`Entries`]: walking the bottom level of a byte list or a frozen image in key order.

use std::iter::FusedIterator;
use std::ops::Bound;

use crate::arena::Arena;

/// Iterator over `(key, value)` byte slices in ascending key order, from
/// [`ByteSkipList::iter`](crate::ByteSkipList::iter),
/// [`range`](crate::ByteSkipList::range) and the same methods of
/// [`FrozenList`](crate::FrozenList).
#[derive(Clone)]
pub struct Entries<'a> {
    arena: &'a Arena,
    next: Option<u32>,
    /// The first tower past the range (`None`: the end of the list).
    stop: Option<u32>,
    /// Entries left, when the whole list is walked.
    remaining: Option<usize>,
}

impl<'a> Entries<'a> {
    pub(crate) fn all(arena: &'a Arena) -> Self {
        Entries {
            arena,
            next: arena.first(),
            stop: None,
            remaining: Some(arena.len),
        }
    }

    pub(crate) fn range(arena: &'a Arena, start: Bound<&[u8]>, end: Bound<&[u8]>) -> Self {
        let empty = Entries {
            arena,
            next: None,
            stop: None,
            remaining: Some(0),
        };
        let next = match start {
            Bound::Unbounded => arena.first(),
            Bound::Included(start) => arena.descend(|k| k < start, None),
            Bound::Excluded(start) => arena.descend(|k| k <= start, None),
        };
        let Some(first) = next else {
            return empty;
        };
        let first_key = arena.key(first);
        let stop = match end {
            Bound::Unbounded => None,
            Bound::Included(end) if first_key > end => return empty,
            Bound::Excluded(end) if first_key >= end => return empty,
            Bound::Included(end) => arena.descend(|k| k <= end, None),
            Bound::Excluded(end) => arena.descend(|k| k < end, None),
        };
        Entries {
            arena,
            next,
            stop,
            remaining: None,
        }
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.next == self.stop {
            return None;
        }
        let id = self.next?;
        self.next = self.arena.next(crate::arena::Pos::At(id), 0);
        if let Some(n) = self.remaining.as_mut() {
            *n -= 1;
        }
        Some(self.arena.entry(id))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self.remaining {
            Some(n) => (n, Some(n)),
            None => (0, Some(self.arena.len)),
        }
    }
}

impl FusedIterator for Entries<'_> {}
