//! Walking the bottom level in key order: `iter`, `range` and `into_iter`.

use std::borrow::Borrow;
use std::iter::FusedIterator;
use std::ops::{Bound, RangeBounds};

use crate::node::{Link, Node};
use crate::SkipList;

impl<K, V> SkipList<K, V> {
    /// Every entry in ascending key order.
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter {
            list: self,
            next: self.first(),
            remaining: self.len(),
        }
    }
}

impl<K: Ord, V> SkipList<K, V> {
    /// The entries whose keys fall in `range`, in ascending key order. Both
    /// ends are found by a descent, so the scan costs O(log n + hits). An
    /// empty or inverted range yields nothing (`BTreeMap` would panic).
    pub fn range<Q, R>(&self, range: R) -> Range<'_, K, V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
        R: RangeBounds<Q>,
    {
        let next = match range.start_bound() {
            Bound::Unbounded => self.first(),
            Bound::Included(start) => self.descend(|k| k.borrow() < start, None),
            Bound::Excluded(start) => self.descend(|k| k.borrow() <= start, None),
        };
        let Some(first) = next else {
            return Range::empty(self);
        };
        let first_key = self.node(first).key.borrow();
        // `stop` is the first node past the end: iteration ends on reaching it.
        let stop = match range.end_bound() {
            Bound::Unbounded => None,
            Bound::Included(end) if first_key > end => return Range::empty(self),
            Bound::Excluded(end) if first_key >= end => return Range::empty(self),
            Bound::Included(end) => self.descend(|k| k.borrow() <= end, None),
            Bound::Excluded(end) => self.descend(|k| k.borrow() < end, None),
        };
        Range {
            list: self,
            next,
            stop,
        }
    }
}

/// Iterator over `(&K, &V)` in key order; see [`SkipList::iter`].
#[derive(Clone)]
pub struct Iter<'a, K, V> {
    list: &'a SkipList<K, V>,
    next: Link,
    remaining: usize,
}

impl<'a, K, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        let node = self.list.node(self.next?);
        self.next = node.next[0];
        self.remaining -= 1;
        Some((&node.key, &node.value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<K, V> ExactSizeIterator for Iter<'_, K, V> {}
impl<K, V> FusedIterator for Iter<'_, K, V> {}

impl<'a, K, V> IntoIterator for &'a SkipList<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Iterator over the entries of a key range; see [`SkipList::range`].
#[derive(Clone)]
pub struct Range<'a, K, V> {
    list: &'a SkipList<K, V>,
    next: Link,
    /// The first node past the range (`None`: the end of the list).
    stop: Link,
}

impl<'a, K, V> Range<'a, K, V> {
    fn empty(list: &'a SkipList<K, V>) -> Self {
        Range {
            list,
            next: None,
            stop: None,
        }
    }
}

impl<'a, K, V> Iterator for Range<'a, K, V> {
    type Item = (&'a K, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        if self.next == self.stop {
            return None;
        }
        let node = self.list.node(self.next?);
        self.next = node.next[0];
        Some((&node.key, &node.value))
    }
}

impl<K, V> FusedIterator for Range<'_, K, V> {}

/// Owning iterator over `(K, V)` in key order; see `SkipList::into_iter`.
pub struct IntoIter<K, V> {
    nodes: Vec<Option<Node<K, V>>>,
    next: Link,
    remaining: usize,
}

impl<K, V> Iterator for IntoIter<K, V> {
    type Item = (K, V);

    fn next(&mut self) -> Option<Self::Item> {
        let node = self.nodes.get_mut(self.next?)?.take()?;
        self.next = node.next[0];
        self.remaining -= 1;
        Some((node.key, node.value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<K, V> ExactSizeIterator for IntoIter<K, V> {}
impl<K, V> FusedIterator for IntoIter<K, V> {}

impl<K, V> IntoIterator for SkipList<K, V> {
    type Item = (K, V);
    type IntoIter = IntoIter<K, V>;

    fn into_iter(self) -> Self::IntoIter {
        let (nodes, next, remaining) = self.into_parts();
        IntoIter {
            nodes,
            next,
            remaining,
        }
    }
}
