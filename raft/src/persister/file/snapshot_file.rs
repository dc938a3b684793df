//! The `snapshot` file as a stream: [`FileSnapshot`] reads pieces of a
//! stored one at any offset, [`FileSnapshotWriter`] writes a new one into a
//! temp file that `install_snapshot` renames into place.

use std::any::Any;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::snapshot::{self, Header, HEADER_LEN};
use super::{corrupt, io_err, writeback};
use crate::persister::{PersistError, SnapshotMeta, SnapshotSource, SnapshotWriter};

/// Checksums are verified this many bytes at a time when a file is opened.
const VERIFY_CHUNK: usize = 1 << 20;

/// A writer starts the write-out of what it has written every
/// [`writeback::STEP`] bytes (see `writeback.rs`: a sync of megabytes
/// stalls the log's syncs on every node) and syncs every this many, so
/// that `finish` (on a follower, inside the last chunk's RPC) has little
/// left to sync even for a snapshot of gigabytes.
const SYNC_EVERY: u64 = 64 << 20;

/// An open, verified snapshot file. The open descriptor keeps the data
/// readable even after a newer snapshot replaces the file's name, so a
/// transfer in progress can finish (or notice it is outdated) calmly.
pub struct FileSnapshot {
    file: File,
    header: Header,
}

impl FileSnapshot {
    /// Opens `path` and checks its header and the data's checksum, reading
    /// it once front to back. `None` if there is no such file.
    pub fn open(path: &Path) -> Result<Option<FileSnapshot>, PersistError> {
        let mut file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(path)(e)),
        };
        let mut head = Vec::with_capacity(HEADER_LEN);
        (&mut file)
            .take(HEADER_LEN as u64)
            .read_to_end(&mut head)
            .map_err(io_err(path))?;
        let header = snapshot::decode_header(&head).map_err(corrupt(path))?;
        let file_len = file.metadata().map_err(io_err(path))?.len();
        if file_len != HEADER_LEN as u64 + header.data_len {
            let reason = format!(
                "header says {} data bytes, file has {}",
                header.data_len,
                file_len.saturating_sub(HEADER_LEN as u64)
            );
            return Err(corrupt(path)((HEADER_LEN as u64, reason)));
        }
        let mut hasher = crc32fast::Hasher::new();
        let mut buf = vec![0u8; VERIFY_CHUNK];
        loop {
            let n = file.read(&mut buf).map_err(io_err(path))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        if hasher.finalize() != header.data_crc {
            let reason = "data checksum mismatch".to_string();
            return Err(corrupt(path)((HEADER_LEN as u64, reason)));
        }
        Ok(Some(FileSnapshot { file, header }))
    }
}

impl SnapshotSource for FileSnapshot {
    fn meta(&self) -> SnapshotMeta {
        self.header.meta
    }
    fn len(&self) -> u64 {
        self.header.data_len
    }
    fn crc(&self) -> u32 {
        self.header.data_crc
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        if offset + buf.len() as u64 > self.header.data_len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "read past the snapshot's end",
            ));
        }
        self.file.read_exact_at(buf, HEADER_LEN as u64 + offset)
    }
}

/// A snapshot being written to `<dir>/snapshot-N.tmp`: a zeroed header,
/// then the data as it comes; `finish` fills in the header and syncs.
/// Dropped without being installed, it removes its temp file.
pub struct FileSnapshotWriter {
    path: PathBuf,
    file: BufWriter<File>,
    meta: SnapshotMeta,
    written: u64,
    /// Bytes written since the last hand-off to the disk, and since the
    /// last sync.
    unsubmitted: u64,
    unsynced: u64,
    hasher: crc32fast::Hasher,
    finished: bool,
    installed: bool,
}

impl FileSnapshotWriter {
    pub fn create(path: PathBuf, meta: SnapshotMeta) -> Result<FileSnapshotWriter, PersistError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(io_err(&path))?;
        let mut file = BufWriter::with_capacity(writeback::STEP, file);
        file.write_all(&[0u8; HEADER_LEN]).map_err(io_err(&path))?;
        Ok(FileSnapshotWriter {
            path,
            file,
            meta,
            written: 0,
            unsubmitted: 0,
            unsynced: 0,
            hasher: crc32fast::Hasher::new(),
            finished: false,
            installed: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The file, once renamed into place, as a readable snapshot.
    pub fn into_installed(mut self) -> Result<FileSnapshot, PersistError> {
        self.installed = true;
        let header = self.header();
        let file = self
            .file
            .get_ref()
            .try_clone()
            .map_err(io_err(&self.path))?;
        Ok(FileSnapshot { file, header })
    }

    fn header(&self) -> Header {
        Header {
            meta: self.meta,
            data_len: self.written,
            data_crc: self.hasher.clone().finalize(),
        }
    }
}

impl SnapshotWriter for FileSnapshotWriter {
    fn meta(&self) -> SnapshotMeta {
        self.meta
    }

    fn write(&mut self, piece: &[u8]) -> Result<(), PersistError> {
        if self.finished {
            return Err(PersistError::Misuse(
                "write to a finished snapshot".to_string(),
            ));
        }
        self.file.write_all(piece).map_err(io_err(&self.path))?;
        self.hasher.update(piece);
        self.written += piece.len() as u64;
        self.unsubmitted += piece.len() as u64;
        if self.unsubmitted >= writeback::STEP as u64 {
            self.file.flush().map_err(io_err(&self.path))?;
            self.unsynced += std::mem::take(&mut self.unsubmitted);
            let file = self.file.get_ref();
            if self.unsynced >= SYNC_EVERY {
                file.sync_data().map_err(io_err(&self.path))?;
                self.unsynced = 0;
            } else {
                writeback::start(file);
            }
        }
        Ok(())
    }

    fn written(&self) -> u64 {
        self.written
    }

    fn crc(&self) -> u32 {
        self.hasher.clone().finalize()
    }

    fn finish(&mut self) -> Result<(), PersistError> {
        if self.finished {
            return Ok(());
        }
        let header = snapshot::encode_header(self.header());
        self.file.flush().map_err(io_err(&self.path))?;
        let file = self.file.get_ref();
        file.write_all_at(&header, 0).map_err(io_err(&self.path))?;
        file.sync_all().map_err(io_err(&self.path))?;
        self.finished = true;
        Ok(())
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}

impl Drop for FileSnapshotWriter {
    fn drop(&mut self) {
        if !self.installed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pieces of an odd size straddle every point where the writer hands
    /// its buffer to the disk; what it wrote must read back whole.
    #[test]
    fn a_snapshot_written_across_many_write_outs_reads_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snapshot-1.tmp");
        let meta = SnapshotMeta {
            last_included_index: 7,
            last_included_term: 2,
        };
        let data: Vec<u8> = (0..5 * writeback::STEP + 12_345)
            .map(|i| (i % 251) as u8)
            .collect();
        let mut writer = FileSnapshotWriter::create(path.clone(), meta).unwrap();
        for piece in data.chunks(100_003) {
            writer.write(piece).unwrap();
        }
        writer.finish().unwrap();
        let stored = FileSnapshot::open(&path).unwrap().expect("the file exists");
        assert_eq!(stored.meta(), meta);
        assert_eq!(stored.len(), data.len() as u64);
        let mut back = vec![0u8; data.len()];
        stored.read_at(0, &mut back).unwrap();
        assert!(back == data, "the data read back differs");
    }
}
