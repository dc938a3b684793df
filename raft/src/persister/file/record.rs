//! The log file's record codec and the scan that finds its last good record.
//!
//! One record per log entry, little-endian, no padding:
//!
//! ```text
//!  0         4                   12        16        20                    20 + len
//!  +---------+-------------------+---------+---------+----------------------+
//!  |   len   |      synced       | body_crc| head_crc|  body: LogEntry      |
//!  |   u32   |       u64         |   u32   |   u32   |  (prost, len bytes)  |
//!  +---------+-------------------+---------+---------+----------------------+
//!  body_crc = crc32(body)            len <= MAX_BODY_LEN
//!  head_crc = crc32(bytes 0..16)     synced < the entry's own index
//! ```
//!
//! `synced` is the highest log index the writer knew to be durable (synced)
//! when it wrote this record. It is what lets recovery tell the two kinds of
//! damage apart: a damaged record at index `i` with a later readable record
//! claiming `synced >= i` was synced, so the damage is corruption; with no
//! such claim the record was never synced, so never acknowledged, and it is
//! dropped with everything after it (a power loss may write unsynced pages
//! in any order, so valid records may follow the hole).
//!
//! The header has its own checksum so that a flipped bit in `len` is caught
//! as damage instead of sending the scan into the middle of a body, and so
//! a claim is only believed from an intact header.

use prost::Message;
use proto::raft::LogEntry;

/// Bytes before the body.
pub const HEADER_LEN: usize = 20;

/// Largest body we write or accept: a bound on what a corrupt header can
/// make us allocate, and at least the largest entry Raft accepts (derived in
/// `limits.rs`, so the persister never refuses what `start` took).
pub const MAX_BODY_LEN: usize = crate::limits::MAX_LOG_RECORD_BYTES;

/// Appends `entry` as one record to `out`, claiming that every entry
/// through index `synced` is durable. `None` if the entry is too large to be
/// read back.
pub fn encode(entry: &LogEntry, synced: u64, out: &mut Vec<u8>) -> Option<()> {
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
    head[4..12].copy_from_slice(&synced.to_le_bytes());
    head[12..16].copy_from_slice(&body_crc.to_le_bytes());
    let head_crc = crc32fast::hash(&head[0..16]);
    head[16..20].copy_from_slice(&head_crc.to_le_bytes());
    Some(())
}

/// What reading one record at the front of a buffer found.
#[derive(Debug, PartialEq)]
pub enum Decoded {
    /// A whole, valid record of `size` bytes.
    Record {
        entry: LogEntry,
        synced: u64,
        size: usize,
    },
    /// Not a valid record. `size` is the record's length when its header is
    /// intact (so a scan can step over it), `None` when nothing about it can
    /// be trusted.
    Damaged { reason: String, size: Option<usize> },
}

fn damaged(reason: impl Into<String>, size: Option<usize>) -> Decoded {
    Decoded::Damaged {
        reason: reason.into(),
        size,
    }
}

/// Reads the record at the start of `buf` (which runs to the end of the
/// file). `buf` must not be empty.
pub fn decode(buf: &[u8]) -> Decoded {
    if buf.len() < HEADER_LEN {
        return damaged("record header cut short by the end of the file", None);
    }
    let u32_at = |at: usize| u32::from_le_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]);
    let mut synced = [0u8; 8];
    synced.copy_from_slice(&buf[4..12]);
    let (len, synced) = (u32_at(0) as usize, u64::from_le_bytes(synced));
    let (body_crc, head_crc) = (u32_at(12), u32_at(16));
    if crc32fast::hash(&buf[0..16]) != head_crc {
        return damaged("record header checksum mismatch", None);
    }
    if len > MAX_BODY_LEN {
        return damaged(format!("record length {len} exceeds {MAX_BODY_LEN}"), None);
    }
    let size = HEADER_LEN + len;
    if buf.len() < size {
        return damaged("record body cut short by the end of the file", None);
    }
    let body = &buf[HEADER_LEN..size];
    if crc32fast::hash(body) != body_crc {
        return damaged("record body checksum mismatch", Some(size));
    }
    match LogEntry::decode(body) {
        Ok(entry) if synced >= entry.log_index => damaged(
            format!(
                "record of entry {} claims entries through {synced} were already synced",
                entry.log_index
            ),
            Some(size),
        ),
        Ok(entry) => Decoded::Record {
            entry,
            synced,
            size,
        },
        Err(e) => damaged(format!("record body does not decode: {e}"), Some(size)),
    }
}

/// The first damaged spot of a log file.
#[derive(Debug, PartialEq)]
pub struct Damage {
    pub offset: u64,
    pub reason: String,
}

/// What a scan of a whole log file found.
#[derive(Debug, Default, PartialEq)]
pub struct Scan {
    /// The valid records before the first damage: each one's byte offset
    /// and entry.
    pub records: Vec<(u64, LogEntry)>,
    /// Where the last of `records` ends: the file's length, or the offset
    /// of `damage`.
    pub good_len: u64,
    /// The first damaged record, if any.
    pub damage: Option<Damage>,
    /// Everything from the damage to the end of the file is zeros: the
    /// unused end of a preallocated segment (see `spare.rs`), or records a
    /// power loss undid there. Either way nothing after it was written.
    pub zero_tail: bool,
    /// The highest `synced` claim of any valid record in the file, those
    /// after the damage included: entries through it were acknowledged.
    pub max_synced: u64,
}

/// Scans a whole log file: the valid records up to the first damage, then
/// every valid record it can still find after the damage, for their claims.
pub fn scan(buf: &[u8]) -> Scan {
    let mut out = Scan::default();
    let mut at = 0usize;
    while at < buf.len() {
        match decode(&buf[at..]) {
            Decoded::Record {
                entry,
                synced,
                size,
            } => {
                out.max_synced = out.max_synced.max(synced);
                out.records.push((at as u64, entry));
                at += size;
            }
            Decoded::Damaged { reason, size } => {
                out.damage = Some(Damage {
                    offset: at as u64,
                    reason,
                });
                out.zero_tail = buf[at..].iter().all(|&b| b == 0);
                if !out.zero_tail {
                    let after = at + size.unwrap_or(1);
                    out.max_synced = out.max_synced.max(claims_after(buf, after));
                }
                break;
            }
        }
    }
    out.good_len = out.damage.as_ref().map_or(buf.len() as u64, |d| d.offset);
    out
}

/// The highest `synced` claim among the valid records found from `at` on.
/// A power loss leaves unsynced records at their offsets with holes between
/// them, so where no header can be trusted the search moves one byte at a
/// time (a false match needs both checksums to pass by chance; at worst it
/// makes recovery refuse to start, never drop synced data).
fn claims_after(buf: &[u8], mut at: usize) -> u64 {
    let mut max = 0;
    while at + HEADER_LEN <= buf.len() {
        match decode(&buf[at..]) {
            Decoded::Record { synced, size, .. } => {
                max = max.max(synced);
                at += size;
            }
            Decoded::Damaged {
                size: Some(size), ..
            } => at += size,
            Decoded::Damaged { size: None, .. } => at = next_candidate(buf, at),
        }
    }
    max
}

/// The next offset after `at` where a record could start. A header whose
/// first 16 bytes are zeros never decodes as a record (its entry would be
/// index 0), so a run of zeros — preallocated space — is stepped over
/// whole instead of byte by byte.
fn next_candidate(buf: &[u8], at: usize) -> usize {
    let nonzero = buf[at..]
        .iter()
        .position(|&b| b != 0)
        .map_or(buf.len(), |i| at + i);
    (at + 1).max(nonzero.saturating_sub(15))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: u64, len: usize) -> LogEntry {
        LogEntry {
            command: vec![index as u8; len],
            log_term: index / 3 + 1,
            log_index: index,
            config: None,
        }
    }

    /// Entries 1..=n, each claiming the one before it was synced.
    fn file(n: u64) -> (Vec<u8>, Vec<usize>) {
        let mut buf = Vec::new();
        let mut starts = Vec::new();
        for i in 1..=n {
            starts.push(buf.len());
            encode(&entry(i, 10 + i as usize), i - 1, &mut buf).unwrap();
        }
        (buf, starts)
    }

    #[test]
    fn round_trips_records() {
        let (buf, starts) = file(5);
        let scan = scan(&buf);
        assert_eq!(scan.good_len, buf.len() as u64);
        assert_eq!(scan.damage, None);
        assert_eq!(scan.max_synced, 4);
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
        let e = LogEntry {
            log_index: 1,
            config: None,
            ..LogEntry::default()
        };
        encode(&e, 0, &mut buf).unwrap();
        let size = buf.len();
        assert_eq!(
            decode(&buf),
            Decoded::Record {
                entry: e,
                synced: 0,
                size
            }
        );
    }

    #[test]
    fn every_cut_inside_last_record_is_damage_at_its_start() {
        let (buf, starts) = file(3);
        let last = starts[2];
        for cut in last + 1..buf.len() {
            let scan = scan(&buf[..cut]);
            assert_eq!(scan.good_len, last as u64, "cut at {cut}");
            assert_eq!(scan.records.len(), 2);
            assert_eq!(scan.max_synced, 1);
        }
    }

    #[test]
    fn zero_tail_is_damage_with_no_claim() {
        let (mut buf, _) = file(2);
        let end = buf.len();
        buf.extend_from_slice(&[0u8; 100]);
        let scan = scan(&buf);
        assert_eq!(scan.good_len, end as u64);
        assert_eq!(scan.records.len(), 2);
        assert_eq!(scan.max_synced, 1);
        assert!(scan.zero_tail);
    }

    #[test]
    fn a_tail_with_anything_but_zeros_is_no_zero_tail() {
        let (mut buf, _) = file(2);
        buf.extend_from_slice(&[0u8; 100]);
        buf.push(1);
        buf.extend_from_slice(&[0u8; 10]);
        assert!(!scan(&buf).zero_tail);
        let (mut torn, starts) = file(3);
        torn.truncate(starts[2] + 5);
        torn.extend_from_slice(&[0u8; 100]);
        let scan = scan(&torn);
        assert_eq!(scan.good_len, starts[2] as u64);
        assert!(!scan.zero_tail, "a torn record before the zeros");
    }

    #[test]
    fn claims_are_found_after_long_runs_of_zeros() {
        // Entry 3's record is lost in preallocated space; 4 claims it synced.
        let mut buf = Vec::new();
        for (i, synced) in [(1, 0), (2, 1)] {
            encode(&entry(i, 30), synced, &mut buf).unwrap();
        }
        let hole = buf.len();
        buf.resize(hole + 100_000, 0);
        // Every alignment of the record after the zeros, since the skip
        // over zeros must not step past its first byte.
        for pad in 0..20 {
            let mut bad = buf.clone();
            bad.resize(hole + 100_000 + pad, 0);
            encode(&entry(4, 30), 3, &mut bad).unwrap();
            bad.resize(bad.len() + 1000, 0);
            let scan = scan(&bad);
            assert_eq!(scan.good_len, hole as u64);
            assert!(!scan.zero_tail);
            assert_eq!(scan.max_synced, 3, "pad {pad}");
        }
    }

    #[test]
    fn claims_are_found_past_any_damaged_byte() {
        // Entry 5 claims 4: damage anywhere in 2..=4 is under a claim.
        let (buf, starts) = file(5);
        for at in starts[1]..starts[4] {
            let mut bad = buf.clone();
            bad[at] ^= 0x01;
            let scan = scan(&bad);
            let damage = scan.damage.expect("damage found");
            assert!(starts[1..4].contains(&(damage.offset as usize)), "at {at}");
            assert_eq!(scan.max_synced, 4, "flip at {at}");
        }
    }

    #[test]
    fn unsynced_records_after_a_hole_claim_only_the_synced_prefix() {
        // 1 and 2 synced; 3, 4, 5 written after, each claiming 2. A power
        // loss wrote 4 and 5 but not 3.
        let mut buf = Vec::new();
        let mut starts = Vec::new();
        for (i, synced) in [(1, 0), (2, 1), (3, 2), (4, 2), (5, 2)] {
            starts.push(buf.len());
            encode(&entry(i, 30), synced, &mut buf).unwrap();
        }
        buf[starts[2]..starts[3]].fill(0);
        let scan = scan(&buf);
        assert_eq!(scan.good_len, starts[2] as u64);
        assert_eq!(scan.max_synced, 2);
    }

    #[test]
    fn a_record_claiming_itself_synced_is_damaged() {
        let mut buf = Vec::new();
        encode(&entry(3, 5), 3, &mut buf).unwrap();
        assert!(matches!(decode(&buf), Decoded::Damaged { .. }));
    }

    #[test]
    fn oversized_length_with_valid_header_is_damaged() {
        let mut buf = vec![0u8; HEADER_LEN];
        buf[0..4].copy_from_slice(&(MAX_BODY_LEN as u32 + 1).to_le_bytes());
        let crc = crc32fast::hash(&buf[0..16]);
        buf[16..20].copy_from_slice(&crc.to_le_bytes());
        assert!(matches!(decode(&buf), Decoded::Damaged { size: None, .. }));
    }
}
