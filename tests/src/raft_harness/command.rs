//! The commands tests replicate: 6.5840 uses random integers, so do we
//! (as 8 little-endian bytes), plus arbitrary byte strings for size tests.

use rand::Rng;

/// The command for integer `x`.
pub fn cmd(x: u64) -> Vec<u8> {
    x.to_le_bytes().to_vec()
}

/// A random integer command.
pub fn random_cmd() -> Vec<u8> {
    cmd(rand::rng().random())
}

/// A random command of `len` bytes.
pub fn random_bytes(len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    rand::rng().fill(bytes.as_mut_slice());
    bytes
}

/// The integer a command holds, if it is one.
pub fn value(command: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(command.try_into().ok()?))
}

/// A short human form of a command for failure messages.
pub fn describe(command: &[u8]) -> String {
    match value(command) {
        Some(x) => x.to_string(),
        None => format!("<{} bytes>", command.len()),
    }
}
