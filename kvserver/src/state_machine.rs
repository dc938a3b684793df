//! The replicated state machine: the skip list plus the dedup table, and
//! the pure apply step both the leader and the followers run.

use skiplist::ByteSkipList;

use crate::config::MAX_STORED_VALUE_BYTES;
use crate::dedup::{Decision, DedupTable, SessionLimits, Verdict};
use crate::op::{Command, Op, OpKind};
use crate::scan::{self, Page, ScanQuery};
use crate::snapshot::{self, FrozenState};

/// The store's data and what it needs to apply each request at most once.
#[derive(Default)]
pub struct KvStateMachine {
    data: ByteSkipList,
    /// Each client's session: which of its writes were applied.
    dedup: DedupTable,
    /// The log index of the last entry applied (or the snapshot's index).
    last_applied: u64,
}

/// What applying one command did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A Get: the value read (`None`: no such key).
    Read(Option<Vec<u8>>),
    /// A Put or Append was applied now.
    Written,
    /// A Put or Append was applied before; nothing changed.
    Duplicate,
    /// A Delete or Cas applied now, or a retry of one, told what the first
    /// attempt decided (nothing changed now).
    Decided(Decision),
    /// A write too old to tell from a copy, or of an unknown or
    /// expired session: refused, nothing changed (ErrSessionExpired).
    Refused,
    /// A write that would leave a value over [`MAX_STORED_VALUE_BYTES`]:
    /// refused, nothing changed, not recorded as applied (ErrTooLarge).
    TooLarge,
}

impl KvStateMachine {
    /// An empty store whose sessions expire by `limits`.
    pub fn new(limits: SessionLimits) -> KvStateMachine {
        let mut sm = KvStateMachine::default();
        sm.set_session_limits(limits);
        sm
    }

    /// Sets when sessions expire (after [`restore`](Self::restore), which
    /// does not know the configuration).
    pub fn set_session_limits(&mut self, limits: SessionLimits) {
        self.dedup.set_limits(limits);
    }

    /// Applies the command committed at `index`.
    ///
    /// A write (Put, Append, Delete, Cas) is applied only if its client's
    /// session says it is new (`dedup.rs`): that is what makes retries
    /// safe, however late. Gets change nothing, so they are simply executed
    /// at their place in the log, which makes them linearizable. Every
    /// command moves the log time, which expires idle sessions.
    pub fn apply(&mut self, index: u64, command: &Command) -> Outcome {
        self.last_applied = index;
        self.dedup.advance(command.stamp_ms);
        let op = &command.op;
        if !op.kind.is_write() {
            return Outcome::Read(self.data.search(&op.key).map(<[u8]>::to_vec));
        }
        match self.dedup.verdict(op) {
            Verdict::New => {}
            Verdict::Duplicate => return self.retry_outcome(op),
            Verdict::Stale => return Outcome::Refused,
        }
        // Decided from the log alone, so every replica decides alike; not
        // recorded, so a retry is refused alike.
        if self.stored_len_after(op) > MAX_STORED_VALUE_BYTES {
            return Outcome::TooLarge;
        }
        self.dedup.admit(op);
        let decision = match &op.kind {
            OpKind::Get => unreachable!("a read returned above"),
            OpKind::Put => {
                self.data.insert_or_set(&op.key, &op.value);
                return Outcome::Written;
            }
            OpKind::Append => {
                // The original's Append overwrote the value; append it is.
                self.data.append(&op.key, &op.value);
                return Outcome::Written;
            }
            OpKind::Delete => Decision::Deleted {
                existed: self.data.delete(&op.key),
            },
            OpKind::Cas { expected } => {
                let current = self.data.search(&op.key);
                if current == expected.as_deref() {
                    self.data.insert_or_set(&op.key, &op.value);
                    Decision::Swapped
                } else {
                    Decision::NotSwapped {
                        current: current.map(<[u8]>::to_vec),
                    }
                }
            }
        };
        self.dedup.remember(op, decision.clone());
        Outcome::Decided(decision)
    }

    /// The answer to a write applied before: OK for a Put or Append; for a
    /// Delete or Cas what it decided then, or a refusal if that is no
    /// longer kept (an older retry than the session's latest).
    fn retry_outcome(&self, op: &Op) -> Outcome {
        match op.kind {
            OpKind::Put | OpKind::Append | OpKind::Get => Outcome::Duplicate,
            OpKind::Delete | OpKind::Cas { .. } => self
                .dedup
                .recall(op)
                .map_or(Outcome::Refused, |d| Outcome::Decided(d.clone())),
        }
    }

    /// An entry without a command (a membership change) at `index`: nothing
    /// changes but the applied index, so a snapshot or a read past it lines up.
    pub fn skip(&mut self, index: u64) {
        self.last_applied = self.last_applied.max(index);
    }

    /// How long the value of `op.key` would be after the write `op`.
    fn stored_len_after(&self, op: &Op) -> usize {
        match op.kind {
            OpKind::Append => self
                .data
                .search(&op.key)
                .map_or(0, <[u8]>::len)
                .saturating_add(op.value.len()),
            OpKind::Put | OpKind::Cas { .. } => op.value.len(),
            OpKind::Get | OpKind::Delete => 0,
        }
    }

    /// If `op` is a write applied already (a retry), the answer it gets
    /// without another trip through the log; `None` if it must go through
    /// the log (new, refused, or a retry whose answer is no longer kept).
    pub fn duplicate_outcome(&self, op: &Op) -> Option<Outcome> {
        if !self.dedup.is_duplicate(op) {
            return None;
        }
        Some(self.retry_outcome(op)).filter(|o| *o != Outcome::Refused)
    }

    /// Whether this write was applied already (a retry): answered OK.
    pub fn is_duplicate(&self, op: &Op) -> bool {
        self.dedup.is_duplicate(op)
    }

    /// How many client sessions are remembered.
    pub fn session_count(&self) -> usize {
        self.dedup.len()
    }

    /// The value of `key` as of the last applied entry.
    pub fn read(&self, key: &[u8]) -> Option<&[u8]> {
        self.data.search(key)
    }

    /// The page of entries `query` asks for, as of the last applied entry.
    pub fn scan(&self, query: &ScanQuery) -> Page {
        scan::page(&self.data, query)
    }

    pub fn last_applied(&self) -> u64 {
        self.last_applied
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The state as of now, detached, for a snapshot written elsewhere.
    /// Cheap: the skip list's frozen image shares its entries with the
    /// live list (copy on write), so the apply path barely pauses.
    pub fn freeze(&self) -> FrozenState {
        FrozenState {
            last_applied: self.last_applied,
            dedup: self.dedup.clone(),
            data: self.data.freeze(),
        }
    }

    /// The whole state as one snapshot buffer (small states and tests).
    pub fn snapshot(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.freeze()
            .write_to(&mut out, || false)
            .expect("writing into a Vec cannot fail");
        out
    }

    /// Rebuilds the state from a snapshot taken by [`snapshot`](Self::snapshot),
    /// with default session limits (see [`set_session_limits`](Self::set_session_limits)).
    pub fn restore(bytes: &[u8]) -> Result<KvStateMachine, String> {
        snapshot::read_from(bytes)
    }

    /// A store made of what a snapshot held.
    pub(crate) fn from_parts(
        last_applied: u64,
        dedup: DedupTable,
        data: ByteSkipList,
    ) -> KvStateMachine {
        KvStateMachine {
            data,
            dedup,
            last_applied,
        }
    }
}

#[cfg(test)]
mod delete_cas_tests;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A command of client `client` stamped at time 0 (shared with the
    /// Delete/Cas tests).
    pub(super) fn command(
        kind: OpKind,
        key: &str,
        value: &str,
        client: &str,
        request_id: i64,
    ) -> Command {
        Command {
            op: Op {
                kind,
                key: key.into(),
                value: value.into(),
                client_id: client.into(),
                request_id,
            },
            stamp_ms: 0,
        }
    }

    #[test]
    fn an_append_past_the_stored_value_cap_changes_nothing_on_any_replica() {
        let mut sm = KvStateMachine::default();
        let mut put = command(OpKind::Put, "k", "", "c", 1);
        put.op.value = vec![b'x'; MAX_STORED_VALUE_BYTES - 10];
        assert_eq!(sm.apply(1, &put), Outcome::Written);
        // Exactly up to the cap is fine.
        let fill = command(OpKind::Append, "k", "0123456789", "c", 2);
        assert_eq!(sm.apply(2, &fill), Outcome::Written);
        assert_eq!(sm.read(b"k").map(<[u8]>::len), Some(MAX_STORED_VALUE_BYTES));
        // One byte more is refused, changes nothing, and is not a "duplicate"
        // a retry would be told OK for.
        let over = command(OpKind::Append, "k", "!", "c", 3);
        assert_eq!(sm.apply(3, &over), Outcome::TooLarge);
        assert_eq!(sm.apply(4, &over), Outcome::TooLarge);
        assert_eq!(sm.read(b"k").map(<[u8]>::len), Some(MAX_STORED_VALUE_BYTES));
        assert!(!sm.is_duplicate(&over.op));
        assert_eq!(sm.last_applied(), 4);
        // Another key, and a Put that shrinks the value, are untouched by it.
        assert_eq!(
            sm.apply(5, &command(OpKind::Append, "j", "!", "c", 5)),
            Outcome::Written
        );
        assert_eq!(
            sm.apply(6, &command(OpKind::Put, "k", "small", "c", 6)),
            Outcome::Written
        );
        assert_eq!(sm.apply(7, &over), Outcome::Written);
        assert_eq!(sm.read(b"k"), Some(&b"small!"[..]));
    }

    #[test]
    fn put_append_get() {
        let mut sm = KvStateMachine::default();
        assert_eq!(
            sm.apply(1, &command(OpKind::Get, "k", "", "c", 1)),
            Outcome::Read(None)
        );
        sm.apply(2, &command(OpKind::Append, "k", "a", "c", 1));
        sm.apply(3, &command(OpKind::Append, "k", "b", "c", 2));
        assert_eq!(
            sm.apply(4, &command(OpKind::Get, "k", "", "c", 3)),
            Outcome::Read(Some(b"ab".to_vec()))
        );
        sm.apply(5, &command(OpKind::Put, "k", "x", "c", 3));
        assert_eq!(sm.read(b"k"), Some(&b"x"[..]));
        assert_eq!(sm.last_applied(), 5);
    }

    #[test]
    fn a_retried_append_applies_once_per_client() {
        let mut sm = KvStateMachine::default();
        let first = command(OpKind::Append, "k", "a", "c1", 1);
        assert_eq!(sm.apply(1, &first), Outcome::Written);
        assert_eq!(sm.apply(2, &first), Outcome::Duplicate);
        sm.apply(3, &command(OpKind::Append, "k", "b", "c2", 1));
        sm.apply(4, &command(OpKind::Append, "k", "c", "c1", 2));
        assert_eq!(sm.read(b"k"), Some(&b"abc"[..]));
        assert!(sm.is_duplicate(&command(OpKind::Append, "k", "c", "c1", 2).op));
        assert!(!sm.is_duplicate(&command(OpKind::Append, "k", "d", "c1", 3).op));
        assert!(!sm.is_duplicate(&command(OpKind::Append, "k", "a", "new", 1).op));
    }

    #[test]
    fn an_expired_sessions_late_write_is_refused_and_changes_nothing() {
        let mut sm = KvStateMachine::new(SessionLimits {
            ttl: Duration::from_secs(60),
            max_sessions: 10,
        });
        let mut write = command(OpKind::Append, "k", "a", "c", 1);
        write.stamp_ms = 1_000;
        assert_eq!(sm.apply(1, &write), Outcome::Written);
        let mut other = command(OpKind::Put, "o", "x", "d", 1);
        other.stamp_ms = 62_000;
        sm.apply(2, &other);
        // A late copy of the write the forgotten session had applied.
        let mut late = write.clone();
        late.stamp_ms = 62_000;
        assert_eq!(sm.apply(3, &late), Outcome::Refused);
        assert_eq!(sm.read(b"k"), Some(&b"a"[..]));
        assert_eq!(sm.session_count(), 1);
        // The tombstone is in the snapshot too.
        let mut restored = KvStateMachine::restore(&sm.snapshot()).unwrap();
        assert_eq!(restored.apply(4, &late), Outcome::Refused);
        assert_eq!(restored.read(b"k"), Some(&b"a"[..]));
        assert_eq!(restored.last_applied(), 4);
    }

    #[test]
    fn a_frozen_state_writes_the_state_at_freeze_time() {
        let mut sm = KvStateMachine::default();
        for i in 0..2000 {
            sm.apply(
                i + 1,
                &command(OpKind::Put, &format!("k{i:05}"), "old", "c", i as i64 + 1),
            );
        }
        let frozen = sm.freeze();
        // The live state moves on while the image is written elsewhere.
        for i in 0..2000 {
            let kind = if i % 2 == 0 {
                OpKind::Put
            } else {
                OpKind::Append
            };
            sm.apply(
                2001 + i,
                &command(kind, &format!("k{i:05}"), "new", "c", 2001 + i as i64),
            );
        }
        sm.apply(4001, &command(OpKind::Put, "k-extra", "x", "c", 4001));
        let mut bytes = Vec::new();
        assert!(frozen.write_to(&mut bytes, || false).unwrap());
        let restored = KvStateMachine::restore(&bytes).unwrap();
        assert_eq!((restored.len(), restored.last_applied()), (2000, 2000));
        for i in 0..2000 {
            assert_eq!(
                restored.read(format!("k{i:05}").as_bytes()),
                Some(&b"old"[..])
            );
        }
        assert_eq!(sm.read(b"k00001"), Some(&b"oldnew"[..]));
        // A writer told to stop gives up and says so.
        assert!(!sm.freeze().write_to(Vec::new(), || true).unwrap());
        // A cut snapshot is an error, not a smaller store.
        assert!(KvStateMachine::restore(&bytes[..bytes.len() - 3]).is_err());
    }

    #[test]
    fn snapshot_round_trips_data_and_sessions() {
        let mut sm = KvStateMachine::default();
        for i in 0..100 {
            let mut put = command(OpKind::Put, &format!("k{i}"), "v", "c", i as i64 + 1);
            put.stamp_ms = 1_000 + i;
            sm.apply(i + 1, &put);
        }
        sm.apply(101, &command(OpKind::Put, "other", "v", "d", 1));
        let mut restored = KvStateMachine::restore(&sm.snapshot()).unwrap();
        assert_eq!(restored.len(), 101);
        assert_eq!(restored.last_applied(), 101);
        assert_eq!(restored.dedup, sm.dedup);
        assert_eq!(restored.session_count(), 2);
        assert_eq!(restored.dedup.log_time_ms(), 1_099);
        assert!(restored.is_duplicate(&command(OpKind::Put, "k99", "v", "c", 100).op));
        // The restored sessions still refuse what falls below the window.
        assert_eq!(
            restored.apply(102, &command(OpKind::Put, "k", "late", "c", 100 - 64 - 1)),
            Outcome::Refused
        );
        assert_eq!(restored.read(b"k"), None);
        assert!(KvStateMachine::restore(b"garbage").is_err());
    }

    #[test]
    fn a_one_key_snapshot_is_small() {
        let mut sm = KvStateMachine::default();
        for i in 0..1000 {
            sm.apply(
                i + 1,
                &command(
                    OpKind::Put,
                    "k",
                    "value",
                    "client-0123456789abcdef",
                    i as i64,
                ),
            );
        }
        assert!(sm.snapshot().len() < 500, "{} bytes", sm.snapshot().len());
    }
}
