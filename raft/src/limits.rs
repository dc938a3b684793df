//! The size limits of a Raft node, each derived from the one before it, so
//! that nothing [`Raft::start`](crate::Raft::start) accepts can later be
//! refused by the persister or by the RPC channel.
//!
//! ```text
//!  RPC frame (MAX_FRAME_BYTES, 64 MiB: the rpc crate's default)
//!   └─ AppendEntriesArgs with one entry   = APPEND_ARGS_OVERHEAD
//!        │                                 + ENTRY_IN_APPEND_OVERHEAD + command
//!        └─ command (MAX_COMMAND_BYTES = frame - COMMAND_ENVELOPE_BYTES)
//!  log record body (MAX_LOG_RECORD_BYTES)  >= LOG_ENTRY_OVERHEAD + command
//! ```
//!
//! The service above Raft derives its own limits (the KvServer's largest key
//! and value) from [`MAX_COMMAND_BYTES`].

/// The RPC frame limit: the largest args a call may carry. A node's
/// provider and channels use the rpc crate's default, so that is the number
/// everything here is derived from.
pub const MAX_FRAME_BYTES: usize = rpc::frame::DEFAULT_MAX_FRAME_BYTES;

/// The longest protobuf varint: a u64, or a negative int32 (sign-extended).
const MAX_VARINT_BYTES: usize = 10;

/// A scalar field: a one-byte key (every field number of these messages is
/// below 16) and its varint.
const MAX_SCALAR_FIELD_BYTES: usize = 1 + MAX_VARINT_BYTES;

/// The key and the length prefix of a bytes or embedded-message field.
const MAX_LEN_PREFIX_BYTES: usize = 1 + MAX_VARINT_BYTES;

/// What a `LogEntry` adds around its command: the command's key and length,
/// `LogTerm` and `LogIndex`.
pub const LOG_ENTRY_OVERHEAD: usize = MAX_LEN_PREFIX_BYTES + 2 * MAX_SCALAR_FIELD_BYTES;

/// What one entry adds to an `AppendEntriesArgs` besides its command: the
/// entry's own key and length, then the `LogEntry` fields.
pub const ENTRY_IN_APPEND_OVERHEAD: usize = MAX_LEN_PREFIX_BYTES + LOG_ENTRY_OVERHEAD;

/// The fields of an `AppendEntriesArgs` besides its entries: `Term`,
/// `LeaderId`, `PrevLogIndex`, `PrevLogTerm`, `LeaderCommit`.
pub const APPEND_ARGS_OVERHEAD: usize = 5 * MAX_SCALAR_FIELD_BYTES;

/// What a frame keeps free around the largest command. The exact overheads
/// above come to about a hundred bytes; the rest is headroom, so a field
/// added to these messages later cannot silently break the bound (a unit
/// test checks it with the real encoder).
pub const COMMAND_ENVELOPE_BYTES: usize = 4 << 10;

/// The largest command [`Raft::start`](crate::Raft::start) accepts: one
/// AppendEntries carrying it (plus its protobuf fields) fits in a frame.
pub const MAX_COMMAND_BYTES: usize = MAX_FRAME_BYTES - COMMAND_ENVELOPE_BYTES;

/// The largest log record body (one encoded `LogEntry`) the file persister
/// writes or reads back. A whole frame rather than the exact largest entry,
/// so records written before these limits existed still read back.
pub const MAX_LOG_RECORD_BYTES: usize = MAX_FRAME_BYTES;

// The chain holds at compile time.
const _: () = assert!(APPEND_ARGS_OVERHEAD + ENTRY_IN_APPEND_OVERHEAD <= COMMAND_ENVELOPE_BYTES);
const _: () = assert!(MAX_COMMAND_BYTES + LOG_ENTRY_OVERHEAD <= MAX_LOG_RECORD_BYTES);

/// The largest `AppendEntriesArgs` the replicator can build when a batch
/// holds at most `max_entries` entries and about `max_bytes` command bytes
/// (`Log::entries_from`: always at least one entry, however large, and
/// more only while their commands total at most `max_bytes`). So a batch is
/// either one entry of up to [`MAX_COMMAND_BYTES`], or entries whose
/// commands total at most `max_bytes`.
pub const fn max_append_args_bytes(max_entries: usize, max_bytes: usize) -> usize {
    let one_large = MAX_COMMAND_BYTES + ENTRY_IN_APPEND_OVERHEAD;
    let many_small = max_bytes.saturating_add(max_entries.saturating_mul(ENTRY_IN_APPEND_OVERHEAD));
    let entries = if one_large > many_small {
        one_large
    } else {
        many_small
    };
    APPEND_ARGS_OVERHEAD.saturating_add(entries)
}

#[cfg(test)]
mod tests {
    use prost::Message;
    use proto::raft::{AppendEntriesArgs, LogEntry};

    use super::*;
    use crate::{FilePersister, PersistError, Persister, RaftConfig};

    /// An entry whose every number takes its longest encoding.
    fn widest_entry(command: Vec<u8>) -> LogEntry {
        LogEntry {
            command,
            log_term: u64::MAX,
            log_index: u64::MAX,
            config: None,
        }
    }

    fn widest_args(entries: Vec<LogEntry>) -> AppendEntriesArgs {
        AppendEntriesArgs {
            term: u64::MAX,
            leader_id: -1, // a negative int32 is the longest: ten bytes
            prev_log_index: u64::MAX,
            prev_log_term: u64::MAX,
            entries,
            leader_commit: u64::MAX,
        }
    }

    #[test]
    fn the_overheads_match_the_real_encoder() {
        let command = vec![7u8; 1000];
        let entry = widest_entry(command.clone());
        assert!(entry.encoded_len() <= command.len() + LOG_ENTRY_OVERHEAD);
        let args = widest_args(vec![entry]);
        assert!(
            args.encoded_len() <= APPEND_ARGS_OVERHEAD + ENTRY_IN_APPEND_OVERHEAD + command.len()
        );
    }

    #[test]
    fn the_biggest_command_fits_a_frame() {
        let args = widest_args(vec![widest_entry(vec![0xa5; MAX_COMMAND_BYTES])]);
        let len = args.encoded_len();
        assert!(len <= MAX_FRAME_BYTES, "{len} > {MAX_FRAME_BYTES}");
        // And the frame decoder on the other side takes it whole.
        let mut frame = Vec::new();
        rpc::frame::encode_request(
            &mut frame,
            b"raftRpc",
            b"AppendEntries",
            1,
            &args.encode_to_vec(),
        );
        let (decoded, used) = rpc::frame::decode_request(&frame, MAX_FRAME_BYTES)
            .expect("a valid frame")
            .expect("a whole frame");
        assert_eq!(used, frame.len());
        assert_eq!(decoded.args.len(), len);
    }

    #[test]
    fn the_biggest_command_fits_a_log_record_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let entry = widest_entry(vec![0x5a; MAX_COMMAND_BYTES]);
        let entry = LogEntry {
            log_index: 1,
            config: None,
            ..entry
        };
        {
            let mut persister = FilePersister::open(dir.path()).unwrap();
            persister.recover().unwrap();
            persister.append(std::slice::from_ref(&entry)).unwrap();
            persister.sync().unwrap();
        }
        let recovered = FilePersister::open(dir.path()).unwrap().recover().unwrap();
        assert_eq!(recovered.entries.len(), 1);
        assert!(recovered.entries[0] == entry, "the entry came back changed");
    }

    #[test]
    fn without_the_envelope_a_frame_sized_command_would_fit_neither() {
        let entry = LogEntry {
            log_index: 1,
            config: None,
            ..widest_entry(vec![0; MAX_FRAME_BYTES])
        };
        assert!(widest_args(vec![entry.clone()]).encoded_len() > MAX_FRAME_BYTES);
        let dir = tempfile::tempdir().unwrap();
        let mut persister = FilePersister::open(dir.path()).unwrap();
        persister.recover().unwrap();
        assert!(matches!(
            persister.append(&[entry]),
            Err(PersistError::Misuse(_))
        ));
    }

    #[test]
    fn the_default_batches_fit_a_frame() {
        let config = RaftConfig::default();
        let bound =
            max_append_args_bytes(config.max_entries_per_append, config.max_bytes_per_append);
        assert!(bound <= MAX_FRAME_BYTES);
        // A full batch of small entries, widest numbers, is under the bound.
        let per = config.max_bytes_per_append / config.max_entries_per_append;
        let entries = (0..config.max_entries_per_append)
            .map(|_| widest_entry(vec![1; per]))
            .collect();
        assert!(widest_args(entries).encoded_len() <= bound);
    }

    #[test]
    fn the_bound_grows_with_the_batch_knobs() {
        assert_eq!(
            max_append_args_bytes(1, 0),
            APPEND_ARGS_OVERHEAD + MAX_COMMAND_BYTES + ENTRY_IN_APPEND_OVERHEAD
        );
        assert!(max_append_args_bytes(usize::MAX, 1) > MAX_FRAME_BYTES);
        assert!(max_append_args_bytes(1, MAX_FRAME_BYTES) > MAX_FRAME_BYTES);
    }
}
