//! Entry blobs in the arena's byte chunks: their encoding, where a new one goes, and which chunk to reclaim.

use std::sync::Arc;

use super::{Blob, Loc};

/// Bytes in one blob chunk. Large enough that a chunk holds a couple of
/// thousand typical entries, small enough that moving one chunk's live
/// blobs during compaction takes tens of microseconds.
pub(crate) const CHUNK_BYTES: usize = 256 * 1024;

/// A blob over this size gets a chunk of exactly its size, so that a big
/// value neither wastes the rest of a chunk nor has to be moved.
const LARGE: usize = CHUNK_BYTES / 4;

/// Garbage may take up to 1/`BUDGET` of the blob bytes (and at least four
/// chunks, so a small list is left alone): past that, each write also
/// empties one chunk (see `ByteSkipList::compact_if_needed`). One chunk a
/// write keeps the pause short (moving at most 256 KiB), and the chunk with
/// the most garbage is at least 1/8 dead once the whole is, so moving costs
/// at most seven bytes per byte freed. Blobs stay at ≤ 1.125× their live
/// bytes, plus the floor.
const BUDGET: usize = 8;

/// After finding no chunk to empty (all shared with a frozen image), skip
/// the next max(chunks, `MIN_PAUSE`) chances before scanning again, so the
/// O(chunks) scan costs O(1) a write while an image lives, and compaction
/// resumes soon after it is dropped.
const MIN_PAUSE: usize = 64;

/// A chunk is worth compacting only if at least this much of it is dead;
/// it guarantees each step makes progress.
const MIN_VICTIM_WASTE: usize = CHUNK_BYTES / 32;

/// The header's fixed part: the id of the tower that owns the blob.
const TOWER_BYTES: usize = 4;

/// Reads the blob that starts at `bytes[0]`.
pub(crate) fn decode(bytes: &[u8]) -> Blob<'_> {
    let mut id = [0u8; TOWER_BYTES];
    id.copy_from_slice(&bytes[..TOWER_BYTES]);
    let (key_len, a) = read_varint(&bytes[TOWER_BYTES..]);
    let (value_len, b) = read_varint(&bytes[TOWER_BYTES + a..]);
    let key_start = TOWER_BYTES + a + b;
    let value_start = key_start + key_len;
    let size = value_start + value_len;
    Blob {
        tower: u32::from_le_bytes(id),
        key: &bytes[key_start..value_start],
        value: &bytes[value_start..size],
        size,
    }
}

/// The size of a blob with these lengths.
pub(crate) fn size(key_len: usize, value_len: usize) -> usize {
    TOWER_BYTES + varint_len(key_len) + varint_len(value_len) + key_len + value_len
}

fn write_header(out: &mut [u8], tower: u32, key_len: usize, value_len: usize) -> usize {
    out[..TOWER_BYTES].copy_from_slice(&tower.to_le_bytes());
    let mut at = TOWER_BYTES;
    at += write_varint(&mut out[at..], key_len);
    at += write_varint(&mut out[at..], value_len);
    at
}

/// LEB128: seven bits a byte, low bits first, high bit set on all but the last.
fn write_varint(out: &mut [u8], mut n: usize) -> usize {
    let mut i = 0;
    while n >= 0x80 {
        out[i] = (n as u8) | 0x80;
        n >>= 7;
        i += 1;
    }
    out[i] = n as u8;
    i + 1
}

fn read_varint(bytes: &[u8]) -> (usize, usize) {
    let mut n = 0usize;
    for (i, &b) in bytes.iter().enumerate() {
        n |= usize::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return (n, i + 1);
        }
    }
    unreachable!("blobs are written whole by write_header")
}

fn varint_len(n: usize) -> usize {
    let bits = usize::BITS - n.leading_zeros();
    (bits.max(1) as usize).div_ceil(7)
}

/// The first part of a new blob's key ‖ value: either fresh bytes (the key)
/// or the key ‖ value of a blob already stored (for an append or a move).
pub(crate) enum Prefix<'a> {
    Given(&'a [u8]),
    Stored { from: Loc, start: usize, len: usize },
}

/// How full one chunk is and how much of that is still referenced.
#[derive(Debug, Clone, Copy, Default)]
struct ChunkUse {
    /// Bytes written so far (blobs are packed from offset 0).
    fill: usize,
    /// Bytes of blobs some tower still points at.
    live: usize,
}

/// The live list's record of the blob chunks: which one takes new blobs,
/// how much of each is live, and when to compact. Frozen images never see
/// this; they only hold chunks.
#[derive(Debug, Clone, Default)]
pub(crate) struct BlobAlloc {
    uses: Vec<ChunkUse>,
    /// The chunk new blobs are appended to, while it is ours alone.
    tail: Option<u32>,
    /// Slots of chunks given back, reused before the table grows.
    free_slots: Vec<u32>,
    /// Bytes of all chunks held, and of the live blobs in them.
    allocated: usize,
    live: usize,
    /// Chances to skip after a scan found nothing it could move.
    pause: usize,
}

impl BlobAlloc {
    /// Writes a blob for `tower` with key ‖ value = `prefix` ‖ `suffix`,
    /// whose key is the first `key_len` bytes, and returns where it went.
    pub(crate) fn write(
        &mut self,
        chunks: &mut Vec<Option<Arc<[u8]>>>,
        tower: u32,
        key_len: usize,
        prefix: Prefix<'_>,
        suffix: &[u8],
    ) -> Loc {
        let prefix_len = match prefix {
            Prefix::Given(bytes) => bytes.len(),
            Prefix::Stored { len, .. } => len,
        };
        let value_len = prefix_len + suffix.len() - key_len;
        let size = size(key_len, value_len);
        let to = self.reserve(chunks, size);
        // A stored prefix in another chunk is read through a second handle
        // to that chunk, which leaves the destination chunk ours alone.
        let source = match prefix {
            Prefix::Stored { from, .. } if from.chunk != to.chunk => {
                chunks[from.chunk as usize].clone()
            }
            _ => None,
        };
        let chunk = chunks[to.chunk as usize]
            .as_mut()
            .and_then(Arc::get_mut)
            .expect("reserve hands out a chunk no image shares");
        let start = to.offset as usize;
        let mut at = start + write_header(&mut chunk[start..], tower, key_len, value_len);
        match (prefix, source) {
            (Prefix::Given(bytes), _) => chunk[at..at + bytes.len()].copy_from_slice(bytes),
            (Prefix::Stored { start, len, .. }, Some(source)) => {
                chunk[at..at + len].copy_from_slice(&source[start..start + len])
            }
            (Prefix::Stored { start, len, .. }, None) => chunk.copy_within(start..start + len, at),
        }
        at += prefix_len;
        chunk[at..at + suffix.len()].copy_from_slice(suffix);
        to
    }

    /// Room for `size` bytes, counted live from now on.
    fn reserve(&mut self, chunks: &mut Vec<Option<Arc<[u8]>>>, size: usize) -> Loc {
        if size > LARGE {
            let chunk = self.open(chunks, size);
            self.uses[chunk as usize] = ChunkUse {
                fill: size,
                live: size,
            };
            self.live += size;
            return Loc { chunk, offset: 0 };
        }
        if let Some(tail) = self.tail {
            let used = self.uses[tail as usize];
            let ours = chunks[tail as usize]
                .as_mut()
                .is_some_and(|c| Arc::get_mut(c).is_some());
            if ours && used.fill + size <= CHUNK_BYTES {
                self.uses[tail as usize] = ChunkUse {
                    fill: used.fill + size,
                    live: used.live + size,
                };
                self.live += size;
                return Loc {
                    chunk: tail,
                    offset: used.fill as u32,
                };
            }
            // Full, or a frozen image holds it: never write into it again.
            self.seal(chunks);
        }
        let chunk = self.open(chunks, CHUNK_BYTES);
        self.tail = Some(chunk);
        self.uses[chunk as usize] = ChunkUse {
            fill: size,
            live: size,
        };
        self.live += size;
        Loc { chunk, offset: 0 }
    }

    /// A new zeroed chunk of `len` bytes in a free slot.
    fn open(&mut self, chunks: &mut Vec<Option<Arc<[u8]>>>, len: usize) -> u32 {
        let chunk: Arc<[u8]> = std::iter::repeat_n(0, len).collect();
        self.allocated += len;
        match self.free_slots.pop() {
            Some(slot) => {
                chunks[slot as usize] = Some(chunk);
                slot
            }
            None => {
                assert!(chunks.len() < u32::MAX as usize, "skip list is full");
                chunks.push(Some(chunk));
                self.uses.push(ChunkUse::default());
                (chunks.len() - 1) as u32
            }
        }
    }

    fn seal(&mut self, chunks: &mut [Option<Arc<[u8]>>]) {
        if let Some(tail) = self.tail.take() {
            if self.uses[tail as usize].live == 0 {
                self.drop_chunk(chunks, tail);
            }
        }
    }

    /// The blob of `size` bytes at `at` is no longer referenced. A chunk
    /// left with no live blob is given back at once; a frozen image that
    /// still reads it keeps its own handle.
    pub(crate) fn release(&mut self, chunks: &mut [Option<Arc<[u8]>>], at: Loc, size: usize) {
        let used = &mut self.uses[at.chunk as usize];
        used.live -= size;
        self.live -= size;
        if used.live == 0 && self.tail != Some(at.chunk) {
            self.drop_chunk(chunks, at.chunk);
        }
    }

    fn drop_chunk(&mut self, chunks: &mut [Option<Arc<[u8]>>], chunk: u32) {
        if let Some(bytes) = chunks[chunk as usize].take() {
            self.allocated -= bytes.len();
        }
        self.uses[chunk as usize] = ChunkUse::default();
        self.free_slots.push(chunk);
    }

    /// Bytes held in chunks but in no live blob, not counting the unwritten
    /// end of the tail chunk (it will be filled).
    pub(crate) fn waste(&self) -> usize {
        let room = self
            .tail
            .map_or(0, |t| CHUNK_BYTES - self.uses[t as usize].fill);
        self.allocated - self.live - room
    }

    /// Whether garbage is over its budget, so a chunk should be emptied
    /// now (O(1); called after every write).
    pub(crate) fn should_compact(&mut self) -> bool {
        let waste = self.waste();
        if waste <= (self.allocated / BUDGET).max(4 * CHUNK_BYTES) {
            return false;
        }
        if self.pause > 0 {
            self.pause -= 1;
            return false;
        }
        true
    }

    /// The chunk with the most dead bytes that is ours alone and not the
    /// tail, with how many bytes of it were written; `None` (and a pause)
    /// when no chunk is worth it.
    pub(crate) fn victim(&mut self, chunks: &[Option<Arc<[u8]>>]) -> Option<(u32, usize)> {
        let best = chunks
            .iter()
            .zip(&self.uses)
            .enumerate()
            .filter(|&(i, (chunk, _))| {
                self.tail != Some(i as u32)
                    && chunk.as_ref().is_some_and(|c| Arc::strong_count(c) == 1)
            })
            .map(|(i, (chunk, used))| {
                let len = chunk.as_ref().map_or(0, |c| c.len());
                (len - used.live, i as u32, used.fill)
            })
            .max();
        match best {
            Some((waste, chunk, fill)) if waste >= MIN_VICTIM_WASTE => Some((chunk, fill)),
            _ => {
                self.pause = chunks.len().max(MIN_PAUSE);
                None
            }
        }
    }

    /// Heap bytes of all chunks held.
    pub(crate) fn allocated(&self) -> usize {
        self.allocated
    }

    /// Bytes of the live blobs (entries plus their headers).
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// Heap bytes of this bookkeeping itself.
    pub(crate) fn overhead(&self) -> usize {
        self.uses.capacity() * std::mem::size_of::<ChunkUse>() + self.free_slots.capacity() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_every_width() {
        for n in [0, 1, 127, 128, 16_383, 16_384, 1 << 35, usize::MAX] {
            let mut buf = [0u8; 10];
            let len = write_varint(&mut buf, n);
            assert_eq!(len, varint_len(n), "{n}");
            assert_eq!(read_varint(&buf), (n, len), "{n}");
        }
    }

    #[test]
    fn blobs_pack_into_the_tail_and_large_ones_get_their_own_chunk() {
        let mut chunks = Vec::new();
        let mut alloc = BlobAlloc::default();
        let a = alloc.write(&mut chunks, 1, 1, Prefix::Given(b"k"), b"value");
        let b = alloc.write(&mut chunks, 2, 2, Prefix::Given(b"k2"), b"");
        assert_eq!((a.chunk, a.offset, b.chunk), (0, 0, 0));
        assert_eq!(b.offset as usize, size(1, 5));
        let big = vec![7u8; LARGE + 1];
        let c = alloc.write(&mut chunks, 3, 1, Prefix::Given(b"b"), &big);
        assert_eq!((c.chunk, c.offset), (1, 0));
        assert_eq!(chunks[1].as_ref().unwrap().len(), size(1, big.len()));
        let blob = decode(&chunks[0].as_ref().unwrap()[a.offset as usize..]);
        assert_eq!(
            (blob.tower, blob.key, blob.value),
            (1, &b"k"[..], &b"value"[..])
        );
        // An append in the same chunk copies within it.
        let d = alloc.write(
            &mut chunks,
            1,
            1,
            Prefix::Stored {
                from: a,
                start: a.offset as usize + 6,
                len: 6,
            },
            b"+more",
        );
        let blob = decode(&chunks[0].as_ref().unwrap()[d.offset as usize..]);
        assert_eq!((blob.key, blob.value), (&b"k"[..], &b"value+more"[..]));
        // Releasing the only blob of the big chunk gives the chunk back.
        alloc.release(&mut chunks, c, size(1, big.len()));
        assert!(chunks[1].is_none());
        assert_eq!(alloc.allocated(), CHUNK_BYTES);
    }

    #[test]
    fn a_shared_tail_is_sealed_not_written() {
        let mut chunks = Vec::new();
        let mut alloc = BlobAlloc::default();
        let a = alloc.write(&mut chunks, 0, 1, Prefix::Given(b"a"), b"1");
        let image = chunks.clone();
        let b = alloc.write(&mut chunks, 1, 1, Prefix::Given(b"b"), b"2");
        assert_ne!(a.chunk, b.chunk);
        assert!(Arc::ptr_eq(
            image[0].as_ref().unwrap(),
            chunks[0].as_ref().unwrap()
        ));
    }
}
