//! The linearizability checker itself (what the KV tests of lab 3/4 lean on): hand-made
//! histories with known verdicts, unanswered operations, partitions, and randomized histories
//! generated from an atomic register.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use raftkv_tests::linearizability::{
    check_operations, CheckResult, KvInput, KvModel, KvOp, KvOperation, KvOutput, KvRecorder,
    Operation,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Generous: a hand-made history decides in microseconds; this only stops a runaway search.
const TIMEOUT: Duration = Duration::from_secs(60);

fn check(history: Vec<KvOperation>) -> CheckResult {
    check_operations::<KvModel>(history, Some(TIMEOUT))
}

fn put(client: usize, key: &str, value: &str, call: u64, ret: u64) -> KvOperation {
    Operation::completed(
        client,
        KvInput::put(key, value),
        call,
        KvOutput::default(),
        ret,
    )
}

fn append(client: usize, key: &str, value: &str, call: u64, ret: u64) -> KvOperation {
    Operation::completed(
        client,
        KvInput::append(key, value),
        call,
        KvOutput::default(),
        ret,
    )
}

fn get(client: usize, key: &str, read: &str, call: u64, ret: u64) -> KvOperation {
    Operation::completed(client, KvInput::get(key), call, KvOutput::value(read), ret)
}

fn assert_ok(history: Vec<KvOperation>) {
    match check(history) {
        CheckResult::Ok => {}
        other => panic!("expected a linearizable history, got {other:?}"),
    }
}

fn assert_illegal(history: Vec<KvOperation>) -> raftkv_tests::linearizability::Violation {
    match check(history) {
        CheckResult::Illegal(violation) => violation,
        other => panic!("expected a violation, got {other:?}"),
    }
}

#[test]
fn empty_history_is_linearizable() {
    assert_ok(Vec::new());
}

#[test]
fn sequential_history_is_linearizable() {
    assert_ok(vec![
        get(0, "x", "", 0, 5),
        put(0, "x", "1", 10, 20),
        get(1, "x", "1", 30, 40),
        append(0, "x", "2", 50, 60),
        get(1, "x", "12", 70, 80),
    ]);
}

#[test]
fn a_get_overlapping_a_put_may_see_either_value() {
    for read in ["", "1"] {
        assert_ok(vec![put(0, "x", "1", 0, 100), get(1, "x", read, 10, 20)]);
    }
}

#[test]
fn concurrent_appends_may_land_in_either_order_but_only_once_each() {
    for read in ["ab", "ba"] {
        assert_ok(vec![
            append(0, "x", "a", 0, 100),
            append(1, "x", "b", 0, 100),
            get(2, "x", read, 110, 120),
        ]);
    }
    for read in ["a", "b", "aab", ""] {
        assert_illegal(vec![
            append(0, "x", "a", 0, 100),
            append(1, "x", "b", 0, 100),
            get(2, "x", read, 110, 120),
        ]);
    }
}

#[test]
fn a_stale_read_after_a_completed_write_is_illegal() {
    let violation = assert_illegal(vec![
        put(0, "x", "1", 0, 10),
        put(0, "x", "2", 20, 30),
        get(1, "x", "1", 40, 50),
    ]);
    assert_eq!(violation.label, "key \"x\"");
    assert_eq!(violation.operations, 3);
    assert_eq!(violation.prefix_len, 2, "{violation}");
    assert_eq!(violation.state, "\"2\"");
    assert!(violation.blocked.contains("Get"), "{violation}");
    let text = violation.to_string();
    eprintln!("{text}");
    assert!(
        text.contains("key \"x\"") && text.contains("2 ops"),
        "{text}"
    );
}

#[test]
fn two_readers_seeing_concurrent_writes_in_opposite_orders_is_illegal() {
    assert_illegal(vec![
        put(0, "x", "a", 0, 100),
        put(1, "x", "b", 0, 100),
        get(2, "x", "a", 10, 20),
        get(2, "x", "b", 30, 40),
        get(3, "x", "b", 10, 20),
        get(3, "x", "a", 30, 40),
    ]);
}

#[test]
fn a_read_of_a_value_never_written_is_illegal() {
    assert_illegal(vec![put(0, "x", "1", 0, 10), get(1, "x", "7", 0, 30)]);
}

#[test]
fn appends_must_apply_in_real_time_order() {
    assert_ok(vec![
        append(0, "x", "a", 0, 10),
        append(1, "x", "b", 20, 30),
        get(2, "x", "ab", 40, 50),
    ]);
    assert_illegal(vec![
        append(0, "x", "a", 0, 10),
        append(1, "x", "b", 20, 30),
        get(2, "x", "ba", 40, 50),
    ]);
}

#[test]
fn an_unanswered_put_may_or_may_not_have_happened() {
    let lost = || Operation::unanswered(1, KvInput::put("x", "2"), 20);
    // It never happened (or not yet) ...
    assert_ok(vec![
        put(0, "x", "1", 0, 10),
        lost(),
        get(2, "x", "1", 30, 40),
    ]);
    // ... or it did.
    assert_ok(vec![
        put(0, "x", "1", 0, 10),
        lost(),
        get(2, "x", "2", 30, 40),
    ]);
    // It may even take effect long after the client gave up.
    assert_ok(vec![
        put(0, "x", "1", 0, 10),
        lost(),
        get(2, "x", "1", 1_000, 1_010),
        get(2, "x", "2", 2_000, 2_010),
    ]);
    // But only once, and never before it was sent.
    assert_illegal(vec![
        put(0, "x", "1", 0, 10),
        lost(),
        get(2, "x", "2", 30, 40),
        get(2, "x", "1", 50, 60),
    ]);
    assert_illegal(vec![
        put(0, "x", "1", 0, 10),
        get(2, "x", "2", 12, 18),
        lost(),
    ]);
}

#[test]
fn an_unanswered_append_may_or_may_not_have_happened() {
    for read in ["a", "ab"] {
        assert_ok(vec![
            append(0, "x", "a", 0, 10),
            Operation::unanswered(1, KvInput::append("x", "b"), 20),
            get(2, "x", read, 30, 40),
        ]);
    }
}

#[test]
fn an_unanswered_get_constrains_nothing() {
    assert_ok(vec![
        put(0, "x", "1", 0, 10),
        Operation::unanswered(1, KvInput::get("x"), 5),
        get(2, "x", "1", 30, 40),
    ]);
}

#[test]
fn keys_are_checked_independently() {
    // Read as one register this would be a stale read; as two keys it is fine.
    assert_ok(vec![
        put(0, "a", "1", 0, 10),
        put(1, "b", "2", 20, 30),
        get(2, "a", "1", 40, 50),
        get(3, "b", "2", 40, 50),
    ]);
    // A violation on one key is reported against that key, whatever the others do.
    let mut history = Vec::new();
    for k in 0..8 {
        let key = format!("k{k}");
        history.push(put(k, &key, "v", 0, 10));
        let read = if k == 5 { "w" } else { "v" };
        history.push(get(k, &key, read, 20, 30));
    }
    let violation = assert_illegal(history);
    assert_eq!(violation.label, "key \"k5\"");
    assert_eq!(violation.operations, 2);
}

#[test]
fn touching_intervals_count_as_concurrent() {
    // The get returns at the very nanosecond the put is called: either order is allowed.
    assert_ok(vec![get(0, "x", "1", 0, 10), put(1, "x", "1", 10, 20)]);
}

#[test]
fn recorded_history_from_threads_checks_ok() {
    let rec = KvRecorder::new();
    let store = parking_lot::Mutex::new(String::new());
    std::thread::scope(|s| {
        for client in 0..4 {
            let rec = rec.clone();
            let store = &store;
            s.spawn(move || {
                for i in 0..50 {
                    let input = if i % 2 == 0 {
                        KvInput::append("k", format!("{client}.{i};"))
                    } else {
                        KvInput::get("k")
                    };
                    let id = rec.begin(client, input.clone());
                    // The "server": an atomic register behind a lock.
                    let output = {
                        let mut value = store.lock();
                        if input.op == KvOp::Append {
                            value.push_str(&input.value);
                        }
                        KvOutput::value(value.clone())
                    };
                    rec.end(id, output);
                }
            });
        }
        // One client that never hears back.
        rec.begin(9, KvInput::put("k", "lost"));
    });
    assert_eq!(rec.len(), 201);
    assert_ok(rec.history());
}

/// A history produced by an atomic register: every operation takes effect at one instant
/// inside its interval. About one operation in `lost_one_in` is unanswered; if it changes
/// state, it takes effect at a random instant after its call, or never.
fn linearizable_history(
    rng: &mut StdRng,
    clients: usize,
    ops_per_client: usize,
    keys: usize,
    lost_one_in: u32,
) -> Vec<KvOperation> {
    let mut history = Vec::new();
    // (instant of effect, index in history) for operations that take effect.
    let mut effects: Vec<(u64, usize)> = Vec::new();
    for client in 0..clients {
        let mut t = rng.random_range(0..1_000);
        for i in 0..ops_per_client {
            let key = format!("k{}", rng.random_range(0..keys));
            let input = match rng.random_range(0..10) {
                0..5 => KvInput::get(key),
                5..7 => KvInput::put(key, format!("{client}.{i};")),
                _ => KvInput::append(key, format!("{client}.{i};")),
            };
            let call = t + rng.random_range(0..50);
            let effect = call + rng.random_range(1..500);
            let ret = effect + rng.random_range(1..500);
            t = ret;
            if rng.random_range(0..lost_one_in) == 0 {
                // The client gave up; the request may still land, much later, or never.
                let writes = input.op != KvOp::Get;
                history.push(Operation::unanswered(client, input, call));
                if writes && rng.random_bool(0.5) {
                    effects.push((call + rng.random_range(1..20_000), history.len() - 1));
                }
            } else {
                history.push(Operation::completed(
                    client,
                    input,
                    call,
                    KvOutput::default(),
                    ret,
                ));
                effects.push((effect, history.len() - 1));
            }
        }
    }
    effects.sort_unstable();
    let mut store: HashMap<String, String> = HashMap::new();
    for (_, index) in effects {
        let op = &mut history[index];
        let value = store.entry(op.input.key.clone()).or_default();
        match op.input.op {
            KvOp::Get => op.output = Some(KvOutput::value(value.clone())),
            KvOp::Put => *value = op.input.value.clone(),
            KvOp::Append => value.push_str(&op.input.value),
            other => unreachable!("this generator makes no {other:?}"),
        }
    }
    history
}

#[test]
fn random_register_histories_are_linearizable_and_a_corrupted_read_is_not() {
    for seed in 0..20 {
        let mut rng = StdRng::seed_from_u64(seed);
        let history = linearizable_history(&mut rng, 8, 60, 3, 50);
        match check(history.clone()) {
            CheckResult::Ok => {}
            other => panic!("seed {seed}: {other:?}"),
        }

        let reads: Vec<usize> = history
            .iter()
            .enumerate()
            .filter(|(_, op)| op.input.op == KvOp::Get && op.output.is_some())
            .map(|(i, _)| i)
            .collect();
        let victim = reads[rng.random_range(0..reads.len())];
        let mut corrupted = history;
        corrupted[victim].output = Some(KvOutput::value("never written!"));
        let key = corrupted[victim].input.key.clone();
        match check(corrupted) {
            CheckResult::Illegal(violation) => {
                assert_eq!(violation.label, format!("key {key:?}"), "seed {seed}");
            }
            other => panic!("seed {seed}: corrupted read accepted: {other:?}"),
        }
    }
}

#[test]
fn a_lab_sized_history_checks_well_within_the_timeout() {
    // What 15 clerks on random keys produce in a 5 s lab test: 6000 operations, a few lost.
    let mut rng = StdRng::seed_from_u64(42);
    let history = linearizable_history(&mut rng, 15, 400, 15, 200);
    let ops = history.len();
    let started = Instant::now();
    let verdict = check(history);
    eprintln!("checked {ops} operations in {:?}", started.elapsed());
    assert_eq!(verdict, CheckResult::Ok, "after {:?}", started.elapsed());
}

#[test]
fn a_long_single_key_history_checks_well_within_the_timeout() {
    // Thousands of operations in one partition, from clients that keep overlapping.
    let mut rng = StdRng::seed_from_u64(7);
    let history = linearizable_history(&mut rng, 3, 1000, 1, 200);
    let ops = history.len();
    let started = Instant::now();
    let verdict = check(history);
    eprintln!("checked {ops} operations in {:?}", started.elapsed());
    assert_eq!(verdict, CheckResult::Ok, "after {:?}", started.elapsed());
}

#[test]
fn an_explosive_history_times_out_as_unknown() {
    // Twenty concurrent appends and a read no order explains: the cache cannot merge any two
    // orders (each leaves a different string), so the search would take ~20! steps.
    let mut history: Vec<KvOperation> = (0..20)
        .map(|c| append(c, "x", &format!("{c};"), 0, 100))
        .collect();
    history.push(get(99, "x", "impossible", 200, 210));
    let started = Instant::now();
    let verdict = check_operations::<KvModel>(history, Some(Duration::from_millis(200)));
    assert_eq!(verdict, CheckResult::Unknown);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}

/// Every order of a tiny history, tried one by one: the reference the checker must agree with.
/// An operation may go next unless another remaining one returned before it was called;
/// unanswered operations left over at the end never happened.
fn brute_force(history: &[KvOperation], state: &str, remaining: &mut Vec<usize>) -> bool {
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
        let next = match op.input.op {
            KvOp::Get => match &op.output {
                Some(out) if out.value != state => continue,
                _ => state.to_string(),
            },
            KvOp::Put => op.input.value.clone(),
            KvOp::Append => format!("{state}{}", op.input.value),
            other => unreachable!("these histories hold no {other:?}"),
        };
        let taken = remaining.remove(pos);
        let found = brute_force(history, &next, remaining);
        remaining.insert(pos, taken);
        if found {
            return true;
        }
    }
    false
}

#[test]
fn tiny_random_histories_agree_with_brute_force() {
    let mut rng = StdRng::seed_from_u64(2024);
    let (mut legal, mut illegal) = (0, 0);
    for round in 0..400 {
        let len = rng.random_range(1..=7);
        let history: Vec<KvOperation> = (0..len)
            .map(|client| {
                let value = ["a", "b", "ab", "ba", ""][rng.random_range(0..5)];
                let input = match rng.random_range(0..3) {
                    0 => KvInput::get("k"),
                    1 => KvInput::put("k", &value[..value.len().min(1)]),
                    _ => KvInput::append("k", &value[..value.len().min(1)]),
                };
                let call = rng.random_range(0..20);
                if rng.random_range(0..6) == 0 {
                    Operation::unanswered(client, input, call)
                } else {
                    let ret = call + rng.random_range(0..10);
                    Operation::completed(client, input, call, KvOutput::value(value), ret)
                }
            })
            .collect();
        let expected = brute_force(&history, "", &mut (0..len).collect());
        let verdict = check(history.clone());
        assert_eq!(
            verdict.is_ok(),
            expected,
            "round {round}: brute force says {expected}, checker {verdict:?} on {history:#?}"
        );
        assert!(verdict.is_ok() || verdict.is_illegal());
        if expected {
            legal += 1;
        } else {
            illegal += 1;
        }
    }
    // Both verdicts must be exercised for the comparison to mean anything.
    assert!(
        legal > 50 && illegal > 50,
        "legal {legal}, illegal {illegal}"
    );
}

#[test]
fn a_huge_timeout_means_no_timeout() {
    let history = vec![put(0, "x", "1", 0, 10), get(1, "x", "1", 20, 30)];
    assert_eq!(
        check_operations::<KvModel>(history, Some(Duration::MAX)),
        CheckResult::Ok
    );
}
