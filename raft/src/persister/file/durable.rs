//! Crash-safe file replacement: temp file, fsync, rename, fsync the directory.

use std::fs::{self, File};
use std::io;
use std::path::Path;

use super::disk::Disk;

/// Replaces `path` with `parts` concatenated, so that after a crash at any
/// point `path` holds either the old content or all of the new: the temp
/// file's data is durable before the rename makes it visible, and the
/// directory fsync makes the rename itself durable.
pub fn replace(disk: &Disk, path: &Path, tmp: &Path, parts: &[&[u8]]) -> io::Result<()> {
    let mut file = File::create(tmp)?;
    for part in parts {
        disk.write_all(&mut file, part)?;
    }
    disk.sync_all(&file)?;
    drop(file);
    fs::rename(tmp, path)?;
    sync_dir(disk, path)
}

/// Makes renames and creations in `file`'s directory durable.
pub fn sync_dir(disk: &Disk, file: &Path) -> io::Result<()> {
    let dir = file.parent().unwrap_or(Path::new("."));
    disk.sync_all(&File::open(dir)?)
}

/// Makes `path`'s content durable if it exists: what was read back from it
/// may have come from the page cache of a process that never synced it.
pub fn sync_if_exists(disk: &Disk, path: &Path) -> io::Result<()> {
    match File::open(path) {
        Ok(file) => disk.sync_all(&file),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Removes `path` if it exists (a temp file a crash left behind).
pub fn remove_if_exists(path: &Path) -> io::Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Reads `path` whole; `None` if it does not exist.
pub fn read_if_exists(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(buf) => Ok(Some(buf)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}
