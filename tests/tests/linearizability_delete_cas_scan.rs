//! The linearizability checker on Delete, compare-and-swap and Scan: planted bad histories
//! for each (a lost update, a Delete that finds a key twice, a Scan that misses a write or
//! sees two keys at different moments), their legal twins, histories from an atomic store,
//! and tiny histories checked against brute force.

use std::collections::BTreeMap;
use std::time::Duration;

use raftkv_tests::linearizability::{
    check_operations, CheckResult, KvInput, KvModel, KvOp, KvOperation, KvOutput, Operation,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const TIMEOUT: Duration = Duration::from_secs(60);

fn check(history: Vec<KvOperation>) -> CheckResult {
    check_operations::<KvModel>(history, Some(TIMEOUT))
}

fn assert_ok(history: Vec<KvOperation>) {
    match check(history) {
        CheckResult::Ok => {}
        other => panic!("expected a linearizable history, got {other:?}"),
    }
}

fn assert_illegal(history: Vec<KvOperation>) -> String {
    match check(history) {
        CheckResult::Illegal(violation) => violation.to_string(),
        other => panic!("expected a violation, got {other:?}"),
    }
}

fn op(client: usize, input: KvInput, output: KvOutput, call: u64, ret: u64) -> KvOperation {
    Operation::completed(client, input, call, output, ret)
}

fn put(client: usize, key: &str, value: &str, call: u64, ret: u64) -> KvOperation {
    op(
        client,
        KvInput::put(key, value),
        KvOutput::default(),
        call,
        ret,
    )
}

fn get(client: usize, key: &str, read: &str, call: u64, ret: u64) -> KvOperation {
    op(client, KvInput::get(key), KvOutput::value(read), call, ret)
}

fn delete(client: usize, key: &str, existed: bool, call: u64, ret: u64) -> KvOperation {
    op(
        client,
        KvInput::delete(key),
        KvOutput::deleted(existed),
        call,
        ret,
    )
}

fn cas(
    client: usize,
    key: &str,
    expected: Option<&str>,
    value: &str,
    output: KvOutput,
    call: u64,
    ret: u64,
) -> KvOperation {
    op(
        client,
        KvInput::cas(key, expected, value),
        output,
        call,
        ret,
    )
}

fn scan(
    client: usize,
    (start, end): (&str, &str),
    items: &[(&str, &str)],
    next: Option<&str>,
    call: u64,
    ret: u64,
) -> KvOperation {
    op(
        client,
        KvInput::scan(start, end),
        KvOutput::page(items, next),
        call,
        ret,
    )
}

#[test]
fn a_delete_must_find_what_is_there_and_leave_nothing() {
    assert_ok(vec![
        put(0, "k", "v", 0, 10),
        delete(1, "k", true, 20, 30),
        get(2, "k", "", 40, 50),
        delete(1, "k", false, 60, 70),
    ]);
    // A Delete that says the key existed, though nothing ever wrote it.
    assert_illegal(vec![delete(0, "k", true, 0, 10)]);
    // A Delete that says "no key" after a completed Put.
    assert_illegal(vec![put(0, "k", "v", 0, 10), delete(1, "k", false, 20, 30)]);
    // Two concurrent Deletes of one Put: only one can have found it.
    assert_ok(vec![
        put(0, "k", "v", 0, 10),
        delete(1, "k", true, 20, 30),
        delete(2, "k", false, 20, 30),
    ]);
    let text = assert_illegal(vec![
        put(0, "k", "v", 0, 10),
        delete(1, "k", true, 20, 30),
        delete(2, "k", true, 20, 30),
    ]);
    assert!(text.contains("Delete(\"k\") -> existed"), "{text}");
    // A read after a completed Delete that still sees the value.
    assert_illegal(vec![
        put(0, "k", "v", 0, 10),
        delete(1, "k", true, 20, 30),
        get(2, "k", "v", 40, 50),
    ]);
}

#[test]
fn two_cas_from_one_value_cannot_both_swap() {
    // The lost update a compare-and-swap exists to prevent.
    let racing = |second: KvOutput| {
        vec![
            put(0, "n", "0", 0, 10),
            cas(1, "n", Some("0"), "1", KvOutput::swapped(), 20, 40),
            cas(2, "n", Some("0"), "1", second, 20, 40),
        ]
    };
    assert_ok(racing(KvOutput::not_swapped(Some("1"))));
    let text = assert_illegal(racing(KvOutput::swapped()));
    assert!(
        text.contains("Cas(\"n\", \"0\" => \"1\") -> swapped"),
        "{text}"
    );
    // The loser must report what it found, not something else.
    assert_illegal(racing(KvOutput::not_swapped(Some("0"))));
    assert_illegal(racing(KvOutput::not_swapped(None)));
}

#[test]
fn a_cas_must_swap_exactly_when_the_value_matches() {
    // Not swapped, though the key held the expected value all along.
    assert_illegal(vec![
        put(0, "k", "a", 0, 10),
        cas(
            1,
            "k",
            Some("a"),
            "b",
            KvOutput::not_swapped(Some("a")),
            20,
            30,
        ),
    ]);
    // Swapped, though the key held something else.
    assert_illegal(vec![
        put(0, "k", "a", 0, 10),
        cas(1, "k", Some("x"), "b", KvOutput::swapped(), 20, 30),
    ]);
    // Expecting absence: swaps on a fresh or deleted key, not on an empty value.
    assert_ok(vec![
        cas(0, "k", None, "a", KvOutput::swapped(), 0, 10),
        delete(1, "k", true, 20, 30),
        cas(0, "k", None, "b", KvOutput::swapped(), 40, 50),
        get(1, "k", "b", 60, 70),
    ]);
    assert_illegal(vec![
        put(0, "k", "", 0, 10),
        cas(1, "k", None, "b", KvOutput::swapped(), 20, 30),
    ]);
    // A read after a completed swap that still sees the old value.
    assert_illegal(vec![
        put(0, "k", "a", 0, 10),
        cas(1, "k", Some("a"), "b", KvOutput::swapped(), 20, 30),
        get(2, "k", "a", 40, 50),
    ]);
}

#[test]
fn an_unanswered_cas_may_have_swapped_once_or_not_at_all() {
    let lost = || Operation::unanswered(1, KvInput::cas("k", Some("a"), "b"), 20);
    for read in ["a", "b"] {
        assert_ok(vec![
            put(0, "k", "a", 0, 10),
            lost(),
            get(2, "k", read, 30, 40),
        ]);
    }
    assert_illegal(vec![
        put(0, "k", "a", 0, 10),
        lost(),
        get(2, "k", "b", 30, 40),
        get(2, "k", "a", 50, 60),
    ]);
}

#[test]
fn a_scan_sees_every_completed_write_and_no_later_one() {
    let writes = || vec![put(0, "a", "1", 0, 10), put(0, "b", "2", 20, 30)];
    let with = |extra: KvOperation| {
        let mut history = writes();
        history.push(extra);
        history
    };
    assert_ok(with(scan(
        1,
        ("a", "c"),
        &[("a", "1"), ("b", "2")],
        None,
        40,
        50,
    )));
    // Missing a completed write.
    let text = assert_illegal(with(scan(1, ("a", "c"), &[("a", "1")], None, 40, 50)));
    assert!(text.contains("joined by 1 scan"), "{text}");
    // A wrong value, a key never written, keys out of order.
    assert_illegal(with(scan(
        1,
        ("a", "c"),
        &[("a", "1"), ("b", "9")],
        None,
        40,
        50,
    )));
    assert_illegal(with(scan(
        1,
        ("a", ""),
        &[("a", "1"), ("b", "2"), ("bb", "?")],
        None,
        40,
        50,
    )));
    assert_illegal(with(scan(
        1,
        ("a", "c"),
        &[("b", "2"), ("a", "1")],
        None,
        40,
        50,
    )));
    // A page that stopped early says nothing about the keys after it.
    assert_ok(with(scan(1, ("a", "c"), &[("a", "1")], Some("b"), 40, 50)));
    // The page's range is checked, not the whole store.
    assert_ok(with(scan(1, ("b", ""), &[("b", "2")], None, 40, 50)));
    // A Scan that saw a write which a later Get does not see.
    assert_illegal(vec![
        put(0, "a", "1", 0, 10),
        Operation::unanswered(2, KvInput::put("a", "2"), 15),
        scan(1, ("a", "b"), &[("a", "2")], None, 20, 30),
        get(3, "a", "1", 40, 50),
    ]);
}

#[test]
fn a_scan_page_is_one_moment_of_every_key_it_covers() {
    // a is written, then b: a page holding the new b must hold the new a too.
    let history = |page: &[(&str, &str)]| {
        vec![
            put(0, "a", "old", 0, 5),
            put(0, "b", "old", 0, 5),
            put(1, "a", "new", 10, 20),
            put(1, "b", "new", 30, 40),
            scan(2, ("a", "c"), page, None, 8, 50),
        ]
    };
    for legal in [
        [("a", "old"), ("b", "old")],
        [("a", "new"), ("b", "old")],
        [("a", "new"), ("b", "new")],
    ] {
        assert_ok(history(&legal));
    }
    assert_illegal(history(&[("a", "old"), ("b", "new")]));
    // Absence counts: a deleted key must be gone from a page that shows a later write.
    assert_illegal(vec![
        put(0, "a", "x", 0, 5),
        delete(0, "a", true, 10, 20),
        put(0, "b", "y", 30, 40),
        scan(1, ("a", ""), &[("a", "x"), ("b", "y")], None, 0, 50),
    ]);
}

/// A history from an atomic store: every operation takes effect at one instant inside its
/// interval, with outputs computed at that instant. Keys fall in two groups, `g0.*` and
/// `g1.*`; Scans cover one group, with a small limit so some pages stop early.
fn store_history(rng: &mut StdRng, clients: usize, ops_per_client: usize) -> Vec<KvOperation> {
    let mut history = Vec::new();
    let mut effects: Vec<(u64, usize)> = Vec::new();
    let mut limits: Vec<usize> = Vec::new();
    for client in 0..clients {
        let mut t = rng.random_range(0..1_000);
        for i in 0..ops_per_client {
            let group = rng.random_range(0..2);
            let key = format!("g{group}.{}", rng.random_range(0..3));
            let value = format!("{client}.{i};");
            let earlier = format!("{}.{};", rng.random_range(0..clients), i.saturating_sub(1));
            let input = match rng.random_range(0..12) {
                0..3 => KvInput::get(key),
                3..5 => KvInput::put(key, value),
                5..7 => KvInput::append(key, value),
                7 => KvInput::delete(key),
                8 => KvInput::cas(key, None, value),
                9 => KvInput::cas(key, Some(&earlier), value),
                _ => KvInput::scan(format!("g{group}."), format!("g{group}/")),
            };
            limits.push(rng.random_range(1..4));
            let call = t + rng.random_range(0..50);
            let effect = call + rng.random_range(1..500);
            let ret = effect + rng.random_range(1..500);
            t = ret;
            history.push(op(client, input, KvOutput::default(), call, ret));
            effects.push((effect, history.len() - 1));
        }
    }
    effects.sort_unstable();
    let mut store: BTreeMap<String, String> = BTreeMap::new();
    for (_, index) in effects {
        let op = &mut history[index];
        let key = op.input.key.clone();
        let output = match op.input.op {
            KvOp::Get => KvOutput::value(store.get(&key).cloned().unwrap_or_default()),
            KvOp::Put => {
                store.insert(key, op.input.value.clone());
                KvOutput::default()
            }
            KvOp::Append => {
                store.entry(key).or_default().push_str(&op.input.value);
                KvOutput::default()
            }
            KvOp::Delete => KvOutput::deleted(store.remove(&key).is_some()),
            KvOp::Cas => {
                if store.get(&key) == op.input.expected.as_ref() {
                    store.insert(key, op.input.value.clone());
                    KvOutput::swapped()
                } else {
                    KvOutput::not_swapped(store.get(&key).map(String::as_str))
                }
            }
            KvOp::Scan => {
                let mut in_range = store.range(key..op.input.end.clone());
                let items: Vec<(&str, &str)> = in_range
                    .by_ref()
                    .take(limits[index])
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let next = in_range.next().map(|(k, _)| k.as_str());
                KvOutput::page(&items, next)
            }
        };
        op.output = Some(output);
    }
    history
}

#[test]
fn histories_of_an_atomic_store_are_linearizable_and_planted_faults_are_not() {
    for seed in 0..20 {
        let mut rng = StdRng::seed_from_u64(seed);
        let history = store_history(&mut rng, 5, 40);
        match check(history.clone()) {
            CheckResult::Ok => {}
            other => panic!("seed {seed}: {other:?}"),
        }
        // Plant one fault in an operation of each new kind.
        for kind in [KvOp::Delete, KvOp::Cas, KvOp::Scan] {
            let victims: Vec<usize> = history
                .iter()
                .enumerate()
                .filter(|(_, op)| op.input.op == kind)
                .filter(|(_, op)| {
                    kind != KvOp::Scan || !op.output.as_ref().unwrap().items.is_empty()
                })
                .map(|(i, _)| i)
                .collect();
            let victim = victims[rng.random_range(0..victims.len())];
            let mut corrupted = history.clone();
            let out = corrupted[victim].output.as_mut().unwrap();
            match kind {
                KvOp::Delete => out.absent = !out.absent,
                KvOp::Cas if out.swapped => *out = KvOutput::not_swapped(Some("never written")),
                KvOp::Cas => out.swapped = true,
                _ => out.items[0].1.push_str("never written"),
            }
            assert!(
                check(corrupted).is_illegal(),
                "seed {seed}: a corrupted {kind:?} was accepted"
            );
        }
    }
}

/// Every order of a tiny one-key history, tried one by one: the reference the checker must
/// agree with. `None` is an absent key.
fn brute_force(history: &[KvOperation], state: Option<&str>, remaining: &mut Vec<usize>) -> bool {
    if remaining.iter().all(|&i| history[i].return_time.is_none()) {
        return true;
    }
    for pos in 0..remaining.len() {
        let op = &history[remaining[pos]];
        let blocked = remaining
            .iter()
            .any(|&j| history[j].return_time.is_some_and(|r| r < op.call));
        if blocked {
            continue;
        }
        let out = op.output.as_ref();
        let next: Option<String> = match op.input.op {
            KvOp::Get => match out {
                Some(out) if out.value != state.unwrap_or("") => continue,
                _ => state.map(str::to_string),
            },
            KvOp::Put => Some(op.input.value.clone()),
            KvOp::Append => Some(format!("{}{}", state.unwrap_or(""), op.input.value)),
            KvOp::Delete => match out {
                Some(out) if out.absent != state.is_none() => continue,
                _ => None,
            },
            KvOp::Cas => {
                let matches = state == op.input.expected.as_deref();
                let expected_out = if matches {
                    KvOutput::swapped()
                } else {
                    KvOutput::not_swapped(state)
                };
                if out.is_some_and(|out| *out != expected_out) {
                    continue;
                }
                if matches {
                    Some(op.input.value.clone())
                } else {
                    state.map(str::to_string)
                }
            }
            KvOp::Scan => unreachable!("one-key histories hold no Scan"),
        };
        let taken = remaining.remove(pos);
        let found = brute_force(history, next.as_deref(), remaining);
        remaining.insert(pos, taken);
        if found {
            return true;
        }
    }
    false
}

#[test]
fn tiny_histories_with_delete_and_cas_agree_with_brute_force() {
    let mut rng = StdRng::seed_from_u64(13);
    let (mut legal, mut illegal) = (0, 0);
    for round in 0..600 {
        let len = rng.random_range(1..=6);
        let history: Vec<KvOperation> = (0..len)
            .map(|client| {
                let pick = |rng: &mut StdRng| ["a", "b", ""][rng.random_range(0..3)];
                let value = pick(&mut rng);
                let (input, output) = match rng.random_range(0..5) {
                    0 => (KvInput::get("k"), KvOutput::value(pick(&mut rng))),
                    1 => (KvInput::put("k", value), KvOutput::default()),
                    2 => (KvInput::append("k", value), KvOutput::default()),
                    3 => (
                        KvInput::delete("k"),
                        KvOutput::deleted(rng.random_bool(0.5)),
                    ),
                    _ => {
                        let expected = rng.random_bool(0.7).then(|| pick(&mut rng));
                        let output = match rng.random_range(0..3) {
                            0 => KvOutput::swapped(),
                            1 => KvOutput::not_swapped(None),
                            _ => KvOutput::not_swapped(Some(pick(&mut rng))),
                        };
                        (KvInput::cas("k", expected, value), output)
                    }
                };
                let call = rng.random_range(0..20);
                if rng.random_range(0..6) == 0 {
                    Operation::unanswered(client, input, call)
                } else {
                    let ret = call + rng.random_range(0..10);
                    Operation::completed(client, input, call, output, ret)
                }
            })
            .collect();
        let expected = brute_force(&history, None, &mut (0..len).collect());
        let verdict = check(history.clone());
        assert_eq!(
            verdict.is_ok(),
            expected,
            "round {round}: brute force says {expected}, checker {verdict:?} on {history:#?}"
        );
        if expected {
            legal += 1;
        } else {
            illegal += 1;
        }
    }
    assert!(
        legal > 50 && illegal > 50,
        "legal {legal}, illegal {illegal}"
    );
}
