//! The KV snapshot as a stream: a frozen image of the state machine is
//! written entry by entry on a thread of its own, and a snapshot is read
//! back entry by entry into a skip list built in one pass, so neither side
//! ever holds the store twice (the original serialized the whole store into
//! one string under its lock).
//!
//! ```text
//!  +----------------------------------------------+----------------+-----+
//!  | header: bincode(Header { last_applied,       | bincode((k, v))| ... |  `entries` pairs,
//!  |         entries, dedup })                    |                |     |  in key order
//!  +----------------------------------------------+----------------+-----+
//! ```

use std::fmt;
use std::io::{self, BufReader, BufWriter, Read, Write};

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use skiplist::{FrozenList, SortedBuilder};

use crate::codec;
use crate::dedup::DedupTable;
use crate::state_machine::KvStateMachine;

/// Entries between two checks of whether the writer should give up.
const STOP_CHECK_EVERY: usize = 4096;

#[derive(Serialize, Deserialize)]
struct Header {
    last_applied: u64,
    entries: u64,
    dedup: DedupTable,
}

/// The state machine as of one applied index, detached from the live one:
/// writing it out needs no lock.
pub struct FrozenState {
    pub(crate) last_applied: u64,
    pub(crate) dedup: DedupTable,
    pub(crate) data: FrozenList,
}

impl FrozenState {
    /// Writes the snapshot to `out`. Gives up (returning `Ok(false)`) as
    /// soon as `stop()` says so, checked every few thousand entries.
    pub fn write_to(&self, out: impl Write, stop: impl Fn() -> bool) -> io::Result<bool> {
        let mut out = BufWriter::with_capacity(1 << 20, out);
        let header = Header {
            last_applied: self.last_applied,
            entries: self.data.len() as u64,
            dedup: self.dedup.clone(),
        };
        codec::encode_into(&header, &mut out)?;
        for (i, entry) in self.data.iter().enumerate() {
            if i % STOP_CHECK_EVERY == 0 && stop() {
                return Ok(false);
            }
            codec::encode_into(&entry, &mut out)?;
        }
        out.flush()?;
        Ok(true)
    }
}

/// Rebuilds a state machine from a snapshot stream written by
/// [`FrozenState::write_to`]; `Err` names what is wrong with it.
pub fn read_from(input: impl Read) -> Result<KvStateMachine, String> {
    let mut input = BufReader::with_capacity(1 << 20, input);
    let header: Header = codec::decode_from(&mut input).map_err(|e| format!("header: {e}"))?;
    let mut data = SortedBuilder::new();
    for i in 0..header.entries {
        let (Bytes(key), Bytes(value)) =
            codec::decode_from(&mut input).map_err(|e| format!("entry {i}: {e}"))?;
        data.push(&key, &value)
            .map_err(|e| format!("entry {i}: {e}"))?;
    }
    let mut rest = [0u8; 1];
    if input.read(&mut rest).map_err(|e| e.to_string())? != 0 {
        return Err(format!("bytes after the {} entries", header.entries));
    }
    Ok(KvStateMachine::from_parts(
        header.last_applied,
        header.dedup,
        data.finish(),
    ))
}

/// A byte string decoded in one piece (serde's default for `Vec<u8>` goes
/// byte by byte, which for a store of gigabytes is most of a restart).
struct Bytes(Vec<u8>);

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Bytes, D::Error> {
        deserializer.deserialize_byte_buf(BytesVisitor)
    }
}

struct BytesVisitor;

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Bytes;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a byte string")
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
        Ok(Bytes(v.to_vec()))
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Bytes, E> {
        Ok(Bytes(v))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Bytes, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(byte) = seq.next_element()? {
            out.push(byte);
        }
        Ok(Bytes(out))
    }
}
