//! The `hard_state` file's fixed 24-byte little-endian layout.
//!
//! ```text
//!  0        4              12             20        24
//!  +--------+--------------+--------------+---------+
//!  | "RKHS" | current_term |  voted_for   |  crc32  |
//!  |        |     u64      | u64, MAX=none| of 0..20|
//!  +--------+--------------+--------------+---------+
//! ```
//!
//! The file is only ever replaced whole (write a temp file, rename), so any
//! damage is corruption, never a torn write.

use crate::persister::HardState;

pub const LEN: usize = 24;
const MAGIC: &[u8; 4] = b"RKHS";
const NO_VOTE: u64 = u64::MAX;

pub fn encode(hs: HardState) -> [u8; LEN] {
    let mut out = [0u8; LEN];
    out[0..4].copy_from_slice(MAGIC);
    out[4..12].copy_from_slice(&hs.current_term.to_le_bytes());
    let vote = hs.voted_for.map_or(NO_VOTE, u64::from);
    out[12..20].copy_from_slice(&vote.to_le_bytes());
    let crc = crc32fast::hash(&out[0..20]);
    out[20..24].copy_from_slice(&crc.to_le_bytes());
    out
}

/// `Err((offset, reason))` when the bytes are not a hard state we wrote.
pub fn decode(buf: &[u8]) -> Result<HardState, (u64, String)> {
    if buf.len() != LEN {
        return Err((0, format!("expected {LEN} bytes, found {}", buf.len())));
    }
    if &buf[0..4] != MAGIC {
        return Err((0, "bad magic".into()));
    }
    let crc = u32::from_le_bytes([buf[20], buf[21], buf[22], buf[23]]);
    if crc32fast::hash(&buf[0..20]) != crc {
        return Err((20, "checksum mismatch".into()));
    }
    let u64_at = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&buf[at..at + 8]);
        u64::from_le_bytes(b)
    };
    let voted_for = match u64_at(12) {
        NO_VOTE => None,
        v => Some(u32::try_from(v).map_err(|_| (12, format!("vote {v} is not a node id")))?),
    };
    Ok(HardState {
        current_term: u64_at(4),
        voted_for,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for hs in [
            HardState::default(),
            HardState {
                current_term: 7,
                voted_for: Some(2),
            },
            HardState {
                current_term: u64::MAX,
                voted_for: Some(u32::MAX),
            },
        ] {
            assert_eq!(decode(&encode(hs)), Ok(hs));
        }
    }

    #[test]
    fn rejects_any_flipped_byte_and_wrong_length() {
        let good = encode(HardState {
            current_term: 3,
            voted_for: None,
        });
        for at in 0..LEN {
            let mut bad = good;
            bad[at] ^= 0x10;
            assert!(decode(&bad).is_err(), "flip at {at}");
        }
        assert!(decode(&good[..LEN - 1]).is_err());
        assert!(decode(&[]).is_err());
    }
}
