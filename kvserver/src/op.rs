//! An operation as it travels through the Raft log (the original's `Op`).

use serde::{Deserialize, Serialize};

/// What a client asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpKind {
    Get,
    Put,
    Append,
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
}

/// One client request, serialized into a log entry's command bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    pub kind: OpKind,
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    pub client_id: Vec<u8>,
    pub request_id: i64,
}
