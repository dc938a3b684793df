//! The KV snapshot as a stream: a frozen image of the state machine is
//! written entry by entry on a thread of its own, and a snapshot is read
//! back entry by entry into a skip list built in one pass, so neither side
//! ever holds the store twice (the original serialized the whole store into
//! one string under its lock).
//!
//! ```text
//!  +----------------------------------------+-------------------------------------+----------------------+
//!  | header: bincode(Header { last_applied, | bincode(entries): a count, then     | bincode(replies):    |
//!  |         dedup })                       | (key, value) byte strings, in order | the kept Delete/Cas  |
//!  |                                        |                                     | decisions (optional) |
//!  +----------------------------------------+-------------------------------------+----------------------+
//! ```
//!
//! The replies (`dedup/replies.rs`) come last so that a snapshot written
//! before Delete and Cas existed, which ends after the entries, still reads
//! back (with none kept).
//!
//! The entries go through one serde sequence (the skip list's own
//! `Serialize`), streamed straight from the frozen image into the file, and
//! are read back straight into a skip list built in one sorted pass.

use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};

use serde::{Deserialize, Serialize};
use skiplist::{ByteSkipList, FrozenList};

use crate::codec;
use crate::dedup::{DedupTable, ReplyImage};
use crate::state_machine::KvStateMachine;

/// Bytes written between two checks of whether the writer should give up.
const STOP_CHECK_BYTES: usize = 4 << 20;

/// The header as it is read back.
#[derive(Deserialize)]
struct Header {
    last_applied: u64,
    dedup: DedupTable,
}

/// The same header as it is written, borrowing the frozen sessions.
#[derive(Serialize)]
struct HeaderRef<'a> {
    last_applied: u64,
    dedup: &'a DedupTable,
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
    /// soon as `stop()` says so, checked every few MiB.
    pub fn write_to(&self, out: impl Write, stop: impl Fn() -> bool) -> io::Result<bool> {
        if stop() {
            return Ok(false);
        }
        let mut out = BufWriter::with_capacity(
            1 << 20,
            Stoppable {
                inner: out,
                stop: &stop,
                unchecked: 0,
            },
        );
        let header = HeaderRef {
            last_applied: self.last_applied,
            dedup: &self.dedup,
        };
        let written = codec::encode_into(&header, &mut out)
            .and_then(|()| codec::encode_into(&self.data, &mut out))
            .and_then(|()| codec::encode_into(&self.dedup.replies_image(), &mut out))
            .and_then(|()| out.flush());
        match written {
            Ok(()) => Ok(true),
            Err(_) if stop() => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// A writer that fails once `stop()` says so, ending a long encode early.
struct Stoppable<'a, W> {
    inner: W,
    stop: &'a dyn Fn() -> bool,
    unchecked: usize,
}

impl<W: Write> Write for Stoppable<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.unchecked += buf.len();
        if self.unchecked >= STOP_CHECK_BYTES {
            self.unchecked = 0;
            if (self.stop)() {
                return Err(io::Error::other("the snapshot was abandoned"));
            }
        }
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Rebuilds a state machine from a snapshot stream written by
/// [`FrozenState::write_to`]; `Err` names what is wrong with it.
pub fn read_from(input: impl Read) -> Result<KvStateMachine, String> {
    let mut input = BufReader::with_capacity(1 << 20, input);
    let header: Header = codec::decode_from(&mut input).map_err(|e| format!("header: {e}"))?;
    let data: ByteSkipList = codec::decode_from(&mut input).map_err(|e| format!("entries: {e}"))?;
    let mut dedup = header.dedup;
    let more = !input.fill_buf().map_err(|e| e.to_string())?.is_empty();
    if more {
        let replies: Vec<ReplyImage> =
            codec::decode_from(&mut input).map_err(|e| format!("replies: {e}"))?;
        dedup
            .restore_replies(replies)
            .map_err(|e| format!("replies: {e}"))?;
    }
    let mut rest = [0u8; 1];
    if input.read(&mut rest).map_err(|e| e.to_string())? != 0 {
        return Err(format!(
            "bytes after the {} entries and the replies",
            data.len()
        ));
    }
    Ok(KvStateMachine::from_parts(header.last_applied, dedup, data))
}
