//! The chunked arena a [`ByteSkipList`](crate::ByteSkipList) keeps its towers and entry bytes in, and the read path over it.
//!
//! Two kinds of chunk, both reference-counted so a frozen image can share
//! them with the live list:
//!
//! ```text
//! towers: Vec<Arc<[u32]>>, 4096 words (16 KiB) a chunk    mutable: copy on write once frozen
//!
//!   id ─► ┌────────────┬──────────────────────┬────────┬────────┬─────┐
//!         │ blob chunk │ height<<24 | offset  │ next 0 │ next 1 │ ... │   2 + height words
//!         └─────┬──────┴──────────┬───────────┴────────┴────────┴─────┘
//!               │                 │                 (u32 word ids, u32::MAX = end)
//!               ▼                 ▼
//! blobs:  Vec<Option<Arc<[u8]>>>, 256 KiB a chunk          immutable while shared
//!         ┌──────────┬────────────┬────────────┬───────┬─────────┐
//!         │ tower id │ key length │ val length │  key  │  value  │ ── next blob ...
//!         │  u32 LE  │   varint   │   varint   │       │         │
//!         └──────────┴────────────┴────────────┴───────┴─────────┘
//! ```
//!
//! A tower is the original's `Node` minus its key and value: the links are
//! `u32` word ids, not `Node*`, and live inline, so a height-1 tower is three
//! words. The entry itself is one blob: a key and value in a single run of
//! bytes, behind a 6-byte header while key and value are each under 128
//! bytes, with no allocation of its own.
//!
//! A blob a frozen image may read is never changed: an overwrite or an
//! append writes a new blob at the end of the last chunk and the old one
//! becomes garbage, which [`BlobAlloc`](blobs::BlobAlloc) reclaims by moving
//! a mostly-dead chunk's live blobs to the end (the tower id in the blob's
//! header finds whose it is). So a frozen image keeps the very same chunks;
//! only the small towers are copied, a chunk at a time, when the live list
//! rewires them. (A same-length overwrite in a chunk no image shares, which
//! `Arc::get_mut` tells, is written in place and makes no garbage.)
//!
//! Limits: at most 2^32 − 4096 tower words (about a billion entries) and
//! 2^32 − 1 blob chunks. Entries larger than a quarter chunk get a chunk of
//! their own. A deleted entry's tower is kept for the next tower of the same
//! height rather than given back (the KvServer never deletes), while its
//! blob is reclaimed like any other garbage.

pub(crate) mod blobs;
pub(crate) mod towers;

use std::cmp::Ordering;
use std::sync::Arc;

use crate::config::MAX_LEVEL_CAP;

/// "No tower": the end of a level (the original's `NULL`).
pub(crate) const NIL: u32 = u32::MAX;

/// Where a walk stands: on the head sentinel or on a tower.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pos {
    Head,
    At(u32),
}

/// For each level, the last position before the key sought (the
/// original's `update` array).
pub(crate) type Update = [Pos; MAX_LEVEL_CAP];

/// Where a blob starts: a chunk and a byte offset inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Loc {
    pub(crate) chunk: u32,
    pub(crate) offset: u32,
}

/// Everything a reader needs: the chunk tables, the head's links, the
/// level in use and the entry count. Cloning it costs one reference count
/// per chunk, which is all [`freeze`](crate::ByteSkipList::freeze) does.
#[derive(Clone)]
pub(crate) struct Arena {
    pub(crate) towers: Vec<Arc<[u32]>>,
    /// `None`: a chunk whose blobs all died and was given back.
    pub(crate) blobs: Vec<Option<Arc<[u8]>>>,
    /// The head sentinel's links, one per possible level.
    pub(crate) head: Box<[u32]>,
    /// Levels in use: the height of the tallest tower (0 when empty).
    pub(crate) level: usize,
    pub(crate) len: usize,
}

/// A decoded blob: whose it is, its key and value, and its whole size.
pub(crate) struct Blob<'a> {
    pub(crate) tower: u32,
    pub(crate) key: &'a [u8],
    pub(crate) value: &'a [u8],
    pub(crate) size: usize,
}

impl Arena {
    pub(crate) fn new(max_level: usize) -> Self {
        Arena {
            towers: Vec::new(),
            blobs: Vec::new(),
            head: vec![NIL; max_level].into_boxed_slice(),
            level: 0,
            len: 0,
        }
    }

    /// The words of the tower at `id`, from its first word to the end of
    /// its chunk (a tower never straddles two chunks).
    #[inline]
    pub(crate) fn words(&self, id: u32) -> &[u32] {
        let (chunk, at) = towers::split(id);
        &self.towers[chunk][at..]
    }

    /// The words of the tower at `id`, copied first if a frozen image shares
    /// its chunk.
    #[inline]
    pub(crate) fn words_mut(&mut self, id: u32) -> &mut [u32] {
        let (chunk, at) = towers::split(id);
        &mut Arc::make_mut(&mut self.towers[chunk])[at..]
    }

    /// The link after `pos` on level `lvl`, or `None` at the end.
    #[inline]
    pub(crate) fn next(&self, pos: Pos, lvl: usize) -> Option<u32> {
        let raw = match pos {
            Pos::Head => self.head[lvl],
            Pos::At(id) => self.words(id)[towers::LINKS + lvl],
        };
        (raw != NIL).then_some(raw)
    }

    pub(crate) fn set_next(&mut self, pos: Pos, lvl: usize, link: Option<u32>) {
        let raw = link.unwrap_or(NIL);
        match pos {
            Pos::Head => self.head[lvl] = raw,
            Pos::At(id) => self.words_mut(id)[towers::LINKS + lvl] = raw,
        }
    }

    pub(crate) fn first(&self) -> Option<u32> {
        self.head.first().copied().filter(|&raw| raw != NIL)
    }

    /// Where the blob of tower `id` lives (`None` for a freed tower).
    #[inline]
    pub(crate) fn loc(&self, id: u32) -> Option<Loc> {
        towers::loc(self.words(id))
    }

    pub(crate) fn height(&self, id: u32) -> usize {
        towers::height(self.words(id))
    }

    /// The blob at `loc`.
    #[inline]
    pub(crate) fn blob(&self, loc: Loc) -> Blob<'_> {
        let chunk = self.blobs[loc.chunk as usize]
            .as_deref()
            .expect("a live tower points at a freed blob chunk");
        blobs::decode(&chunk[loc.offset as usize..])
    }

    /// The key and value of the live tower `id`.
    #[inline]
    pub(crate) fn entry(&self, id: u32) -> (&[u8], &[u8]) {
        let loc = self.loc(id).expect("a link points at a freed tower");
        let blob = self.blob(loc);
        (blob.key, blob.value)
    }

    #[inline]
    pub(crate) fn key(&self, id: u32) -> &[u8] {
        self.entry(id).0
    }

    /// Walks down from the top level, moving right while `before(key)`
    /// holds, and returns the first tower for which it does not (level 0).
    /// `before` must hold for a prefix of the keys and then fail. With
    /// `update`, records the last position before the target on each level.
    pub(crate) fn descend(
        &self,
        mut before: impl FnMut(&[u8]) -> bool,
        mut update: Option<&mut Update>,
    ) -> Option<u32> {
        let mut pos = Pos::Head;
        // The tower that ended the walk on the level above: the walk on
        // this level often ends at it too, and its key need not be read
        // again (each key read is a likely cache miss on the blob).
        let mut stop = NIL;
        for lvl in (0..self.level).rev() {
            while let Some(id) = self.next(pos, lvl) {
                if id == stop || !before(self.key(id)) {
                    stop = id;
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

    /// The tower holding `key`, if any.
    pub(crate) fn find(&self, key: &[u8]) -> Option<u32> {
        let id = self.descend(|k| k < key, None)?;
        (self.key(id).cmp(key) == Ordering::Equal).then_some(id)
    }

    pub(crate) fn search(&self, key: &[u8]) -> Option<&[u8]> {
        self.find(key).map(|id| self.entry(id).1)
    }
}
