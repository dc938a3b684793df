//! Tower records in the arena's word chunks: their layout, and where a new one goes.

use std::sync::Arc;

use super::{Loc, NIL};

/// Words in one tower chunk (16 KiB): small, so that a write after a freeze
/// copies little, yet a freeze of ten million entries clones only about
/// eight thousand chunk handles.
pub(crate) const CHUNK_WORDS: usize = 1 << SHIFT;
const SHIFT: u32 = 12;

/// Word 0 is the blob's chunk, word 1 its offset with the height in the
/// top byte, then one link per level.
pub(crate) const LINKS: usize = 2;
const HEIGHT_SHIFT: u32 = 24;
const OFFSET_MASK: u32 = (1 << HEIGHT_SHIFT) - 1;

/// The most chunks the word ids can address while staying below `NIL`.
const MAX_CHUNKS: usize = (1 << (32 - SHIFT)) - 1;

/// The chunk and the word inside it that tower `id` starts at.
#[inline]
pub(crate) fn split(id: u32) -> (usize, usize) {
    ((id >> SHIFT) as usize, id as usize & (CHUNK_WORDS - 1))
}

/// Where the tower's blob is; `None` once the tower is freed.
#[inline]
pub(crate) fn loc(words: &[u32]) -> Option<Loc> {
    (words[0] != NIL).then(|| Loc {
        chunk: words[0],
        offset: words[1] & OFFSET_MASK,
    })
}

#[inline]
pub(crate) fn height(words: &[u32]) -> usize {
    (words[1] >> HEIGHT_SHIFT) as usize
}

/// Points the tower at a new blob, or marks it freed with `None` (so that
/// compaction never takes a dead blob for the live one).
pub(crate) fn set_loc(words: &mut [u32], loc: Option<Loc>) {
    let height = words[1] & !OFFSET_MASK;
    match loc {
        Some(loc) => {
            debug_assert!(loc.offset <= OFFSET_MASK, "blob offsets stay below 16 MiB");
            words[0] = loc.chunk;
            words[1] = height | loc.offset;
        }
        None => {
            words[0] = NIL;
            words[1] = height;
        }
    }
}

/// Fills a fresh tower: its blob, its height and its links.
pub(crate) fn write(words: &mut [u32], loc: Loc, links: &[u32]) {
    // Heights are capped by MAX_LEVEL_CAP (64), far below 256.
    words[1] = (links.len() as u32) << HEIGHT_SHIFT;
    set_loc(words, Some(loc));
    words[LINKS..LINKS + links.len()].copy_from_slice(links);
}

/// The live list's record of which words are taken: the end of the used
/// words and, per height, the towers freed by deletes. A freed tower is
/// reused only by a new tower of the same height, so a word id that once
/// started a tower always starts one.
#[derive(Debug, Clone)]
pub(crate) struct TowerAlloc {
    end: usize,
    free: Vec<Vec<u32>>,
}

impl TowerAlloc {
    pub(crate) fn new(max_level: usize) -> Self {
        TowerAlloc {
            end: 0,
            free: vec![Vec::new(); max_level + 1],
        }
    }

    /// A tower id with room for `height` links, its words still to be
    /// written. Panics only past about a billion entries (see `MAX_CHUNKS`).
    pub(crate) fn alloc(&mut self, chunks: &mut Vec<Arc<[u32]>>, height: usize) -> u32 {
        if let Some(id) = self.free[height].pop() {
            return id;
        }
        let size = LINKS + height;
        let room = chunks.len() * CHUNK_WORDS - self.end;
        if room < size {
            // The tail of the last chunk is too short: leave it unused
            // rather than let a tower straddle two chunks.
            assert!(chunks.len() < MAX_CHUNKS, "skip list is full");
            chunks.push(std::iter::repeat_n(NIL, CHUNK_WORDS).collect());
            self.end = (chunks.len() - 1) * CHUNK_WORDS;
        }
        let id = self.end;
        self.end += size;
        id as u32
    }

    pub(crate) fn release(&mut self, id: u32, height: usize) {
        self.free[height].push(id);
    }

    /// Heap bytes of the free lists.
    pub(crate) fn overhead(&self) -> usize {
        self.free.iter().map(|f| f.capacity() * 4).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tower_round_trips_its_fields() {
        let mut words = [0u32; 6];
        let loc = Loc {
            chunk: 7,
            offset: 200_000,
        };
        write(&mut words, loc, &[1, NIL, 3, 4]);
        assert_eq!((loc_of(&words), height(&words)), (Some(loc), 4));
        assert_eq!(&words[LINKS..], &[1, NIL, 3, 4]);
        set_loc(&mut words, None);
        assert_eq!((loc_of(&words), height(&words)), (None, 4));
    }

    fn loc_of(words: &[u32]) -> Option<Loc> {
        loc(words)
    }

    #[test]
    fn towers_never_straddle_chunks_and_freed_ones_are_reused_by_height() {
        let mut chunks = Vec::new();
        let mut alloc = TowerAlloc::new(32);
        let mut ids = Vec::new();
        for _ in 0..2000 {
            ids.push(alloc.alloc(&mut chunks, 5));
        }
        for &id in &ids {
            let (_, at) = split(id);
            assert!(at + LINKS + 5 <= CHUNK_WORDS, "tower {id} straddles");
        }
        assert_eq!(chunks.len(), 2000 / (CHUNK_WORDS / 7) + 1);
        alloc.release(ids[3], 5);
        assert_eq!(alloc.alloc(&mut chunks, 2), ids[1999] + 7);
        assert_eq!(alloc.alloc(&mut chunks, 5), ids[3]);
    }
}
