//! The `snapshot` file: a fixed 36-byte little-endian header, then the data.
//!
//! ```text
//!  0        4              12             20         28         32         36
//!  +--------+--------------+--------------+----------+----------+----------+------
//!  | "RKSN" | last_incl_idx| last_incl_trm| data_len | data_crc | head_crc | data…
//!  |        |     u64      |     u64      |   u64    |   u32    | of 0..32 |
//!  +--------+--------------+--------------+----------+----------+----------+------
//! ```
//!
//! Like `hard_state`, the file is replaced whole, so damage is corruption.
//! The data is written (and its checksum computed) as it streams in; the
//! header goes in last, at offset 0, once length and checksum are known.

use crate::persister::SnapshotMeta;

pub const HEADER_LEN: usize = 36;
const MAGIC: &[u8; 4] = b"RKSN";

/// What the header says about the data that follows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub meta: SnapshotMeta,
    pub data_len: u64,
    pub data_crc: u32,
}

pub fn encode_header(header: Header) -> [u8; HEADER_LEN] {
    let mut out = [0u8; HEADER_LEN];
    out[0..4].copy_from_slice(MAGIC);
    out[4..12].copy_from_slice(&header.meta.last_included_index.to_le_bytes());
    out[12..20].copy_from_slice(&header.meta.last_included_term.to_le_bytes());
    out[20..28].copy_from_slice(&header.data_len.to_le_bytes());
    out[28..32].copy_from_slice(&header.data_crc.to_le_bytes());
    let head_crc = crc32fast::hash(&out[0..32]);
    out[32..36].copy_from_slice(&head_crc.to_le_bytes());
    out
}

/// Parses a header; `Err((offset, reason))` when it is not one we wrote.
pub fn decode_header(buf: &[u8]) -> Result<Header, (u64, String)> {
    if buf.len() < HEADER_LEN {
        return Err((
            0,
            format!("header needs {HEADER_LEN} bytes, found {}", buf.len()),
        ));
    }
    if &buf[0..4] != MAGIC {
        return Err((0, "bad magic".into()));
    }
    let u32_at = |at: usize| u32::from_le_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]);
    let u64_at = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&buf[at..at + 8]);
        u64::from_le_bytes(b)
    };
    if crc32fast::hash(&buf[0..32]) != u32_at(32) {
        return Err((32, "header checksum mismatch".into()));
    }
    Ok(Header {
        meta: SnapshotMeta {
            last_included_index: u64_at(4),
            last_included_term: u64_at(12),
        },
        data_len: u64_at(20),
        data_crc: u32_at(28),
    })
}

/// Splits a whole snapshot file held in memory into its metadata and data.
#[cfg(test)]
pub fn decode(buf: &[u8]) -> Result<(SnapshotMeta, &[u8]), (u64, String)> {
    let header = decode_header(buf)?;
    let data = &buf[HEADER_LEN..];
    if header.data_len != data.len() as u64 {
        return Err((
            HEADER_LEN as u64,
            format!(
                "header says {} data bytes, file has {}",
                header.data_len,
                data.len()
            ),
        ));
    }
    if crc32fast::hash(data) != header.data_crc {
        return Err((HEADER_LEN as u64, "data checksum mismatch".into()));
    }
    Ok((header.meta, data))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(meta: SnapshotMeta, data: &[u8]) -> Vec<u8> {
        let mut out = encode_header(Header {
            meta,
            data_len: data.len() as u64,
            data_crc: crc32fast::hash(data),
        })
        .to_vec();
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn round_trips() {
        let meta = SnapshotMeta {
            last_included_index: 42,
            last_included_term: 5,
        };
        for data in [&b""[..], b"state machine bytes"] {
            let buf = file(meta, data);
            assert_eq!(decode(&buf), Ok((meta, data)));
        }
    }

    #[test]
    fn rejects_damage() {
        let buf = file(SnapshotMeta::default(), b"abcdef");
        for at in 0..buf.len() {
            let mut bad = buf.clone();
            bad[at] ^= 0x04;
            assert!(decode(&bad).is_err(), "flip at {at}");
        }
        assert!(decode(&buf[..buf.len() - 1]).is_err());
        assert!(decode(&buf[..10]).is_err());
    }
}
