//! The KV snapshot as a stream: a frozen image of the state machine is
//! written entry by entry on a thread of its own, and a snapshot is read
//! back entry by entry, so neither side ever holds the store twice as one
//! buffer (the original serialized the whole store into one string under
//! its lock).
//!
//! ```text
//!  +----------------------------------------------+----------------+-----+
//!  | header: bincode(Header { last_applied,       | bincode((k, v))| ... |  `entries` pairs,
//!  |         entries, dedup })                    |                |     |  in key order
//!  +----------------------------------------------+----------------+-----+
//! ```

use std::io::{self, BufReader, BufWriter, Read, Write};

use serde::{Deserialize, Serialize};

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
    pub(crate) entries: Vec<(Vec<u8>, Vec<u8>)>,
}

impl FrozenState {
    /// Writes the snapshot to `out`. Gives up (returning `Ok(false)`) as
    /// soon as `stop()` says so, checked every few thousand entries.
    pub fn write_to(&self, out: impl Write, stop: impl Fn() -> bool) -> io::Result<bool> {
        let mut out = BufWriter::with_capacity(1 << 20, out);
        let header = Header {
            last_applied: self.last_applied,
            entries: self.entries.len() as u64,
            dedup: self.dedup.clone(),
        };
        codec::encode_into(&header, &mut out)?;
        for (i, entry) in self.entries.iter().enumerate() {
            if i % STOP_CHECK_EVERY == 0 && stop() {
                return Ok(false);
            }
            codec::encode_into(entry, &mut out)?;
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
    let mut sm = KvStateMachine::from_parts(header.last_applied, header.dedup);
    for i in 0..header.entries {
        let (key, value): (Vec<u8>, Vec<u8>) =
            codec::decode_from(&mut input).map_err(|e| format!("entry {i}: {e}"))?;
        sm.restore_entry(key, value);
    }
    let mut rest = [0u8; 1];
    if input.read(&mut rest).map_err(|e| e.to_string())? != 0 {
        return Err(format!("bytes after the {} entries", header.entries));
    }
    Ok(sm)
}
