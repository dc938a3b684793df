//! The KvServer's knobs, all in one place, and its size limits, derived
//! from Raft's largest command (`raft::limits`) and the RPC frame limit.

use std::time::Duration;

use raft::limits::{MAX_COMMAND_BYTES, MAX_FRAME_BYTES};
use raft::RaftConfig;

use crate::dedup::SessionLimits;
use crate::KvServerError;

/// The default largest key: 64 KiB. Keys are compared at every step of a
/// skip-list search and kept whole in every snapshot, so they should stay
/// small; this still leaves room for long composite keys (etcd lets a key
/// fill its whole request, TiKV stops at 8 KiB).
pub const DEFAULT_MAX_KEY_BYTES: usize = 64 << 10;

/// The default largest value of one Put or Append: 1.5 MiB, after etcd's
/// default request limit (`--max-request-bytes`). Such a write stays well
/// under one AppendEntries batch (4 MiB), so it never holds up replication
/// of the small writes queued behind it for long.
pub const DEFAULT_MAX_VALUE_BYTES: usize = 3 << 19;

/// What the log entry of a write adds to its key and value: bincode's
/// variant tag and length prefixes, the request id, and room for a client
/// id (the Clerk's are 32 bytes). A request whose client id is longer still
/// is refused by `Raft::try_start`, with the same ErrTooLarge.
pub const OP_ENVELOPE_BYTES: usize = 1 << 10;

/// The most `max_key_bytes + max_value_bytes` may be: the log entry of a
/// write of both still fits Raft's largest command.
pub const MAX_KEY_AND_VALUE_BYTES: usize = MAX_COMMAND_BYTES - OP_ENVELOPE_BYTES;

/// What a GetReply adds to its value: `Err` and `LeaderId`, with headroom.
const GET_REPLY_ENVELOPE_BYTES: usize = 4 << 10;

/// The largest value the store keeps under one key: a GetReply carrying it
/// fits in one frame. An Append that would grow a value past it is refused
/// (ErrTooLarge) when it applies, so this is fixed for the whole cluster,
/// not configured per node: every replica must decide alike.
pub const MAX_STORED_VALUE_BYTES: usize = MAX_FRAME_BYTES - GET_REPLY_ENVELOPE_BYTES;

/// How many items a Scan page holds when the client asks for 0 (the
/// server default): after etcd's and TiKV's usual page sizes, a page of
/// small entries is then one quick reply.
pub const DEFAULT_SCAN_LIMIT: usize = 1000;

/// About how many bytes of keys and values a Scan page carries: a page
/// stops before the item that would take it past this, whatever the limit
/// (the client follows NextKey). As a Raft batch (4 MiB), so one reply
/// never holds a connection for long.
pub const SCAN_PAGE_BYTES: usize = 4 << 20;

/// The largest ScanReply a server sends: one frame, with the same headroom
/// as a GetReply. Only a page of one huge item (a long key with a value
/// near [`MAX_STORED_VALUE_BYTES`]) comes near it; an item that alone would
/// not fit is answered ErrTooLarge, NextKey naming it.
pub const MAX_SCAN_REPLY_BYTES: usize = MAX_FRAME_BYTES - GET_REPLY_ENVELOPE_BYTES;

// Whatever a node accepts in one Put fits in a stored value.
const _: () = assert!(MAX_KEY_AND_VALUE_BYTES <= MAX_STORED_VALUE_BYTES);

/// How one KvServer behaves. `session_ttl` and `max_sessions` decide what
/// the replicated state machine forgets, so they must be equal on every
/// node of a cluster (and stay so across restarts); the rest is local.
#[derive(Clone, Debug)]
pub struct KvServerConfig {
    /// Snapshot once Raft's stored state reaches this many bytes; `None`
    /// never snapshots (the original's `maxraftstate = -1`).
    pub max_raft_state: Option<u64>,
    /// With `Some(r)`, snapshot only once the log also reaches 1/r of the
    /// last snapshot's size: a store of gigabytes then rewrites itself once
    /// per 1/r of its size in log, not once per `max_raft_state` (which for
    /// 1 GiB and 16 MiB meant a snapshot after every 16 MiB, back to back).
    /// The log kept in memory grows by up to 1/r of the store. `None` keeps
    /// `max_raft_state` alone, as 6.5840's tests expect.
    pub snapshot_ratio: Option<u64>,
    /// How long a request may wait for its entry to apply before the client
    /// is told ErrTimeout (the original's CONSENSUS_TIMEOUT).
    pub op_timeout: Duration,
    /// How often waiting requests are checked for lost leadership.
    pub sweep_interval: Duration,
    /// A client session idle this long in log time (the leaders' clocks,
    /// stamped into the log) is forgotten; a late copy of one of its
    /// writes is then refused with ErrSessionExpired. Default 1 h: far
    /// longer than any retry can be delayed. Must be equal on all nodes.
    pub session_ttl: Duration,
    /// At most this many client sessions are remembered; beyond it the
    /// least recently used is forgotten. Bounds the memory and snapshot
    /// size of dedup: a Clerk session (32-byte id) takes about 240 bytes
    /// of memory and 48 of snapshot, so the default of 100 000 costs about
    /// 24 MB and 4.8 MB. A session that has made a Delete or Cas keeps the
    /// latest one's decision too: about 120 bytes more (40 of snapshot),
    /// plus the value a failed Cas found. Must be equal on all nodes.
    pub max_sessions: usize,
    /// A request whose key (a Scan's start or end key too) is longer is
    /// refused with ErrTooLarge before it reaches Raft
    /// ([`DEFAULT_MAX_KEY_BYTES`]).
    pub max_key_bytes: usize,
    /// A Put, Append or Cas whose value (a Cas's expected value too) is
    /// longer is refused with ErrTooLarge before it reaches Raft
    /// ([`DEFAULT_MAX_VALUE_BYTES`]). Together with
    /// `max_key_bytes` at most [`MAX_KEY_AND_VALUE_BYTES`].
    pub max_value_bytes: usize,
    pub raft: RaftConfig,
}

impl Default for KvServerConfig {
    fn default() -> Self {
        KvServerConfig {
            max_raft_state: None,
            snapshot_ratio: None,
            op_timeout: Duration::from_secs(2),
            sweep_interval: Duration::from_millis(50),
            session_ttl: SessionLimits::default().ttl,
            max_sessions: SessionLimits::default().max_sessions,
            max_key_bytes: DEFAULT_MAX_KEY_BYTES,
            max_value_bytes: DEFAULT_MAX_VALUE_BYTES,
            raft: RaftConfig::default(),
        }
    }
}

impl KvServerConfig {
    /// The session expiry rules for the state machine.
    pub fn session_limits(&self) -> SessionLimits {
        SessionLimits {
            ttl: self.session_ttl,
            max_sessions: self.max_sessions,
        }
    }

    pub fn validate(&self) -> Result<(), KvServerError> {
        if self.snapshot_ratio == Some(0) {
            return Err(KvServerError::InvalidConfig(
                "snapshot_ratio must be positive (or unset)".into(),
            ));
        }
        if self.max_raft_state == Some(0) {
            return Err(KvServerError::InvalidConfig(
                "max_raft_state must be positive (or unset to never snapshot)".into(),
            ));
        }
        if self.op_timeout.is_zero() || self.sweep_interval.is_zero() {
            return Err(KvServerError::InvalidConfig(
                "op_timeout and sweep_interval must be positive".into(),
            ));
        }
        if self.session_ttl.is_zero() || self.max_sessions == 0 {
            return Err(KvServerError::InvalidConfig(
                "session_ttl and max_sessions must be positive".into(),
            ));
        }
        if self.max_key_bytes == 0 {
            return Err(KvServerError::InvalidConfig(
                "max_key_bytes must be positive".into(),
            ));
        }
        if self.max_key_bytes.saturating_add(self.max_value_bytes) > MAX_KEY_AND_VALUE_BYTES {
            return Err(KvServerError::InvalidConfig(format!(
                "max_key_bytes ({}) + max_value_bytes ({}) must be at most {MAX_KEY_AND_VALUE_BYTES}, \
                 so that a write fits in one Raft log entry",
                self.max_key_bytes, self.max_value_bytes
            )));
        }
        self.raft.validate().map_err(KvServerError::Raft)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid() {
        KvServerConfig::default().validate().unwrap();
    }

    #[test]
    fn key_and_value_limits_must_fit_a_raft_command() {
        let at_most = KvServerConfig {
            max_key_bytes: 1,
            max_value_bytes: MAX_KEY_AND_VALUE_BYTES - 1,
            ..KvServerConfig::default()
        };
        at_most.validate().unwrap();
        let over = KvServerConfig {
            max_value_bytes: MAX_KEY_AND_VALUE_BYTES,
            ..at_most.clone()
        };
        assert!(matches!(
            over.validate(),
            Err(KvServerError::InvalidConfig(_))
        ));
        let no_keys = KvServerConfig {
            max_key_bytes: 0,
            ..KvServerConfig::default()
        };
        assert!(no_keys.validate().is_err());
        let huge = KvServerConfig {
            max_key_bytes: usize::MAX,
            max_value_bytes: usize::MAX,
            ..KvServerConfig::default()
        };
        assert!(huge.validate().is_err());
    }

    #[test]
    fn the_largest_write_a_node_may_accept_fits_a_raft_command() {
        // The real encoder, the longest request id, a Clerk-sized client id.
        let op = crate::Op {
            kind: crate::OpKind::Append,
            key: vec![b'k'; 1],
            value: vec![b'v'; MAX_KEY_AND_VALUE_BYTES - 1],
            client_id: vec![b'c'; 32],
            request_id: i64::MIN,
        };
        let command = crate::codec::encode(&op);
        assert!(command.len() <= MAX_COMMAND_BYTES, "{}", command.len());
    }
}
