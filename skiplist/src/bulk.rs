//! Building a [`ByteSkipList`] from pairs already in key order in O(n): restoring a snapshot.

use crate::{ByteSkipList, Config, SkipListError};

/// Builds a [`ByteSkipList`] from entries pushed in strictly ascending key
/// order. Each push links the entry after the last tower on each level,
/// O(height) with no search, so ten million entries take seconds.
///
/// ```
/// use skiplist::SortedBuilder;
///
/// let mut builder = SortedBuilder::new();
/// builder.push(b"a", b"1")?;
/// builder.push(b"b", b"2")?;
/// assert!(builder.push(b"a", b"3").is_err()); // out of order
/// let list = builder.finish();
/// assert_eq!(list.search(b"b"), Some(&b"2"[..]));
/// # Ok::<(), skiplist::SkipListError>(())
/// ```
pub struct SortedBuilder {
    list: ByteSkipList,
}

impl SortedBuilder {
    /// A builder with the default configuration.
    pub fn new() -> Self {
        Self::with_list(ByteSkipList::new())
    }

    /// A builder whose list has the given maximum level and seed.
    pub fn with_config(config: Config) -> Result<Self, SkipListError> {
        Ok(Self::with_list(ByteSkipList::with_config(config)?))
    }

    fn with_list(list: ByteSkipList) -> Self {
        SortedBuilder { list }
    }

    /// Appends `key → value`. A key not greater than the previous one is an
    /// error and leaves the builder as it was.
    pub fn push(&mut self, key: &[u8], value: &[u8]) -> Result<(), SkipListError> {
        if self.list.last_key().is_some_and(|last| last >= key) {
            return Err(SkipListError::Unsorted {
                at: self.list.len(),
            });
        }
        self.list.push_last(key, value);
        Ok(())
    }

    /// Entries pushed so far.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The list holding every entry pushed.
    pub fn finish(self) -> ByteSkipList {
        self.list
    }
}

impl Default for SortedBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ByteSkipList {
    /// A list holding `pairs`, which must be in strictly ascending key
    /// order (as a snapshot or [`FrozenList::iter`](crate::FrozenList::iter)
    /// yields them); see [`SortedBuilder`].
    pub fn from_sorted<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Result<Self, SkipListError>
    where
        K: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        let mut builder = SortedBuilder::new();
        for (key, value) in pairs {
            builder.push(key.as_ref(), value.as_ref())?;
        }
        Ok(builder.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_pairs_build_a_list_that_works_like_any_other() {
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = (0..5000u32)
            .map(|i| (format!("k{i:06}").into_bytes(), i.to_le_bytes().to_vec()))
            .collect();
        let mut list = ByteSkipList::from_sorted(pairs.iter().cloned()).unwrap();
        assert_eq!(list.len(), 5000);
        assert!(list.iter().eq(pairs.iter().map(|(k, v)| (&k[..], &v[..]))));
        assert_eq!(list.search(b"k002500"), Some(&2500u32.to_le_bytes()[..]));
        // Still a normal list afterwards.
        assert!(list.insert(b"k0025000", b"x"));
        assert!(list.delete(b"k000000"));
        assert_eq!(
            list.iter().nth(2500).map(|(k, _)| k),
            Some(&b"k0025000"[..])
        );
    }

    #[test]
    fn unsorted_or_repeated_keys_are_refused_with_their_position() {
        let err = ByteSkipList::from_sorted([("b", "1"), ("a", "2")]).unwrap_err();
        assert_eq!(err, SkipListError::Unsorted { at: 1 });
        let mut builder = SortedBuilder::new();
        builder.push(b"a", b"1").unwrap();
        assert_eq!(
            builder.push(b"a", b"2"),
            Err(SkipListError::Unsorted { at: 1 })
        );
        builder.push(b"b", b"2").unwrap();
        assert_eq!(builder.len(), 2);
        let list = builder.finish();
        assert_eq!(list.search(b"a"), Some(&b"1"[..]));
    }
}
