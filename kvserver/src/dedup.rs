//! Client sessions: which writes each client already had applied, so a
//! retried Put or Append is applied at most once, however late its copy
//! arrives; and when sessions expire, decided in the log so every replica
//! agrees (Raft thesis §6.3).
//!
//! A session remembers its client's highest applied request id and, in a
//! bitmap, which of the [`WINDOW`] ids below it were applied too, so a client
//! may have several requests in flight and see them applied in any order. A
//! write is judged by its request id alone:
//!
//! - above the highest id, or inside the window and not applied yet: new,
//!   applied;
//! - the highest id, or inside the window and applied: a duplicate,
//!   answered OK and not applied again;
//! - below the window: it can no longer be told from an old copy, so it is
//!   refused ([`Verdict::Stale`], ErrSessionExpired) and nothing is applied.
//!
//! Expiry needs a clock every replica shares: the leader stamps each entry
//! with its wall clock, and the table keeps the "log time", the largest
//! stamp applied so far (monotonic whatever the leaders' clocks do). A
//! session idle for longer than the TTL in log time is forgotten, and when
//! there are more than `max_sessions` the least recently used go first, so
//! memory stays bounded. Both limits must be equal on every replica.
//!
//! A forgotten session leaves a tombstone: its client id's fingerprint and
//! highest applied id (16 bytes, not the whole session). A write of that
//! client at or below that id is a late copy and is refused; one above it
//! starts the session again, refusing everything at or below the old
//! maximum. A client id with neither session nor tombstone starts a
//! session with whatever request id it sends first, so independent clients
//! may number their requests as they like (the original's Clerk counted
//! Gets too). Tombstones are capped as well ([`TOMBSTONES_PER_SESSION`]
//! times `max_sessions`), oldest first: only a copy delayed past that many
//! expiries could apply twice.
//!
//! A Delete or Cas answers with what it decided (whether the key existed,
//! whether it swapped and what it found), so a retry must be told the same:
//! `dedup/replies.rs` keeps the decision of each session's latest Delete or
//! Cas. The snapshot stores those after the entries (`snapshot.rs`).

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::op::Op;

mod replies;
mod session;

use replies::Replies;
pub use replies::{Decision, ReplyImage};
use session::Session;
pub use session::{Verdict, WINDOW};

/// When sessions are forgotten. Not part of the snapshot: it comes from the
/// configuration, which must be the same on every replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionLimits {
    /// A session idle this long (in log time) expires.
    pub ttl: Duration,
    /// More sessions than this: the least recently used ones expire.
    pub max_sessions: usize,
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits {
            ttl: Duration::from_secs(3600),
            max_sessions: 100_000,
        }
    }
}

/// How many tombstones are kept per allowed session.
pub const TOMBSTONES_PER_SESSION: usize = 4;

/// A stable 64-bit fingerprint of a client id (FNV-1a): tombstones keep
/// this instead of the id. It is in snapshots, so it must never change.
fn fingerprint(client_id: &[u8]) -> u64 {
    client_id.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Every live session, in least-recently-used order, the tombstones of
/// forgotten ones, and the log time.
#[derive(Clone, Debug, Default)]
pub struct DedupTable {
    sessions: HashMap<Vec<u8>, Session>,
    /// `seq` → client id: the front is the least recently used session,
    /// which (log time being monotonic) is also the longest idle.
    order: BTreeMap<u64, Vec<u8>>,
    next_seq: u64,
    /// The largest leader stamp applied (ms since the Unix epoch).
    log_time_ms: u64,
    /// Fingerprint → highest applied id of each forgotten session, and the
    /// fingerprints oldest first (the next to go when over the cap).
    tombstones: HashMap<u64, i64>,
    tombstone_order: VecDeque<u64>,
    /// The latest Delete or Cas decision of each live session.
    replies: Replies,
    limits: SessionLimits,
}

impl PartialEq for DedupTable {
    fn eq(&self, other: &Self) -> bool {
        // `order` follows from the sessions; the limits are configuration.
        self.sessions == other.sessions
            && self.next_seq == other.next_seq
            && self.log_time_ms == other.log_time_ms
            && self.tombstones == other.tombstones
            && self.tombstone_order == other.tombstone_order
            && self.replies == other.replies
    }
}

impl DedupTable {
    /// Sets the expiry rules (from the configuration).
    pub fn set_limits(&mut self, limits: SessionLimits) {
        self.limits = limits;
    }

    /// How `op` would be judged now, before time moves on: the leader's
    /// fast path answers a [`Verdict::Duplicate`] without the log.
    pub fn verdict(&self, op: &Op) -> Verdict {
        if let Some(session) = self.sessions.get(&op.client_id) {
            return session.judge(op.request_id);
        }
        match self.tombstones.get(&fingerprint(&op.client_id)) {
            Some(&max) if op.request_id <= max => Verdict::Stale,
            _ if op.request_id < 0 => Verdict::Stale,
            _ => Verdict::New,
        }
    }

    /// Whether this write of this client was applied already.
    pub fn is_duplicate(&self, op: &Op) -> bool {
        op.kind.is_write() && self.verdict(op) == Verdict::Duplicate
    }

    /// Keeps what the Delete or Cas `op`, just admitted, decided, so its
    /// retries are told the same.
    pub fn remember(&mut self, op: &Op, decision: Decision) {
        if self.sessions.contains_key(&op.client_id) {
            self.replies
                .remember(&op.client_id, op.request_id, decision);
        }
    }

    /// What the Delete or Cas `op` decided when it applied, if that is
    /// still kept (it is its session's latest).
    pub fn recall(&self, op: &Op) -> Option<&Decision> {
        self.replies.recall(&op.client_id, op.request_id)
    }

    /// The kept decisions, for a snapshot (written after the entries).
    pub fn replies_image(&self) -> Vec<ReplyImage> {
        self.replies.image()
    }

    /// Takes back the decisions a snapshot kept; `Err` if one belongs to
    /// no session or is listed twice.
    pub fn restore_replies(&mut self, image: Vec<ReplyImage>) -> Result<(), String> {
        for reply in image {
            if !self.sessions.contains_key(&reply.0) {
                return Err("a kept reply of no session".to_string());
            }
            if !self.replies.insert_image(reply) {
                return Err("a kept reply listed twice".to_string());
            }
        }
        Ok(())
    }

    /// Moves log time to `stamp_ms` (if later) and expires the sessions
    /// idle longer than the TTL. Called for every applied entry.
    pub fn advance(&mut self, stamp_ms: u64) {
        self.log_time_ms = self.log_time_ms.max(stamp_ms);
        let ttl_ms = u64::try_from(self.limits.ttl.as_millis()).unwrap_or(u64::MAX);
        let oldest_kept = self.log_time_ms.saturating_sub(ttl_ms);
        while let Some(entry) = self.order.first_entry() {
            let idle = self
                .sessions
                .get(entry.get())
                .is_none_or(|s| s.last_seen_ms < oldest_kept);
            if !idle {
                break;
            }
            let client = entry.remove();
            self.forget(&client);
        }
    }

    /// Drops a session, leaving its tombstone.
    fn forget(&mut self, client: &[u8]) {
        let Some(session) = self.sessions.remove(client) else {
            return;
        };
        self.replies.forget(client);
        let print = fingerprint(client);
        if self.tombstones.insert(print, session.max).is_none() {
            self.tombstone_order.push_back(print);
        }
        let cap = self.limits.max_sessions.max(1) * TOMBSTONES_PER_SESSION;
        while self.tombstone_order.len() > cap {
            if let Some(oldest) = self.tombstone_order.pop_front() {
                self.tombstones.remove(&oldest);
            }
        }
    }

    /// Judges the write `op` (time already advanced) and, if it is new,
    /// records it as applied. The caller applies it only on
    /// [`Verdict::New`].
    pub fn admit(&mut self, op: &Op) -> Verdict {
        let verdict = self.verdict(op);
        if verdict == Verdict::Stale {
            return verdict;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let session = match self.sessions.entry(op.client_id.clone()) {
            Entry::Occupied(known) => {
                let session = known.into_mut();
                if verdict == Verdict::New {
                    session.mark(op.request_id);
                }
                session
            }
            Entry::Vacant(new) => {
                // A returning client: nothing at or below its old maximum
                // may apply (the verdict already refused those).
                let print = fingerprint(new.key());
                let floor = match self.tombstones.remove(&print) {
                    Some(old_max) => {
                        self.tombstone_order.retain(|p| *p != print);
                        old_max
                    }
                    None => -1,
                };
                new.insert(Session {
                    max: op.request_id,
                    below: 0,
                    floor,
                    last_seen_ms: 0,
                    seq,
                })
            }
        };
        // A used session moves to the back of the order.
        let old_seq = std::mem::replace(&mut session.seq, seq);
        session.last_seen_ms = self.log_time_ms;
        self.order.remove(&old_seq);
        self.order.insert(seq, op.client_id.clone());
        while self.sessions.len() > self.limits.max_sessions.max(1) {
            let Some((_, client)) = self.order.pop_first() else {
                break;
            };
            self.forget(&client);
        }
        verdict
    }

    /// How many sessions are remembered.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// The log time, ms since the Unix epoch.
    #[cfg(test)]
    pub fn log_time_ms(&self) -> u64 {
        self.log_time_ms
    }
}

/// The table as a snapshot stores it: sessions in least-recently-used
/// order (the order index is rebuilt from their `seq`).
#[derive(Serialize)]
struct ImageRef<'a> {
    log_time_ms: u64,
    next_seq: u64,
    sessions: Vec<(&'a Vec<u8>, &'a Session)>,
    /// Oldest first.
    tombstones: Vec<(u64, i64)>,
}

#[derive(Deserialize)]
struct Image {
    log_time_ms: u64,
    next_seq: u64,
    sessions: Vec<(Vec<u8>, Session)>,
    tombstones: Vec<(u64, i64)>,
}

impl Serialize for DedupTable {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ImageRef {
            log_time_ms: self.log_time_ms,
            next_seq: self.next_seq,
            sessions: self
                .order
                .values()
                .filter_map(|client| self.sessions.get_key_value(client))
                .collect(),
            tombstones: self
                .tombstone_order
                .iter()
                .filter_map(|p| self.tombstones.get(p).map(|max| (*p, *max)))
                .collect(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for DedupTable {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let image = Image::deserialize(deserializer)?;
        let mut table = DedupTable {
            log_time_ms: image.log_time_ms,
            next_seq: image.next_seq,
            ..DedupTable::default()
        };
        for (client, session) in image.sessions {
            if session.seq >= table.next_seq
                || table.order.insert(session.seq, client.clone()).is_some()
                || table.sessions.insert(client, session).is_some()
            {
                return Err(D::Error::custom("inconsistent session table"));
            }
        }
        for (print, max) in image.tombstones {
            if table.tombstones.insert(print, max).is_some() {
                return Err(D::Error::custom("a tombstone listed twice"));
            }
            table.tombstone_order.push_back(print);
        }
        Ok(table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::OpKind;

    fn op(client: &str, request_id: i64) -> Op {
        Op {
            kind: OpKind::Append,
            key: b"k".to_vec(),
            value: b"v".to_vec(),
            client_id: client.into(),
            request_id,
        }
    }

    /// Advances log time to `at` and admits request `id` of `client`.
    fn admit(table: &mut DedupTable, at: u64, client: &str, id: i64) -> Verdict {
        table.advance(at);
        table.admit(&op(client, id))
    }

    #[test]
    fn a_late_copy_after_more_than_the_window_is_refused() {
        let mut table = DedupTable::default();
        for id in 1..=WINDOW + 1 {
            assert_eq!(admit(&mut table, 0, "c", id), Verdict::New);
        }
        // Request 1 is exactly WINDOW below the maximum: still known.
        assert_eq!(table.verdict(&op("c", 1)), Verdict::Duplicate);
        assert_eq!(admit(&mut table, 0, "c", WINDOW + 2), Verdict::New);
        assert_eq!(admit(&mut table, 0, "c", 1), Verdict::Stale);
        assert_eq!(admit(&mut table, 0, "c", 2), Verdict::Duplicate);
        assert_eq!(admit(&mut table, 0, "c", WINDOW + 2), Verdict::Duplicate);
        assert!(table.is_duplicate(&op("c", WINDOW + 1)));
    }

    #[test]
    fn out_of_order_ids_inside_the_window_apply_once_each() {
        let mut table = DedupTable::default();
        assert_eq!(admit(&mut table, 0, "c", 1), Verdict::New);
        assert_eq!(admit(&mut table, 0, "c", 40), Verdict::New);
        for id in [7, 3, 39, 2] {
            assert_eq!(admit(&mut table, 0, "c", id), Verdict::New, "id {id}");
        }
        for id in [1, 2, 3, 7, 39, 40] {
            assert_eq!(admit(&mut table, 0, "c", id), Verdict::Duplicate, "id {id}");
        }
        assert_eq!(table.verdict(&op("c", 4)), Verdict::New);
        // A jump of exactly WINDOW keeps the old maximum at the window's edge.
        assert_eq!(admit(&mut table, 0, "c", 40 + WINDOW), Verdict::New);
        assert_eq!(table.verdict(&op("c", 40)), Verdict::Duplicate);
        assert_eq!(table.verdict(&op("c", 39)), Verdict::Stale);
        assert_eq!(table.verdict(&op("c", 41)), Verdict::New);
        // A jump past the window forgets everything below.
        assert_eq!(admit(&mut table, 0, "c", 1000), Verdict::New);
        assert_eq!(table.verdict(&op("c", 1000 - WINDOW)), Verdict::New);
        assert_eq!(table.verdict(&op("c", -1)), Verdict::Stale);
    }

    #[test]
    fn an_unknown_client_starts_a_session_with_any_request_id() {
        let mut table = DedupTable::default();
        assert_eq!(admit(&mut table, 0, "counts-gets-too", 5), Verdict::New);
        assert_eq!(admit(&mut table, 0, "fresh", 1), Verdict::New);
        assert_eq!(admit(&mut table, 0, "zero", 0), Verdict::New);
        assert_eq!(admit(&mut table, 0, "negative", -3), Verdict::Stale);
        assert_eq!(table.len(), 3, "a refused request leaves no session");
        assert_eq!(
            admit(&mut table, 0, "counts-gets-too", 5),
            Verdict::Duplicate
        );
    }

    #[test]
    fn a_forgotten_session_refuses_its_late_copies_and_can_start_again() {
        let mut table = DedupTable::default();
        table.set_limits(SessionLimits {
            ttl: Duration::from_secs(10),
            max_sessions: 100,
        });
        for id in 1..=5 {
            admit(&mut table, 1_000, "c", id);
        }
        table.advance(20_000);
        assert_eq!(table.len(), 0, "expired");
        // A late copy of any write it had applied: refused, not applied.
        for id in [1, 4, 5] {
            assert_eq!(
                admit(&mut table, 20_000, "c", id),
                Verdict::Stale,
                "id {id}"
            );
        }
        assert_eq!(table.len(), 0, "late copies start nothing");
        // The client carries on: its next write starts the session again,
        // and still nothing at or below the old maximum may apply.
        assert_eq!(admit(&mut table, 20_000, "c", 7), Verdict::New);
        for id in [3, 5] {
            assert_eq!(table.verdict(&op("c", id)), Verdict::Stale, "id {id}");
        }
        assert_eq!(table.verdict(&op("c", 6)), Verdict::New);
        assert_eq!(table.verdict(&op("c", 7)), Verdict::Duplicate);
        assert!(table.tombstones.is_empty(), "the live session took over");
    }

    #[test]
    fn sessions_idle_longer_than_the_ttl_expire_in_log_time() {
        let mut table = DedupTable::default();
        table.set_limits(SessionLimits {
            ttl: Duration::from_secs(10),
            max_sessions: 100,
        });
        admit(&mut table, 1_000, "idle", 1);
        admit(&mut table, 1_000, "busy", 1);
        admit(&mut table, 5_000, "busy", 2);
        // A stamp from a leader whose clock is behind does not move time back.
        admit(&mut table, 2_000, "busy", 3);
        assert_eq!(table.log_time_ms(), 5_000);
        table.advance(11_000);
        assert_eq!(table.len(), 2, "idle exactly the TTL: kept");
        table.advance(11_001);
        assert_eq!(table.len(), 1);
        assert_eq!(table.verdict(&op("idle", 1)), Verdict::Stale);
        assert_eq!(table.verdict(&op("busy", 3)), Verdict::Duplicate);
        table.advance(15_001);
        assert_eq!(table.len(), 0);
        assert_eq!(admit(&mut table, 15_001, "busy", 3), Verdict::Stale);
        assert_eq!(admit(&mut table, 15_001, "busy", 4), Verdict::New);
    }

    #[test]
    fn a_hundred_thousand_clients_keep_the_table_bounded() {
        let mut table = DedupTable::default();
        let cap = 1000;
        table.set_limits(SessionLimits {
            ttl: Duration::from_secs(3600),
            max_sessions: cap,
        });
        admit(&mut table, 0, "kept-busy", 1);
        for i in 0..100_000u64 {
            assert_eq!(admit(&mut table, i, &format!("c{i}"), 1), Verdict::New);
            if i % 100 == 0 {
                // Used often, so never the least recently used.
                admit(&mut table, i, "kept-busy", 2 + i as i64 / 100);
            }
            assert!(table.len() <= cap);
        }
        assert_eq!(table.len(), cap);
        assert_eq!(table.order.len(), cap);
        assert_eq!(table.verdict(&op("kept-busy", 1001)), Verdict::Duplicate);
        assert_eq!(table.verdict(&op("c99999", 1)), Verdict::Duplicate);
        // Evicted sessions leave tombstones, capped too: a recent one still
        // refuses its late copies; the oldest were dropped.
        let tombstone_cap = cap * TOMBSTONES_PER_SESSION;
        assert_eq!(table.tombstones.len(), tombstone_cap);
        assert_eq!(table.tombstone_order.len(), tombstone_cap);
        assert_eq!(table.verdict(&op("c98000", 1)), Verdict::Stale);
        assert_eq!(table.verdict(&op("c0", 1)), Verdict::New);
    }

    #[test]
    fn the_table_round_trips_through_serde() {
        let mut table = DedupTable::default();
        for (i, client) in ["a", "b", "c"].iter().enumerate() {
            admit(&mut table, 100 * i as u64, client, 1);
        }
        admit(&mut table, 500, "a", 3);
        let bytes = crate::codec::encode(&table);
        let back: DedupTable = crate::codec::decode(&bytes).unwrap();
        assert_eq!(back, table);
        assert_eq!(back.order, table.order);
        assert_eq!(back.verdict(&op("a", 2)), Verdict::New);
        assert_eq!(back.verdict(&op("a", 3)), Verdict::Duplicate);
    }

    #[test]
    fn a_forgotten_session_forgets_its_kept_reply() {
        let mut table = DedupTable::default();
        table.set_limits(SessionLimits {
            ttl: Duration::from_secs(10),
            max_sessions: 100,
        });
        assert_eq!(admit(&mut table, 1_000, "c", 1), Verdict::New);
        table.remember(&op("c", 1), Decision::Swapped);
        // No session, nothing kept: a refused write leaves no reply.
        table.remember(&op("never", 1), Decision::Swapped);
        assert_eq!(table.replies.len(), 1);
        assert_eq!(table.recall(&op("c", 1)), Some(&Decision::Swapped));
        table.advance(20_000);
        assert_eq!(table.recall(&op("c", 1)), None);
        assert_eq!(table.replies.len(), 0);
        assert!(table
            .restore_replies(vec![(b"c".to_vec(), 1, Decision::Swapped)])
            .is_err());
    }
}
