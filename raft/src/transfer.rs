//! The leader's half of a streamed InstallSnapshot (Figure 13's offset,
//! data, done): which chunk a lagging follower gets next, and how its answer
//! moves the transfer along.
//!
//! A transfer is a small state machine kept per peer: no transfer, or
//! `Sending { data, offset }`. The follower's reply names the offset it
//! expects next, so a lost chunk, a restarted follower or a follower still
//! holding half a transfer from before are all the same case: resume where
//! it says. A newer snapshot on the leader starts the transfer over.

use std::io;

use proto::raft::InstallSnapshotRequest;

use crate::persister::SnapshotData;

/// A transfer in progress to one peer.
#[derive(Clone, Debug)]
pub(crate) struct Transfer {
    pub data: SnapshotData,
    /// The next byte to send.
    pub offset: u64,
}

/// One chunk on its way: the request without its bytes, which the sender
/// thread reads from the snapshot outside every lock.
pub(crate) struct Chunk {
    pub args: InstallSnapshotRequest,
    pub data: SnapshotData,
    /// Bytes to read from `args.offset` on.
    pub len: usize,
}

impl Chunk {
    /// The request with its bytes read in.
    pub fn read(&self) -> io::Result<InstallSnapshotRequest> {
        let mut args = self.args.clone();
        args.data = vec![0; self.len];
        self.data.read_at(args.offset, &mut args.data)?;
        Ok(args)
    }
}

/// The next chunk of `current` for a peer whose transfer state is
/// `transfer`, starting a new transfer if there is none or it is of an
/// older snapshot.
pub(crate) fn next_chunk(
    transfer: &mut Option<Transfer>,
    current: &SnapshotData,
    leader_id: i32,
    term: u64,
    chunk_bytes: usize,
) -> Chunk {
    let sending = match transfer {
        Some(t) if t.data == *current && t.offset <= current.len() => t,
        _ => transfer.insert(Transfer {
            data: current.clone(),
            offset: 0,
        }),
    };
    let total = current.len();
    let len = (total - sending.offset).min(chunk_bytes as u64);
    let meta = current.meta();
    Chunk {
        args: InstallSnapshotRequest {
            leader_id,
            term,
            last_snap_shot_include_index: meta.last_included_index,
            last_snap_shot_include_term: meta.last_included_term,
            data: Vec::new(),
            offset: sending.offset,
            done: sending.offset + len == total,
            total_size: total,
            crc: current.crc(),
        },
        data: current.clone(),
        len: len as usize,
    }
}

/// Moves the transfer along after the follower answered a chunk it was
/// sent with `args` and did not yet hold the whole snapshot: resume at the
/// offset it names.
pub(crate) fn resume_at(
    transfer: &mut Option<Transfer>,
    args: &InstallSnapshotRequest,
    next_offset: u64,
) {
    if let Some(t) = transfer {
        let meta = t.data.meta();
        let same = meta.last_included_index == args.last_snap_shot_include_index
            && meta.last_included_term == args.last_snap_shot_include_term
            && t.data.crc() == args.crc;
        if same {
            t.offset = next_offset.min(t.data.len());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SnapshotMeta;

    fn snapshot(index: u64, bytes: usize) -> SnapshotData {
        let meta = SnapshotMeta {
            last_included_index: index,
            last_included_term: 1,
        };
        SnapshotData::from_bytes(meta, (0..bytes).map(|i| i as u8).collect())
    }

    #[test]
    fn chunks_cover_the_snapshot_once_and_mark_the_last() {
        let data = snapshot(9, 10);
        let mut transfer = None;
        let mut assembled = Vec::new();
        loop {
            let chunk = next_chunk(&mut transfer, &data, 0, 1, 4);
            let args = chunk.read().unwrap();
            assert_eq!(args.offset, assembled.len() as u64);
            assembled.extend_from_slice(&args.data);
            if args.done {
                break;
            }
            resume_at(&mut transfer, &args, assembled.len() as u64);
        }
        assert_eq!(assembled, data.to_vec().unwrap());
    }

    #[test]
    fn resumes_where_the_follower_says_and_restarts_on_a_newer_snapshot() {
        let old = snapshot(9, 10);
        let mut transfer = None;
        let first = next_chunk(&mut transfer, &old, 0, 1, 4).read().unwrap();
        resume_at(&mut transfer, &first, 2);
        assert_eq!(next_chunk(&mut transfer, &old, 0, 1, 4).args.offset, 2);
        // An answer about another snapshot moves nothing.
        let other = next_chunk(&mut None, &snapshot(5, 10), 0, 1, 4).args;
        resume_at(&mut transfer, &other, 8);
        assert_eq!(next_chunk(&mut transfer, &old, 0, 1, 4).args.offset, 2);
        let newer = snapshot(12, 3);
        let chunk = next_chunk(&mut transfer, &newer, 0, 1, 4);
        assert_eq!(
            (chunk.args.offset, chunk.len, chunk.args.done),
            (0, 3, true)
        );
        assert_eq!(chunk.args.last_snap_shot_include_index, 12);
    }
}
