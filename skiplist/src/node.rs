//! One tower of the skip list: an entry and its forward links, kept in an arena slot.

/// Index of a node in the list's arena (`Vec<Option<Node>>`). Indexes play
/// the part of the original's `Node*`: the borrow checker is happy and the
/// nodes sit together in one allocation.
pub(crate) type NodeId = usize;

/// A forward link: the next node at some level, or the end of that level
/// (the original's `NULL`).
pub(crate) type Link = Option<NodeId>;

/// A key, its value and one forward link per level the tower reaches.
/// `next.len()` is the tower's height (the original's `node_level + 1`).
#[derive(Debug, Clone)]
pub(crate) struct Node<K, V> {
    pub(crate) key: K,
    pub(crate) value: V,
    pub(crate) next: Box<[Link]>,
}

/// Where a walk stands: on the head sentinel (which has links but no entry)
/// or on a node. The original gave the head a default-constructed key and
/// value; we do not ask `K` and `V` for a `Default`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pos {
    Head,
    At(NodeId),
}
