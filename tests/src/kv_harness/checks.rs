//! What the KV scenarios assert about values and histories (6.5840's
//! `checkClntAppends`, `checkConcurrentAppends`, and the Porcupine check).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::linearizability::{
    check_operations_report, draw_timeline, CheckResult, KvModel, KvRecorder,
};

/// How long the linearizability checker may search (6.5840 allows 1 s; the
/// loaded 2-core CI machine gets more).
pub const LINEARIZABILITY_TIMEOUT: Duration = Duration::from_secs(5);

/// The value client `client` appends as its `j`-th append.
pub fn append_value(client: usize, j: usize) -> String {
    format!("x {client} {j} y")
}

/// Client `client` made exactly `count` acknowledged appends to a key only
/// it writes: `value` must hold each of them exactly once, in order, and
/// nothing after them from this client.
pub fn check_clnt_appends(client: usize, value: &str, count: usize) {
    let mut last_offset = None;
    for j in 0..count {
        let wanted = append_value(client, j);
        let offset = value.find(&wanted).unwrap_or_else(|| {
            panic!(
                "client {client}: missing append {j} ({wanted:?}) in the value {:?}",
                clip(value)
            )
        });
        let last = value.rfind(&wanted).expect("found once already");
        assert_eq!(
            offset,
            last,
            "client {client}: duplicate append {j} ({wanted:?}) in {:?}",
            clip(value)
        );
        if let Some(previous) = last_offset {
            assert!(
                offset > previous,
                "client {client}: append {j} out of order in {:?}",
                clip(value)
            );
        }
        last_offset = Some(offset);
    }
    let unacknowledged = append_value(client, count);
    assert!(
        !value.contains(&unacknowledged),
        "client {client}: append {count} shows up though it was never made"
    );
}

/// Several clients appended to one key: each client's `counts[i]` appends
/// must each appear exactly once and in that client's order.
pub fn check_concurrent_appends(value: &str, counts: &[usize]) {
    for (client, &count) in counts.iter().enumerate() {
        check_clnt_appends(client, value, count);
    }
}

/// Fails on a non-linearizable history, or on a check that timed out (it proves
/// nothing), writing the run's timeline under [`timeline_dir`] and naming the
/// file in the panic message.
pub fn check_linearizable(recorder: &KvRecorder) {
    check_linearizable_in(recorder, &timeline_dir());
}

/// [`check_linearizable`], writing a failure's timeline into `dir`.
pub fn check_linearizable_in(recorder: &KvRecorder, dir: &Path) {
    let ops = recorder.len();
    let started = Instant::now();
    let report =
        check_operations_report::<KvModel>(recorder.history(), Some(LINEARIZABILITY_TIMEOUT));
    // Shown with a failing test's output: how close a passing check came to its timeout.
    eprintln!(
        "linearizability check: {ops} ops in {} partitions, {:.2} s of {} s allowed",
        report.partitions.len(),
        started.elapsed().as_secs_f64(),
        LINEARIZABILITY_TIMEOUT.as_secs()
    );
    let failure = match &report.result {
        CheckResult::Ok => return,
        CheckResult::Unknown => {
            format!("the linearizability check of {ops} ops timed out without a verdict")
        }
        CheckResult::Illegal(violation) => violation.to_string(),
    };
    let title = format!("raftkv history: {}", test_name());
    // Asked for again rather than cloned before the check: a long history of long values
    // would be held twice while the search runs.
    let timeline =
        draw_timeline::<KvModel>(&title, &recorder.history(), &recorder.faults(), &report);
    let path = dir.join(timeline_file_name());
    match timeline.write(&path) {
        Ok(()) => panic!("{failure}\ntimeline: {}", path.display()),
        Err(e) => panic!(
            "{failure}\n(could not write the timeline to {}: {e})",
            path.display()
        ),
    }
}

/// Where failing checks write their timelines: `$RAFTKV_TIMELINE_DIR` if set,
/// else `timelines/` beside the test binaries' `deps` directory (e.g.
/// `target/debug/timelines`), else `raftkv-timelines` in the temp dir.
pub fn timeline_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("RAFTKV_TIMELINE_DIR") {
        return PathBuf::from(dir);
    }
    let beside_deps = std::env::current_exe().ok().and_then(|exe| {
        let deps = exe.parent()?;
        (deps.file_name()? == "deps").then(|| deps.parent().map(|p| p.join("timelines")))?
    });
    beside_deps.unwrap_or_else(|| std::env::temp_dir().join("raftkv-timelines"))
}

/// The running test's name (libtest names its thread after it), or "history".
fn test_name() -> String {
    std::thread::current()
        .name()
        .filter(|n| *n != "main")
        .unwrap_or("history")
        .to_string()
}

/// `TEST-PID-NANOS.html`, so runs and tests never overwrite each other.
fn timeline_file_name() -> String {
    let safe: String = test_name()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{safe}-{}-{nanos}.html", std::process::id())
}

/// The ends of a long value, for failure messages.
fn clip(value: &str) -> String {
    const KEEP: usize = 300;
    if value.len() <= 2 * KEEP {
        return value.to_string();
    }
    let head = value
        .char_indices()
        .nth(KEEP)
        .map_or(value.len(), |(i, _)| i);
    let tail = value.char_indices().rev().nth(KEEP).map_or(0, |(i, _)| i);
    format!("{} ... {}", &value[..head], &value[tail..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_in_order_pass() {
        let v: String = (0..12).map(|j| append_value(3, j)).collect();
        check_clnt_appends(3, &v, 12);
    }

    #[test]
    #[should_panic(expected = "duplicate")]
    fn a_duplicate_append_fails() {
        let v = [0, 1, 1, 2].map(|j| append_value(0, j)).concat();
        check_clnt_appends(0, &v, 3);
    }

    #[test]
    #[should_panic(expected = "out of order")]
    fn appends_out_of_order_fail() {
        let v = [1, 0].map(|j| append_value(0, j)).concat();
        check_clnt_appends(0, &v, 2);
    }

    #[test]
    #[should_panic(expected = "missing")]
    fn a_lost_append_fails() {
        let v = [0, 2].map(|j| append_value(0, j)).concat();
        check_clnt_appends(0, &v, 3);
    }

    #[test]
    #[should_panic(expected = "never made")]
    fn an_unacknowledged_append_fails() {
        let v = [0, 1].map(|j| append_value(0, j)).concat();
        check_clnt_appends(0, &v, 1);
    }

    #[test]
    fn clip_keeps_both_ends() {
        let long = "a".repeat(400) + &"b".repeat(400);
        let clipped = clip(&long);
        assert!(clipped.starts_with('a') && clipped.ends_with('b') && clipped.contains("..."));
    }
}
