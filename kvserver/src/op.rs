//! An operation as it travels through the Raft log (the original's `Op`),
//! and the stamped command that carries it.

use serde::{Deserialize, Serialize};

/// What a client asked for. New kinds go at the end: the variant's
/// position is its tag in log entries already written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpKind {
    Get,
    Put,
    Append,
    /// Remove the key.
    Delete,
    /// Set the key to the op's value if it now holds `expected` (`None`:
    /// if it is absent).
    Cas {
        #[serde(with = "serde_bytes")]
        expected: Option<Vec<u8>>,
    },
}

impl OpKind {
    /// Parses the wire's `Op` field of PutAppendArgs ("Put" or "Append").
    pub fn from_wire(op: &[u8]) -> Option<OpKind> {
        match op {
            b"Put" => Some(OpKind::Put),
            b"Append" => Some(OpKind::Append),
            _ => None,
        }
    }

    /// Whether this kind changes the store (and so is deduplicated).
    pub fn is_write(&self) -> bool {
        !matches!(self, OpKind::Get)
    }
}

/// One client request, serialized into a log entry's command bytes.
///
/// The byte fields go through `serde_bytes`: bincode then copies them
/// whole instead of visiting one `u8` at a time (a 1 MB value took about
/// a millisecond to decode that way, on every node). The bytes written
/// are the same either way, so logs written before read back unchanged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    pub kind: OpKind,
    #[serde(with = "serde_bytes")]
    pub key: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub value: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub client_id: Vec<u8>,
    pub request_id: i64,
}

/// What a log entry holds: the operation, stamped with the proposing
/// leader's wall clock so every replica expires client sessions at the
/// same point of the log (see `dedup.rs`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    pub op: Op,
    /// Milliseconds since the Unix epoch on the leader that proposed it.
    pub stamp_ms: u64,
}

impl Command {
    /// `op`, stamped with this node's clock now.
    pub fn stamped_now(op: Op) -> Command {
        let stamp_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        Command { op, stamp_ms }
    }
}
