//! The log file's record codec and the scan that finds its last good record.
//!
//! One record per log entry, little-endian, no padding:
//!
//! ```text
//!  0         4         8        12                    12 + len
//!  +---------+---------+---------+----------------------+
//!  |   len   | body_crc| head_crc|  body: LogEntry      |
//!  |   u32   |   u32   |   u32   |  (prost, len bytes)  |
//!  +---------+---------+---------+----------------------+
//!  body_crc = crc32(body)            len <= MAX_BODY_LEN
//!  head_crc = crc32(bytes 0..8)
//! ```
//!
//! The header has its own checksum so that a flipped bit in `len` is caught
//! as corruption instead of looking like a record cut short by a crash (which
//! would silently drop every later, synced, record).

use prost::Message;
use proto::raft::LogEntry;

/// Bytes before the body.
pub const HEADER_LEN: usize = 12;

/// Largest body we write or accept: a bound on what a corrupt header can
/// make us allocate, and at least the largest entry Raft accepts (derived in
/// `limits.rs`, so the persister never refuses what `start` took).
pub const MAX_BODY_LEN: usize = crate::limits::MAX_LOG_RECORD_BYTES;

/// Appends `entry` as one record to `out`. `None` if the entry is too large
/// to be read back.
pub fn encode(entry: &LogEntry, out: &mut Vec<u8>) -> Option<()> {
    let len = entry.encoded_len();
    if len > MAX_BODY_LEN {
        return None;
    }
    let start = out.len();
    out.resize(start + HEADER_LEN, 0);
    // Writing into a Vec cannot fail: prost only errors on a full buffer.
    entry.encode(out).ok()?;
    let body_crc = crc32fast::hash(&out[start + HEADER_LEN..]);
    let head = &mut out[start..start + HEADER_LEN];
    head[0..4].copy_from_slice(&(len as u32).to_le_bytes());
    head[4..8].copy_from_slice(&body_crc.to_le_bytes());
    let head_crc = crc32fast::hash(&head[0..8]);
    head[8..12].copy_from_slice(&head_crc.to_le_bytes());
    Some(())
}

/// What reading one record at the front of a buffer found.
#[derive(Debug, PartialEq)]
pub enum Decoded {
    /// A whole, valid record of `size` bytes.
    Record { entry: LogEntry, size: usize },
    /// The rest of the buffer is what a crash mid-append leaves behind: an
    /// incomplete header or body, a bad body checksum on a record that ends
    /// exactly at the end of the buffer, or an all-zero tail.
    Torn,
    /// Damage a crash cannot explain.
    Corrupt(String),
}

/// Reads the record at the start of `buf` (which runs to the end of the
/// file). `buf` must not be empty.
pub fn decode(buf: &[u8]) -> Decoded {
    if buf.len() < HEADER_LEN {
        return Decoded::Torn;
    }
    let word = |at: usize| u32::from_le_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]);
    let (len, body_crc, head_crc) = (word(0) as usize, word(4), word(8));
    if crc32fast::hash(&buf[0..8]) != head_crc {
        // Filesystems may extend a file before its data lands, leaving zeros.
        if buf.iter().all(|&b| b == 0) {
            return Decoded::Torn;
        }
        return Decoded::Corrupt("record header checksum mismatch".into());
    }
    if len > MAX_BODY_LEN {
        return Decoded::Corrupt(format!("record length {len} exceeds {MAX_BODY_LEN}"));
    }
    let size = HEADER_LEN + len;
    if buf.len() < size {
        return Decoded::Torn;
    }
    let body = &buf[HEADER_LEN..size];
    if crc32fast::hash(body) != body_crc {
        if buf.len() == size {
            return Decoded::Torn;
        }
        return Decoded::Corrupt("record body checksum mismatch with more records after it".into());
    }
    match LogEntry::decode(body) {
        Ok(entry) => Decoded::Record { entry, size },
        Err(e) => Decoded::Corrupt(format!("record body does not decode: {e}")),
    }
}

/// The valid records of a log file, in order.
#[derive(Debug, Default, PartialEq)]
pub struct Scan {
    /// Each record's entry and byte offset.
    pub records: Vec<(u64, LogEntry)>,
    /// Where the last good record ends; the file is cut here when shorter
    /// than the buffer (a torn tail).
    pub good_len: u64,
}

/// Scans a whole log file. `Err((offset, reason))` on corruption.
pub fn scan(buf: &[u8]) -> Result<Scan, (u64, String)> {
    let mut out = Scan::default();
    let mut at = 0usize;
    while at < buf.len() {
        match decode(&buf[at..]) {
            Decoded::Record { entry, size } => {
                out.records.push((at as u64, entry));
                at += size;
            }
            Decoded::Torn => break,
            Decoded::Corrupt(reason) => return Err((at as u64, reason)),
        }
    }
    out.good_len = at as u64;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: u64, len: usize) -> LogEntry {
        LogEntry {
            command: vec![index as u8; len],
            log_term: index / 3 + 1,
            log_index: index,
        }
    }

    fn file(n: u64) -> (Vec<u8>, Vec<usize>) {
        let mut buf = Vec::new();
        let mut starts = Vec::new();
        for i in 1..=n {
            starts.push(buf.len());
            encode(&entry(i, 10 + i as usize), &mut buf).unwrap();
        }
        (buf, starts)
    }

    #[test]
    fn round_trips_records() {
        let (buf, starts) = file(5);
        let scan = scan(&buf).unwrap();
        assert_eq!(scan.good_len, buf.len() as u64);
        let got: Vec<_> = scan
            .records
            .iter()
            .map(|(o, e)| (*o as usize, e.clone()))
            .collect();
        let want: Vec<_> = (1..=5)
            .map(|i| (starts[i - 1], entry(i as u64, 10 + i)))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn empty_entry_round_trips() {
        let mut buf = Vec::new();
        encode(&LogEntry::default(), &mut buf).unwrap();
        assert_eq!(buf.len(), HEADER_LEN);
        assert_eq!(
            decode(&buf),
            Decoded::Record {
                entry: LogEntry::default(),
                size: HEADER_LEN
            }
        );
    }

    #[test]
    fn every_cut_inside_last_record_is_torn() {
        let (buf, starts) = file(3);
        let last = starts[2];
        for cut in last + 1..buf.len() {
            let scan = scan(&buf[..cut]).unwrap();
            assert_eq!(scan.good_len, last as u64, "cut at {cut}");
            assert_eq!(scan.records.len(), 2);
        }
    }

    #[test]
    fn bad_checksum_on_last_record_is_torn() {
        let (mut buf, starts) = file(3);
        let n = buf.len();
        buf[n - 1] ^= 0xff;
        let scan = scan(&buf).unwrap();
        assert_eq!(scan.good_len, starts[2] as u64);
    }

    #[test]
    fn zero_tail_is_torn() {
        let (mut buf, starts) = file(2);
        let end = buf.len();
        buf.extend_from_slice(&[0u8; 100]);
        let scan = scan(&buf).unwrap();
        assert_eq!(scan.good_len, end as u64);
        assert_eq!(scan.records.len(), 2);
        assert_eq!(scan.records[1].0, starts[1] as u64);
    }

    #[test]
    fn flipped_byte_in_middle_record_is_corrupt_at_its_offset() {
        let (buf, starts) = file(4);
        for at in starts[1]..starts[2] {
            let mut bad = buf.clone();
            bad[at] ^= 0x01;
            assert_eq!(
                scan(&bad).map_err(|(o, _)| o),
                Err(starts[1] as u64),
                "flip at {at}"
            );
        }
    }

    #[test]
    fn oversized_length_with_valid_header_is_corrupt() {
        let mut buf = vec![0u8; HEADER_LEN];
        buf[0..4].copy_from_slice(&(MAX_BODY_LEN as u32 + 1).to_le_bytes());
        let crc = crc32fast::hash(&buf[0..8]);
        buf[8..12].copy_from_slice(&crc.to_le_bytes());
        assert!(matches!(decode(&buf), Decoded::Corrupt(_)));
    }
}
