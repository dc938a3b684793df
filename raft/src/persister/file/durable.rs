//! Crash-safe file replacement: temp file, fsync, rename, fsync the directory.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

/// Replaces `path` with `parts` concatenated, so that after a crash at any
/// point `path` holds either the old content or all of the new: the temp
/// file's data is durable before the rename makes it visible, and the
/// directory fsync makes the rename itself durable.
pub fn replace(path: &Path, tmp: &Path, parts: &[&[u8]]) -> io::Result<()> {
    let mut file = File::create(tmp)?;
    for part in parts {
        file.write_all(part)?;
    }
    file.sync_all()?;
    drop(file);
    fs::rename(tmp, path)?;
    sync_dir(path)
}

/// Makes renames and creations in `file`'s directory durable.
pub fn sync_dir(file: &Path) -> io::Result<()> {
    let dir = file.parent().unwrap_or(Path::new("."));
    File::open(dir)?.sync_all()
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
