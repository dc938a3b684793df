//! The state machine's Delete, Cas and Scan, and the exactly-once answers
//! of retried Deletes and Cas.

use super::tests::command;
use super::*;

fn put(key: &str, value: &str, client: &str, id: i64) -> Command {
    command(OpKind::Put, key, value, client, id)
}

fn delete(key: &str, client: &str, id: i64) -> Command {
    command(OpKind::Delete, key, "", client, id)
}

fn cas(key: &str, expected: Option<&str>, value: &str, client: &str, id: i64) -> Command {
    let expected = expected.map(|e| e.as_bytes().to_vec());
    command(OpKind::Cas { expected }, key, value, client, id)
}

fn deleted(existed: bool) -> Outcome {
    Outcome::Decided(Decision::Deleted { existed })
}

fn not_swapped(current: Option<&str>) -> Outcome {
    Outcome::Decided(Decision::NotSwapped {
        current: current.map(|c| c.as_bytes().to_vec()),
    })
}

const SWAPPED: Outcome = Outcome::Decided(Decision::Swapped);

#[test]
fn delete_removes_a_key_and_says_whether_it_existed() {
    let mut sm = KvStateMachine::default();
    sm.apply(1, &put("k", "v", "c", 1));
    sm.apply(2, &put("other", "w", "c", 2));
    assert_eq!(sm.apply(3, &delete("k", "c", 3)), deleted(true));
    assert_eq!(sm.read(b"k"), None);
    assert_eq!(sm.apply(4, &delete("k", "c", 4)), deleted(false));
    assert_eq!(sm.apply(5, &delete("never", "c", 5)), deleted(false));
    assert_eq!(sm.read(b"other"), Some(&b"w"[..]));
    assert_eq!(sm.len(), 1);
    // A deleted key can be written again.
    sm.apply(6, &command(OpKind::Append, "k", "x", "c", 6));
    assert_eq!(sm.read(b"k"), Some(&b"x"[..]));
}

#[test]
fn cas_swaps_only_on_the_expected_value_or_absence() {
    let mut sm = KvStateMachine::default();
    assert_eq!(
        sm.apply(1, &cas("k", Some(""), "a", "c", 1)),
        not_swapped(None)
    );
    assert_eq!(sm.read(b"k"), None, "absent is not the empty value");
    assert_eq!(sm.apply(2, &cas("k", None, "a", "c", 2)), SWAPPED);
    assert_eq!(sm.read(b"k"), Some(&b"a"[..]));
    assert_eq!(
        sm.apply(3, &cas("k", None, "b", "c", 3)),
        not_swapped(Some("a"))
    );
    assert_eq!(
        sm.apply(4, &cas("k", Some("x"), "b", "c", 4)),
        not_swapped(Some("a"))
    );
    assert_eq!(sm.read(b"k"), Some(&b"a"[..]));
    assert_eq!(sm.apply(5, &cas("k", Some("a"), "", "c", 5)), SWAPPED);
    assert_eq!(sm.read(b"k"), Some(&b""[..]));
    assert_eq!(sm.apply(6, &cas("k", Some(""), "c", "c", 6)), SWAPPED);
    assert_eq!(sm.read(b"k"), Some(&b"c"[..]));
}

#[test]
fn a_retried_delete_answers_what_the_first_decided() {
    let mut sm = KvStateMachine::default();
    sm.apply(1, &put("k", "v", "writer", 1));
    let first = delete("k", "c", 1);
    assert_eq!(sm.apply(2, &first), deleted(true));
    // Meanwhile someone writes the key again; the retry must neither
    // delete it nor say "no key".
    sm.apply(3, &put("k", "again", "writer", 2));
    assert_eq!(sm.apply(4, &first), deleted(true));
    assert_eq!(sm.read(b"k"), Some(&b"again"[..]));
    assert_eq!(sm.duplicate_outcome(&first.op), Some(deleted(true)));
    // And a Delete that found nothing stays "no key" though the key exists now.
    let missing = delete("m", "d", 1);
    assert_eq!(sm.apply(5, &missing), deleted(false));
    sm.apply(6, &put("m", "v", "writer", 3));
    assert_eq!(sm.apply(7, &missing), deleted(false));
    assert_eq!(sm.read(b"m"), Some(&b"v"[..]));
}

#[test]
fn a_retried_cas_answers_what_the_first_decided() {
    let mut sm = KvStateMachine::default();
    sm.apply(1, &put("n", "0", "writer", 1));
    let first = cas("n", Some("0"), "1", "c", 1);
    assert_eq!(sm.apply(2, &first), SWAPPED);
    // The value moves back to what the Cas expected: a retry deciding
    // again would swap a second time.
    sm.apply(3, &put("n", "0", "writer", 2));
    assert_eq!(sm.apply(4, &first), SWAPPED);
    assert_eq!(sm.read(b"n"), Some(&b"0"[..]));
    assert_eq!(sm.duplicate_outcome(&first.op), Some(SWAPPED));

    // A failed Cas keeps failing with the value it found then, even once
    // the key holds what it expected.
    let failed = cas("n", Some("5"), "6", "c", 2);
    assert_eq!(sm.apply(5, &failed), not_swapped(Some("0")));
    sm.apply(6, &put("n", "5", "writer", 3));
    assert_eq!(sm.apply(7, &failed), not_swapped(Some("0")));
    assert_eq!(sm.read(b"n"), Some(&b"5"[..]));
    assert_eq!(
        sm.duplicate_outcome(&failed.op),
        Some(not_swapped(Some("0")))
    );

    // Only the session's latest Delete or Cas keeps its answer: an older
    // retry is refused (ErrSessionExpired) and changes nothing.
    assert_eq!(sm.apply(8, &first), Outcome::Refused);
    assert_eq!(sm.duplicate_outcome(&first.op), None, "left to the log");
    assert_eq!(sm.read(b"n"), Some(&b"5"[..]));
    // A Put in between keeps the Cas's answer.
    sm.apply(9, &put("p", "x", "c", 3));
    assert_eq!(sm.apply(10, &failed), not_swapped(Some("0")));
}

#[test]
fn kept_answers_survive_a_snapshot() {
    let mut sm = KvStateMachine::default();
    sm.apply(1, &put("k", "v", "w", 1));
    let failed = cas("k", Some("x"), "y", "c1", 1);
    let gone = delete("k", "c2", 1);
    assert_eq!(sm.apply(2, &failed), not_swapped(Some("v")));
    assert_eq!(sm.apply(3, &gone), deleted(true));
    sm.apply(4, &put("k", "x", "w", 2));
    let mut restored = KvStateMachine::restore(&sm.snapshot()).unwrap();
    assert_eq!(restored.dedup, sm.dedup);
    assert_eq!(restored.apply(5, &failed), not_swapped(Some("v")));
    assert_eq!(restored.apply(6, &gone), deleted(true));
    assert_eq!(restored.read(b"k"), Some(&b"x"[..]));
}

#[test]
fn a_snapshot_written_before_delete_and_cas_still_reads_back() {
    let mut sm = KvStateMachine::default();
    sm.apply(1, &put("k", "v", "w", 1));
    let mut bytes = sm.snapshot();
    // The old format ends after the entries: drop the (empty) replies.
    assert_eq!(bytes.pop(), Some(0), "an empty list is one zero byte");
    let restored = KvStateMachine::restore(&bytes).unwrap();
    assert_eq!(restored.read(b"k"), Some(&b"v"[..]));
    assert_eq!(restored.dedup, sm.dedup);
}

#[test]
fn scan_reads_the_state_as_of_the_last_applied_entry() {
    let mut sm = KvStateMachine::default();
    for (i, key) in ["b", "a", "c"].iter().enumerate() {
        sm.apply(i as u64 + 1, &put(key, key, "c", i as i64 + 1));
    }
    sm.apply(4, &delete("b", "c", 4));
    let page = sm.scan(&ScanQuery {
        start: Vec::new(),
        end: Vec::new(),
        limit: 0,
    });
    assert_eq!(
        page.items,
        vec![
            (b"a".to_vec(), b"a".to_vec()),
            (b"c".to_vec(), b"c".to_vec())
        ]
    );
    assert_eq!(page.next_key, None);
}
