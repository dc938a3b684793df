//! Snapshots as streams: a stored snapshot is read in pieces at any offset
//! ([`SnapshotData`]), and a new one is written in pieces to a staging place
//! ([`SnapshotWriter`]) that only the persister can install.
//!
//! The original held every snapshot as one string in memory and sent it in
//! one RPC; a store larger than a frame could then never repair a follower.
//! Here no layer needs the whole snapshot in memory: the leader reads chunks
//! from the file, the follower writes them to a temporary file, and the
//! service decodes its state machine from a reader.

use std::any::Any;
use std::fmt;
use std::io::{self, Read};
use std::sync::Arc;

use super::{PersistError, SnapshotMeta};

/// Read access to one stored snapshot's data. The data never changes: a
/// newer snapshot is a new object, and readers of the old one may finish.
pub trait SnapshotSource: Send + Sync {
    fn meta(&self) -> SnapshotMeta;
    /// Bytes of data (without any header the storage adds).
    fn len(&self) -> u64;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// CRC-32 of the whole data, so a receiver can check what it assembled.
    fn crc(&self) -> u32;
    /// Fills `buf` with the data starting at `offset`; `offset + buf.len()`
    /// must not exceed `len()`.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
}

/// A handle on a stored snapshot; clones share it.
#[derive(Clone)]
pub struct SnapshotData(Arc<dyn SnapshotSource>);

impl SnapshotData {
    pub fn new(source: Arc<dyn SnapshotSource>) -> SnapshotData {
        SnapshotData(source)
    }

    /// A snapshot held in memory (tests, and the memory persister).
    pub fn from_bytes(meta: SnapshotMeta, data: Vec<u8>) -> SnapshotData {
        SnapshotData(Arc::new(InMemory {
            meta,
            crc: crc32fast::hash(&data),
            data,
        }))
    }

    pub fn meta(&self) -> SnapshotMeta {
        self.0.meta()
    }

    pub fn len(&self) -> u64 {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.len() == 0
    }

    pub fn crc(&self) -> u32 {
        self.0.crc()
    }

    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.0.read_at(offset, buf)
    }

    /// The data from start to end, as a sequential reader.
    pub fn reader(&self) -> SnapshotReader {
        SnapshotReader {
            data: self.clone(),
            offset: 0,
        }
    }

    /// The whole data in memory: for small snapshots and tests only.
    pub fn to_vec(&self) -> io::Result<Vec<u8>> {
        let mut out = vec![0; self.len() as usize];
        self.read_at(0, &mut out)?;
        Ok(out)
    }
}

impl fmt::Debug for SnapshotData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnapshotData")
            .field("meta", &self.meta())
            .field("len", &self.len())
            .field("crc", &self.crc())
            .finish()
    }
}

/// Two handles are equal when they describe the same data (same place in
/// the log, same bytes as far as the checksum can tell).
impl PartialEq for SnapshotData {
    fn eq(&self, other: &Self) -> bool {
        (self.meta(), self.len(), self.crc()) == (other.meta(), other.len(), other.crc())
    }
}

impl Eq for SnapshotData {}

/// Reads a snapshot's data front to back (see [`SnapshotData::reader`]).
pub struct SnapshotReader {
    data: SnapshotData,
    offset: u64,
}

impl Read for SnapshotReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.data.len() - self.offset;
        let n = (buf.len() as u64).min(left) as usize;
        self.data.read_at(self.offset, &mut buf[..n])?;
        self.offset += n as u64;
        Ok(n)
    }
}

struct InMemory {
    meta: SnapshotMeta,
    crc: u32,
    data: Vec<u8>,
}

impl SnapshotSource for InMemory {
    fn meta(&self) -> SnapshotMeta {
        self.meta
    }
    fn len(&self) -> u64 {
        self.data.len() as u64
    }
    fn crc(&self) -> u32 {
        self.crc
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| past_end())?;
        let end = start.checked_add(buf.len()).ok_or_else(past_end)?;
        let src = self.data.get(start..end).ok_or_else(past_end)?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

fn past_end() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "read past the snapshot's end")
}

/// A snapshot being written, piece by piece, where nobody reads it yet.
/// Writing needs no lock of the node: the persister's
/// [`install_snapshot`](super::Persister::install_snapshot) makes it the
/// stored snapshot, atomically; dropping the writer discards it.
pub trait SnapshotWriter: Send {
    fn meta(&self) -> SnapshotMeta;
    /// Appends the next piece of data.
    fn write(&mut self, piece: &[u8]) -> Result<(), PersistError>;
    /// Bytes written so far.
    fn written(&self) -> u64;
    /// CRC-32 of the bytes written so far.
    fn crc(&self) -> u32;
    /// Makes everything written durable in its staging place, so that
    /// installing it later is only a rename. Call once, after the last piece.
    fn finish(&mut self) -> Result<(), PersistError>;
    /// For the persister that made it, to get its own type back.
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send>;
}

/// Lets a [`SnapshotWriter`] be the target of any `io::Write` encoder.
pub struct WriteAdapter<'a>(pub &'a mut dyn SnapshotWriter);

impl io::Write for WriteAdapter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf).map_err(io::Error::other)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A [`SnapshotWriter`] into memory, for persisters that keep snapshots
/// in memory.
pub(crate) struct BufferWriter {
    pub meta: SnapshotMeta,
    pub data: Vec<u8>,
    pub hasher: crc32fast::Hasher,
    /// How long `finish` takes, standing in for a slow disk's fsync.
    pub finish_delay: std::time::Duration,
}

impl BufferWriter {
    pub fn new(meta: SnapshotMeta, finish_delay: std::time::Duration) -> BufferWriter {
        BufferWriter {
            meta,
            data: Vec::new(),
            hasher: crc32fast::Hasher::new(),
            finish_delay,
        }
    }
}

impl SnapshotWriter for BufferWriter {
    fn meta(&self) -> SnapshotMeta {
        self.meta
    }
    fn write(&mut self, piece: &[u8]) -> Result<(), PersistError> {
        self.hasher.update(piece);
        self.data.extend_from_slice(piece);
        Ok(())
    }
    fn written(&self) -> u64 {
        self.data.len() as u64
    }
    fn crc(&self) -> u32 {
        self.hasher.clone().finalize()
    }
    fn finish(&mut self) -> Result<(), PersistError> {
        std::thread::sleep(self.finish_delay);
        Ok(())
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pieces_and_streams_the_whole() {
        let meta = SnapshotMeta {
            last_included_index: 3,
            last_included_term: 1,
        };
        let data = SnapshotData::from_bytes(meta, b"0123456789".to_vec());
        let mut buf = [0u8; 4];
        data.read_at(6, &mut buf).unwrap();
        assert_eq!(&buf, b"6789");
        assert!(data.read_at(7, &mut buf).is_err());
        let mut all = Vec::new();
        data.reader().read_to_end(&mut all).unwrap();
        assert_eq!(all, b"0123456789");
        assert_eq!(data.crc(), crc32fast::hash(b"0123456789"));
        assert_eq!(data, SnapshotData::from_bytes(meta, all));
    }
}
