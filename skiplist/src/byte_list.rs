//! [`ByteSkipList`]: the skip list specialised to byte keys and values, laid out compactly in an arena, with cheap frozen images.

use std::ops::Bound;
use std::sync::Arc;

use crate::arena::blobs::{self, BlobAlloc, Prefix};
use crate::arena::towers::{self, TowerAlloc};
use crate::arena::{Arena, Loc, Pos, Update, NIL};
use crate::byte_iter::Entries;
use crate::config::MAX_LEVEL_CAP;
use crate::level::LevelGenerator;
use crate::{Config, FrozenList, SkipListError};

/// An ordered map from byte strings to byte strings, kept as a skip list:
/// the KvServer's store.
///
/// Same algorithm as [`SkipList`](crate::SkipList) (the original's
/// `skipList.h`), a different layout: every entry is one blob of bytes in a
/// chunked arena and every tower a few `u32` words in another (the picture
/// is in `arena.rs`). For 12-byte keys and 100-byte values its heap is
/// 1.18× the raw bytes, against 1.8× for `SkipList<Vec<u8>, Vec<u8>>`
/// (`cargo bench -p skiplist --bench memory`).
///
/// [`freeze`](Self::freeze) returns a [`FrozenList`]: the entries as they
/// are now, readable from another thread while this list keeps changing,
/// in time proportional to the number of chunks, not entries.
///
/// `clone` shares the chunks the way `freeze` does, so it is as cheap;
/// the two lists then go their own ways.
///
/// Not synchronised, like `SkipList`: the owner's lock covers it.
#[derive(Clone)]
pub struct ByteSkipList {
    arena: Arena,
    towers: TowerAlloc,
    blobs: BlobAlloc,
    levels: LevelGenerator,
    /// The last tower on each level (`Head` on a level no tower reaches).
    /// A key past the largest one needs no walk: this is where it goes.
    tail: Update,
}

/// Where the list's heap goes, from [`ByteSkipList::memory`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryUsage {
    /// Bytes of the live entries' keys and values with their blob headers.
    pub live_entry_bytes: usize,
    /// Bytes of all blob chunks held: live entries, garbage not yet
    /// compacted, and the unwritten end of the last chunk.
    pub blob_bytes: usize,
    /// Bytes of the tower chunks (links and blob locations).
    pub tower_bytes: usize,
    /// Chunk tables, free lists and other bookkeeping.
    pub other_bytes: usize,
}

impl MemoryUsage {
    /// Everything together: the list's heap footprint.
    pub fn total(&self) -> usize {
        self.blob_bytes + self.tower_bytes + self.other_bytes
    }
}

impl ByteSkipList {
    /// An empty list with the default maximum level (32), seeded from the OS.
    pub fn new() -> Self {
        Self::build(Config::default())
    }

    /// An empty list whose towers are drawn from a fixed seed.
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
        ByteSkipList {
            arena: Arena::new(config.max_level),
            towers: TowerAlloc::new(config.max_level),
            blobs: BlobAlloc::default(),
            levels: LevelGenerator::new(config.max_level, config.seed),
            tail: [Pos::Head; MAX_LEVEL_CAP],
        }
    }

    /// The value for `key`, if present (the original's `search_element`).
    pub fn search(&self, key: &[u8]) -> Option<&[u8]> {
        self.arena.search(key)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.arena.find(key).is_some()
    }

    /// Adds `key → value` if `key` is absent and returns `true`; leaves a
    /// present key alone and returns `false` (the original's
    /// `insert_element`).
    ///
    /// Panics only past about a billion entries (the arena's `u32` ids).
    pub fn insert(&mut self, key: &[u8], value: &[u8]) -> bool {
        let mut update = [Pos::Head; MAX_LEVEL_CAP];
        if let Some(id) = self.locate(key, &mut update) {
            if self.arena.key(id) == key {
                return false;
            }
        }
        self.link(&update, key, value);
        true
    }

    /// Sets `key → value` whether or not `key` is present; returns whether
    /// it replaced a value (the original's `insert_set_element`). A value
    /// of the same length is written over the old one unless a frozen image
    /// shares it; otherwise the new entry is a new blob and the old bytes
    /// become garbage for compaction. The tower stays either way.
    pub fn insert_or_set(&mut self, key: &[u8], value: &[u8]) -> bool {
        let mut update = [Pos::Head; MAX_LEVEL_CAP];
        if let Some(id) = self.locate(key, &mut update) {
            if self.arena.key(id) == key {
                self.rewrite(id, key, Rewrite::Replace(value));
                return true;
            }
        }
        self.link(&update, key, value);
        false
    }

    /// Appends `suffix` to the value of `key`, or inserts `key → suffix` if
    /// absent (the KvServer's Append). Returns the value's new length.
    ///
    /// Costs a copy of the whole value: a longer entry is always a new blob,
    /// which is also what lets a frozen image keep the old one.
    pub fn append(&mut self, key: &[u8], suffix: &[u8]) -> usize {
        let mut update = [Pos::Head; MAX_LEVEL_CAP];
        if let Some(id) = self.locate(key, &mut update) {
            let (old_key, old_value) = self.arena.entry(id);
            if old_key == key {
                let new_len = old_value.len() + suffix.len();
                self.rewrite(id, key, Rewrite::Append(suffix));
                return new_len;
            }
        }
        self.link(&update, key, suffix);
        suffix.len()
    }

    /// Removes `key`; returns whether it was present (the original's
    /// `delete_element`).
    pub fn delete(&mut self, key: &[u8]) -> bool {
        let mut update = [Pos::Head; MAX_LEVEL_CAP];
        let Some(id) = self.locate(key, &mut update) else {
            return false;
        };
        if self.arena.key(id) != key {
            return false;
        }
        let height = self.arena.height(id);
        // The tower follows update[lvl] on every level it reaches.
        for (lvl, &before) in update.iter().enumerate().take(height) {
            let after = self.arena.next(Pos::At(id), lvl);
            self.arena.set_next(before, lvl, after);
            if self.tail[lvl] == Pos::At(id) {
                self.tail[lvl] = before;
            }
        }
        let loc = self.arena.loc(id).expect("a linked tower is live");
        let size = self.arena.blob(loc).size;
        towers::set_loc(self.arena.words_mut(id), None);
        self.towers.release(id, height);
        self.blobs.release(&mut self.arena.blobs, loc, size);
        self.arena.len -= 1;
        while self.arena.level > 0 && self.arena.head[self.arena.level - 1] == NIL {
            self.arena.level -= 1;
        }
        self.compact_if_needed();
        true
    }

    /// A read-only image of the list as it is now, for a background
    /// snapshot. It shares every chunk with this list: O(chunks) time and
    /// memory, no entry copied. Later writes here copy a tower chunk the
    /// first time they touch it and put new entries in fresh blob chunks,
    /// so the image never changes.
    pub fn freeze(&self) -> FrozenList {
        FrozenList::new(self.arena.clone())
    }

    /// Every entry in ascending key order.
    pub fn iter(&self) -> Entries<'_> {
        Entries::all(&self.arena)
    }

    /// The entries from `start` on, in ascending key order: O(log n) to
    /// find the first.
    pub fn iter_from(&self, start: &[u8]) -> Entries<'_> {
        self.range(Bound::Included(start), Bound::Unbounded)
    }

    /// The entries between two bounds, in ascending key order. An empty or
    /// inverted range yields nothing.
    pub fn range(&self, start: Bound<&[u8]>, end: Bound<&[u8]>) -> Entries<'_> {
        Entries::range(&self.arena, start, end)
    }

    /// Number of entries (the original's `size`).
    pub fn len(&self) -> usize {
        self.arena.len
    }

    pub fn is_empty(&self) -> bool {
        self.arena.len == 0
    }

    /// Levels currently in use: the height of the tallest tower.
    pub fn level(&self) -> usize {
        self.arena.level
    }

    /// Removes every entry and gives back every chunk.
    pub fn clear(&mut self) {
        let max_level = self.levels.max();
        self.arena = Arena::new(max_level);
        self.towers = TowerAlloc::new(max_level);
        self.blobs = BlobAlloc::default();
        self.tail = [Pos::Head; MAX_LEVEL_CAP];
    }

    /// Where the heap goes (a few additions, no walk over the entries).
    pub fn memory(&self) -> MemoryUsage {
        let table_bytes = self.arena.towers.capacity() * std::mem::size_of::<usize>() * 2
            + self.arena.blobs.capacity() * std::mem::size_of::<usize>() * 2
            + self.arena.head.len() * 4;
        MemoryUsage {
            live_entry_bytes: self.blobs.live(),
            blob_bytes: self.blobs.allocated(),
            tower_bytes: self.arena.towers.len() * towers::CHUNK_WORDS * 4,
            other_bytes: table_bytes + self.towers.overhead() + self.blobs.overhead(),
        }
    }

    /// Every entry with its tower's height, in key order (for `display`).
    pub(crate) fn towers(&self) -> impl Iterator<Item = (&[u8], &[u8], usize)> {
        let mut next = self.arena.first();
        std::iter::from_fn(move || {
            let id = next?;
            next = self.arena.next(Pos::At(id), 0);
            let (key, value) = self.arena.entry(id);
            Some((key, value, self.arena.height(id)))
        })
    }

    /// Appends an entry whose key is greater than every key present, in
    /// O(height): it goes after the tail on each level.
    pub(crate) fn push_last(&mut self, key: &[u8], value: &[u8]) {
        let tail = self.tail;
        self.link(&tail, key, value);
    }

    /// The largest key.
    pub(crate) fn last_key(&self) -> Option<&[u8]> {
        match self.tail[0] {
            Pos::Head => None,
            Pos::At(id) => Some(self.arena.key(id)),
        }
    }

    /// Finds where `key` goes, filling `update` as
    /// [`Arena::descend`] does: at once from the tail when `key` is past
    /// the largest key (a load in key order, or keys that grow like
    /// timestamps), by a walk from the top otherwise.
    fn locate(&self, key: &[u8], update: &mut Update) -> Option<u32> {
        if self.last_key().is_some_and(|last| last < key) {
            *update = self.tail;
            return None;
        }
        self.arena.descend(|k| k < key, Some(update))
    }

    /// Puts a new tower right after the positions in `update` and returns
    /// its height. The caller guarantees the key order holds.
    fn link(&mut self, update: &Update, key: &[u8], value: &[u8]) -> usize {
        let height = self.levels.next_height();
        let id = self.towers.alloc(&mut self.arena.towers, height);
        let loc = self.blobs.write(
            &mut self.arena.blobs,
            id,
            key.len(),
            Prefix::Given(key),
            value,
        );
        let mut links = [NIL; MAX_LEVEL_CAP];
        for (lvl, link) in links.iter_mut().enumerate().take(height) {
            *link = self.arena.next(update[lvl], lvl).unwrap_or(NIL);
        }
        towers::write(self.arena.words_mut(id), loc, &links[..height]);
        // Levels above the current top have only the head before them,
        // which is what `update` holds there (it starts out all `Head`).
        for (lvl, &before) in update.iter().enumerate().take(height) {
            self.arena.set_next(before, lvl, Some(id));
            if links[lvl] == NIL {
                self.tail[lvl] = Pos::At(id);
            }
        }
        self.arena.level = self.arena.level.max(height);
        self.arena.len += 1;
        self.compact_if_needed();
        height
    }

    /// Gives tower `id` (whose key is `key`) a new blob with the value
    /// replaced or extended, then frees the old blob.
    fn rewrite(&mut self, id: u32, key: &[u8], how: Rewrite<'_>) {
        let old = self.arena.loc(id).expect("a linked tower is live");
        let blob = self.arena.blob(old);
        let (size, body_len) = (blob.size, blob.key.len() + blob.value.len());
        if let Rewrite::Replace(value) = how {
            if value.len() == blob.value.len() && self.overwrite_in_place(old, size, value) {
                self.compact_if_needed();
                return;
            }
        }
        let (prefix, suffix) = match how {
            Rewrite::Replace(value) => (Prefix::Given(key), value),
            // The new body is the old key ‖ value, copied, then the suffix.
            Rewrite::Append(suffix) => {
                let start = old.offset as usize + size - body_len;
                let stored = Prefix::Stored {
                    from: old,
                    start,
                    len: body_len,
                };
                (stored, suffix)
            }
        };
        let new = self
            .blobs
            .write(&mut self.arena.blobs, id, key.len(), prefix, suffix);
        towers::set_loc(self.arena.words_mut(id), Some(new));
        self.blobs.release(&mut self.arena.blobs, old, size);
        self.compact_if_needed();
    }

    /// Writes `value` over the same-length value of the blob at `at`, if
    /// no frozen image shares its chunk: no garbage, nothing to compact.
    fn overwrite_in_place(&mut self, at: Loc, size: usize, value: &[u8]) -> bool {
        let chunk = self.arena.blobs[at.chunk as usize]
            .as_mut()
            .and_then(Arc::get_mut);
        let Some(chunk) = chunk else {
            return false;
        };
        let end = at.offset as usize + size;
        chunk[end - value.len()..end].copy_from_slice(value);
        true
    }

    /// Empties the chunk with the most garbage when garbage is over its
    /// budget (see `blobs::BUDGET`). Called after every write, not only
    /// those that make garbage: garbage left behind while a frozen image
    /// held its chunks must go once the image is dropped. One chunk per
    /// call, so no single write pays for a whole compaction.
    fn compact_if_needed(&mut self) {
        if !self.blobs.should_compact() {
            return;
        }
        if let Some((victim, fill)) = self.blobs.victim(&self.arena.blobs) {
            self.evacuate(victim, fill);
        }
    }

    /// Moves every live blob of chunk `victim` to the tail; the last move
    /// gives the chunk back.
    fn evacuate(&mut self, victim: u32, fill: usize) {
        // A second handle keeps the bytes readable while blobs move out.
        let Some(chunk) = self.arena.blobs[victim as usize].clone() else {
            return;
        };
        let mut offset = 0;
        while offset < fill {
            let blob = blobs::decode(&chunk[offset..]);
            let here = Loc {
                chunk: victim,
                offset: offset as u32,
            };
            // Live only if its tower still points here: a freed tower has
            // no location, a reused one points at its new entry.
            if self.arena.loc(blob.tower) == Some(here) {
                let body_len = blob.key.len() + blob.value.len();
                let prefix = Prefix::Stored {
                    from: here,
                    start: offset + blob.size - body_len,
                    len: body_len,
                };
                let to = self.blobs.write(
                    &mut self.arena.blobs,
                    blob.tower,
                    blob.key.len(),
                    prefix,
                    &[],
                );
                towers::set_loc(self.arena.words_mut(blob.tower), Some(to));
                self.blobs.release(&mut self.arena.blobs, here, blob.size);
            }
            offset += blob.size;
        }
    }
}

/// How `ByteSkipList::rewrite` changes a value.
enum Rewrite<'a> {
    Replace(&'a [u8]),
    Append(&'a [u8]),
}

impl Default for ByteSkipList {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for ByteSkipList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Two lists are equal when they hold the same entries.
impl PartialEq for ByteSkipList {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for ByteSkipList {}

#[cfg(test)]
mod tests;
