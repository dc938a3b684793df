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
        self.next = node.next.get(0);
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
        self.next = node.next.get(0);
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
        self.next = node.next.get(0);
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

#[cfg(test)]
mod tests {
    use std::ops::Bound;

    use crate::SkipList;

    fn evens() -> SkipList<u32, u32> {
        let mut list = SkipList::seeded(11);
        for k in (0..20).step_by(2).rev() {
            list.insert(k, k * 10);
        }
        list
    }

    fn keys<'a>(it: impl Iterator<Item = (&'a u32, &'a u32)>) -> Vec<u32> {
        it.map(|(k, _)| *k).collect()
    }

    #[test]
    fn iter_is_ordered_and_exact_sized() {
        let list = evens();
        let it = list.iter();
        assert_eq!(it.len(), 10);
        assert_eq!(keys(it), (0..20).step_by(2).collect::<Vec<_>>());
        let mut n = 0;
        for (k, v) in &list {
            assert_eq!(*v, k * 10);
            n += 1;
        }
        assert_eq!(n, 10);
    }

    #[test]
    fn range_honours_every_kind_of_bound() {
        let list = evens();
        assert_eq!(keys(list.range(4..10)), [4, 6, 8]);
        assert_eq!(keys(list.range(3..=10)), [4, 6, 8, 10]);
        assert_eq!(keys(list.range(..3)), [0, 2]);
        assert_eq!(keys(list.range(15..)), [16, 18]);
        assert_eq!(keys(list.range(..)).len(), 10);
        let open = (Bound::Excluded(4), Bound::Excluded(10));
        assert_eq!(keys(list.range(open)), [6, 8]);
        assert_eq!(keys(list.range(19..)), Vec::<u32>::new());
    }

    #[test]
    fn empty_and_inverted_ranges_yield_nothing() {
        let list = evens();
        assert_eq!(list.range(5..5).count(), 0);
        assert_eq!(list.range(4..4).count(), 0);
        assert_eq!(list.range(5..6).count(), 0);
        assert_eq!(
            list.range((Bound::Included(12), Bound::Excluded(4)))
                .count(),
            0
        );
        assert_eq!(
            list.range((Bound::Excluded(4), Bound::Excluded(4))).count(),
            0
        );
        let empty: SkipList<u32, u32> = SkipList::new();
        assert_eq!(empty.range(..).count(), 0);
    }

    #[test]
    fn range_over_strings_borrows_as_str() {
        let list: SkipList<String, u8> = ["apple", "banana", "cherry"]
            .iter()
            .map(|s| (s.to_string(), 0))
            .collect();
        let bounds = (Bound::Included("b"), Bound::Excluded("c"));
        let hits: Vec<&str> = list
            .range::<str, _>(bounds)
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(hits, ["banana"]);
    }

    #[test]
    fn into_iter_yields_owned_pairs_in_order() {
        let mut list = evens();
        list.delete(&6);
        let pairs: Vec<(u32, u32)> = list.into_iter().collect();
        assert_eq!(pairs.len(), 9);
        assert!(pairs.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(!pairs.iter().any(|(k, _)| *k == 6));
    }
}
