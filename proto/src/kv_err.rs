//! The `Err` field of the KV replies as a typed enum: the wire carries
//! strings (as the original does); code on both sides speaks this enum.

use std::fmt;

/// Outcome of a Get or PutAppend, as carried in `GetReply.Err` /
/// `PutAppendReply.Err`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KvErr {
    /// The operation was applied (or, for Get, the key was found).
    Ok,
    /// Get of a key that does not exist.
    NoKey,
    /// This node is not the leader; `LeaderId` holds its guess, -1 if none.
    WrongLeader,
    /// The operation did not commit in time; it may still apply later.
    Timeout,
    /// A Put or Append refused, nothing applied: its client session is
    /// unknown or expired, or its request id is older than the server
    /// remembers. Retrying the same request cannot help.
    SessionExpired,
    /// Refused for its size, and never applied: a key or value over the
    /// server's limit, or an Append that would make the stored value larger
    /// than any reply could carry. Retrying cannot help.
    TooLarge,
}

impl KvErr {
    /// The exact string on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            KvErr::Ok => "OK",
            KvErr::NoKey => "ErrNoKey",
            KvErr::WrongLeader => "ErrWrongLeader",
            KvErr::Timeout => "ErrTimeout",
            KvErr::SessionExpired => "ErrSessionExpired",
            KvErr::TooLarge => "ErrTooLarge",
        }
    }

    /// The wire bytes, for filling a reply.
    pub fn to_wire(self) -> Vec<u8> {
        self.as_str().as_bytes().to_vec()
    }

    /// Parses the wire bytes; `None` for anything this version does not know.
    pub fn from_wire(bytes: &[u8]) -> Option<KvErr> {
        match bytes {
            b"OK" => Some(KvErr::Ok),
            b"ErrNoKey" => Some(KvErr::NoKey),
            b"ErrWrongLeader" => Some(KvErr::WrongLeader),
            b"ErrTimeout" => Some(KvErr::Timeout),
            b"ErrSessionExpired" => Some(KvErr::SessionExpired),
            b"ErrTooLarge" => Some(KvErr::TooLarge),
            _ => None,
        }
    }
}

impl fmt::Display for KvErr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::KvErr;

    #[test]
    fn wire_strings_round_trip() {
        for err in [
            KvErr::Ok,
            KvErr::NoKey,
            KvErr::WrongLeader,
            KvErr::Timeout,
            KvErr::SessionExpired,
            KvErr::TooLarge,
        ] {
            assert_eq!(KvErr::from_wire(&err.to_wire()), Some(err));
        }
        assert_eq!(KvErr::from_wire(b"ErrSomethingElse"), None);
        assert_eq!(KvErr::WrongLeader.as_str(), "ErrWrongLeader");
        assert_eq!(KvErr::TooLarge.as_str(), "ErrTooLarge");
    }
}
