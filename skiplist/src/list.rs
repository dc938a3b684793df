//! The skip list itself: search, insert, delete (the original's `SkipList` class).

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::mem;

use crate::config::MAX_LEVEL_CAP;
use crate::level::LevelGenerator;
use crate::node::{Link, Node, NodeId, Pos, Tower, MAX_NODES};
use crate::{Config, SkipListError};

/// For each level, the last position whose key is before the one sought:
/// the nodes whose links an insert or delete rewires (the original's
/// `update` array).
pub(crate) type Update = [Pos; MAX_LEVEL_CAP];

/// An ordered map from `K` to `V` kept as a skip list.
///
/// Expected O(log n) `search`, `insert`, `delete`; iteration and range scans
/// in key order. Not synchronised: the owner (the KvServer) already holds
/// its own lock around the whole state machine, and one lock there is
/// simpler and cheaper than a second one in here (the original locked
/// inside `insert_element` but not inside `search_element`).
#[derive(Clone)]
pub struct SkipList<K, V> {
    /// The head sentinel's links, one per possible level.
    head: Box<[Link]>,
    /// The arena; `None` marks a free slot, listed in `free`.
    nodes: Vec<Option<Node<K, V>>>,
    free: Vec<NodeId>,
    /// Levels in use: the height of the tallest tower (0 when empty).
    level: usize,
    len: usize,
    levels: LevelGenerator,
}

impl<K: Ord, V> SkipList<K, V> {
    /// An empty list with the default maximum level (32), seeded from the OS.
    pub fn new() -> Self {
        Self::build(Config::default())
    }

    /// An empty list whose towers are drawn from a fixed seed, so that a
    /// test sees the same shape every run.
    pub fn seeded(seed: u64) -> Self {
        Self::build(Config {
            seed: Some(seed),
            ..Config::default()
        })
    }

    /// An empty list with the given maximum level and seed.
    pub fn with_config(config: Config) -> Result<Self, SkipListError> {
        config.validate()?;
        Ok(Self::build(config))
    }

    fn build(config: Config) -> Self {
        SkipList {
            head: vec![None; config.max_level].into_boxed_slice(),
            nodes: Vec::new(),
            free: Vec::new(),
            level: 0,
            len: 0,
            levels: LevelGenerator::new(config.max_level, config.seed),
        }
    }

    /// The value for `key`, if present (the original's `search_element`).
    pub fn search<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let id = self.find(key)?;
        Some(&self.node(id).value)
    }

    /// Whether `key` is present.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.find(key).is_some()
    }

    /// A mutable reference to the value for `key`, if present.
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let id = self.find(key)?;
        Some(&mut self.node_mut(id).value)
    }

    /// Adds `key → value` if `key` is absent and returns `true`; if `key` is
    /// present, leaves the old value alone and returns `false` (the
    /// original's `insert_element`, which returned 1 for "exists"). Use
    /// [`insert_or_set`](Self::insert_or_set) to overwrite.
    ///
    /// Panics only if the list would exceed 2^32 − 1 entries (links are
    /// stored as `u32` to keep a node in one cache line).
    pub fn insert(&mut self, key: K, value: V) -> bool {
        let mut update = [Pos::Head; MAX_LEVEL_CAP];
        if let Some(id) = self.descend(|k| k < &key, Some(&mut update)) {
            if self.node(id).key == key {
                return false;
            }
        }
        let height = self.levels.next_height();
        self.link(&update, height, key, value);
        true
    }

    /// Sets `key → value` whether or not `key` is present and returns the
    /// value it replaced (the original's `insert_set_element`, which deleted
    /// and re-inserted; we overwrite in place and keep the tower).
    pub fn insert_or_set(&mut self, key: K, value: V) -> Option<V> {
        let mut update = [Pos::Head; MAX_LEVEL_CAP];
        if let Some(id) = self.descend(|k| k < &key, Some(&mut update)) {
            let node = self.node_mut(id);
            if node.key == key {
                return Some(mem::replace(&mut node.value, value));
            }
        }
        let height = self.levels.next_height();
        self.link(&update, height, key, value);
        None
    }

    /// Removes `key` and returns its value, if present (the original's
    /// `delete_element`).
    pub fn delete<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let mut update = [Pos::Head; MAX_LEVEL_CAP];
        let id = self.descend(|k| k.borrow() < key, Some(&mut update))?;
        if self.node(id).key.borrow().cmp(key) != Ordering::Equal {
            return None;
        }
        // The node is the successor of update[lvl] on every level it reaches,
        // because update[lvl] is the last tower before `key` on that level.
        let node = self.nodes[id].take()?;
        for (lvl, &before) in update.iter().enumerate().take(node.next.height()) {
            self.set_next(before, lvl, node.next.get(lvl));
        }
        self.free.push(id);
        self.len -= 1;
        // Drop levels the removed tower was the last to reach.
        while self.level > 0 && self.head[self.level - 1].is_none() {
            self.level -= 1;
        }
        Some(node.value)
    }

    /// Walks down from the top level, moving right while `before(key)` holds,
    /// and returns the first node for which it does not (level 0). `before`
    /// must be monotone in key order (true for a prefix, then false). When
    /// `update` is given, it records the last position before the target on
    /// each level in use.
    pub(crate) fn descend(
        &self,
        mut before: impl FnMut(&K) -> bool,
        mut update: Option<&mut Update>,
    ) -> Link {
        let mut pos = Pos::Head;
        for lvl in (0..self.level).rev() {
            while let Some(id) = self.next(pos, lvl) {
                if !before(&self.node(id).key) {
                    break;
                }
                pos = Pos::At(id);
            }
            if let Some(update) = update.as_deref_mut() {
                update[lvl] = pos;
            }
        }
        self.next(pos, 0)
    }

    fn find<Q>(&self, key: &Q) -> Option<NodeId>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let id = self.descend(|k| k.borrow() < key, None)?;
        (self.node(id).key.borrow() == key).then_some(id)
    }

    /// Puts a new tower of `height` right after the positions in `update`
    /// and returns its id. The caller guarantees the key order holds.
    pub(crate) fn link(&mut self, update: &Update, height: usize, key: K, value: V) -> NodeId {
        // Levels above the current top have only the head before them, which
        // is what `update` holds there (it starts out all `Head`).
        self.level = self.level.max(height);
        let next = Tower::new(height, |lvl| self.next(update[lvl], lvl));
        let node = Node { key, value, next };
        let id = match self.free.pop() {
            Some(id) => {
                self.nodes[id] = Some(node);
                id
            }
            None => {
                assert!(self.nodes.len() < MAX_NODES, "skip list is full");
                self.nodes.push(Some(node));
                self.nodes.len() - 1
            }
        };
        for (lvl, &before) in update.iter().enumerate().take(height) {
            self.set_next(before, lvl, Some(id));
        }
        self.len += 1;
        id
    }

    /// Appends an entry whose key is greater than every key present, in
    /// O(height): `tail` holds the last tower on each level and is advanced.
    /// Used when loading a dump, which is already in key order.
    pub(crate) fn push_last(&mut self, tail: &mut Update, key: K, value: V) {
        let height = self.levels.next_height();
        let id = self.link(tail, height, key, value);
        tail[..height].fill(Pos::At(id));
    }

    /// Inserts with a chosen tower height, so tests can draw known shapes.
    #[cfg(test)]
    pub(crate) fn insert_with_height(&mut self, key: K, value: V, height: usize) {
        let mut update = [Pos::Head; MAX_LEVEL_CAP];
        self.descend(|k| k < &key, Some(&mut update));
        self.link(&update, height.clamp(1, self.max_level()), key, value);
    }

    /// The key at the end of `tail[0]`, i.e. the largest key, if any.
    pub(crate) fn key_at(&self, pos: Pos) -> Option<&K> {
        match pos {
            Pos::Head => None,
            Pos::At(id) => Some(&self.node(id).key),
        }
    }
}

impl<K, V> SkipList<K, V> {
    /// Number of entries (the original's `size`).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Same as [`len`](Self::len), under the original's name.
    pub fn size(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Levels currently in use: the height of the tallest tower.
    pub fn level(&self) -> usize {
        self.level
    }

    /// Removes every entry, keeping the configuration.
    pub fn clear(&mut self) {
        self.head.fill(None);
        self.nodes.clear();
        self.free.clear();
        self.level = 0;
        self.len = 0;
    }

    pub(crate) fn first(&self) -> Link {
        self.head.first().copied().flatten()
    }

    /// The most levels a tower may have (the original's `_max_level`).
    pub fn max_level(&self) -> usize {
        self.levels.max()
    }

    /// The node at `id`. Every link points at an occupied slot: slots are
    /// emptied only by `delete`, after every link to them is rewired.
    pub(crate) fn node(&self, id: NodeId) -> &Node<K, V> {
        self.nodes[id]
            .as_ref()
            .expect("a link points at a freed slot")
    }

    fn node_mut(&mut self, id: NodeId) -> &mut Node<K, V> {
        self.nodes[id]
            .as_mut()
            .expect("a link points at a freed slot")
    }

    pub(crate) fn next(&self, pos: Pos, lvl: usize) -> Link {
        match pos {
            Pos::Head => self.head[lvl],
            Pos::At(id) => self.node(id).next.get(lvl),
        }
    }

    fn set_next(&mut self, pos: Pos, lvl: usize, link: Link) {
        match pos {
            Pos::Head => self.head[lvl] = link,
            Pos::At(id) => self.node_mut(id).next.set(lvl, link),
        }
    }

    /// Hands the arena over to a consuming iterator.
    pub(crate) fn into_parts(self) -> (Vec<Option<Node<K, V>>>, Link, usize) {
        let first = self.first();
        (self.nodes, first, self.len)
    }
}

impl<K: Ord, V> Default for SkipList<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for SkipList<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Two lists are equal when they hold the same entries; tower shapes and
/// seeds do not matter.
impl<K: PartialEq, V: PartialEq> PartialEq for SkipList<K, V> {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl<K: Eq, V: Eq> Eq for SkipList<K, V> {}

/// Later pairs overwrite earlier ones with the same key, as for `BTreeMap`.
impl<K: Ord, V> Extend<(K, V)> for SkipList<K, V> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (key, value) in iter {
            self.insert_or_set(key, value);
        }
    }
}

impl<K: Ord, V> FromIterator<(K, V)> for SkipList<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut list = Self::new();
        list.extend(iter);
        list
    }
}

#[cfg(test)]
mod tests;
