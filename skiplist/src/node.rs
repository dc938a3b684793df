//! One tower of the skip list: an entry and its forward links, kept in an arena slot.

/// Index of a node in the list's arena (`Vec<Option<Node>>`). Indexes play
/// the part of the original's `Node*`: the borrow checker is happy and the
/// nodes sit together in one allocation.
pub(crate) type NodeId = usize;

/// A forward link: the next node at some level, or the end of that level
/// (the original's `NULL`).
pub(crate) type Link = Option<NodeId>;

/// The most nodes an arena may hold: links are stored as `u32`, with
/// `u32::MAX` meaning "none". At ≥ 48 bytes a node that is over 200 GB.
pub(crate) const MAX_NODES: usize = u32::MAX as usize;

/// A key, its value and one forward link per level the tower reaches
/// (the original's `node_level + 1` links).
#[derive(Debug, Clone)]
pub(crate) struct Node<K, V> {
    pub(crate) key: K,
    pub(crate) value: V,
    pub(crate) next: Tower,
}

/// How many links live inside the node itself. With p = 1/4, 99.6% of
/// towers are at most 4 high, so a search that has just read a node's key
/// finds the link it follows next in the same cache line, instead of
/// chasing a second pointer to a separately allocated array.
const INLINE: usize = 4;
const NIL: u32 = u32::MAX;

/// The forward links of one node, compact: `u32` indexes, the lowest
/// `INLINE` levels inline and any higher ones in `spill`.
#[derive(Debug, Clone)]
pub(crate) struct Tower {
    inline: [u32; INLINE],
    spill: Box<[u32]>,
    height: u8,
}

impl Tower {
    /// A tower of `height` levels whose link on level `lvl` is `link(lvl)`.
    pub(crate) fn new(height: usize, mut link: impl FnMut(usize) -> Link) -> Self {
        let mut tower = Tower {
            inline: [NIL; INLINE],
            spill: vec![NIL; height.saturating_sub(INLINE)].into_boxed_slice(),
            // Heights are capped by MAX_LEVEL_CAP (64), so this cannot truncate.
            height: height as u8,
        };
        for lvl in 0..height {
            tower.set(lvl, link(lvl));
        }
        tower
    }

    pub(crate) fn height(&self) -> usize {
        usize::from(self.height)
    }

    /// The link on level `lvl` (`lvl < height`).
    #[inline]
    pub(crate) fn get(&self, lvl: usize) -> Link {
        let raw = match self.inline.get(lvl) {
            Some(&raw) => raw,
            None => self.spill[lvl - INLINE],
        };
        (raw != NIL).then_some(raw as NodeId)
    }

    /// Sets the link on level `lvl` (`lvl < height`). Ids stay below
    /// `MAX_NODES`, which the arena enforces, so they fit in a `u32`.
    #[inline]
    pub(crate) fn set(&mut self, lvl: usize, link: Link) {
        let raw = link.map_or(NIL, |id| id as u32);
        match self.inline.get_mut(lvl) {
            Some(slot) => *slot = raw,
            None => self.spill[lvl - INLINE] = raw,
        }
    }
}

/// Where a walk stands: on the head sentinel (which has links but no entry)
/// or on a node. The original gave the head a default-constructed key and
/// value; we do not ask `K` and `V` for a `Default`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pos {
    Head,
    At(NodeId),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_round_trip_inline_and_spilled() {
        let mut tower = Tower::new(7, |lvl| (lvl % 2 == 0).then_some(lvl * 10));
        assert_eq!(tower.height(), 7);
        for lvl in 0..7 {
            assert_eq!(tower.get(lvl), (lvl % 2 == 0).then_some(lvl * 10));
        }
        tower.set(5, Some(MAX_NODES - 1));
        tower.set(0, None);
        assert_eq!(tower.get(5), Some(MAX_NODES - 1));
        assert_eq!(tower.get(0), None);
        let short = Tower::new(1, |_| Some(3));
        assert_eq!((short.height(), short.get(0)), (1, Some(3)));
    }
}
