//! Timelines of failed linearizability checks (what Porcupine's visualization and the 6.5840
//! tester's annotations give a student): the checker reports how far it got, the harness
//! records its faults on the history's clock, and a failing check writes an HTML page.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use raftkv_tests::kv_harness::{check_linearizable_in, KvCluster};
use raftkv_tests::linearizability::{
    check_operations_report, CheckResult, FaultKind, KvInput, KvModel, KvOutput, KvRecorder, OpRef,
    PartitionVerdict,
};

/// A history no order explains: Put("k", "1") returns, then a Get reads "2", which nobody
/// wrote. Another key's operations are fine. A crash and a restart happen in between, and a
/// last Get is never answered (the checker leaves it out).
fn planted(rec: &KvRecorder) {
    let put = rec.begin(0, KvInput::put("k", "1"));
    rec.end(put, KvOutput::default());
    let other = rec.begin(2, KvInput::put("j", "x"));
    rec.end(other, KvOutput::default());
    rec.fault(FaultKind::Crash { server: 1 });
    let get = rec.begin(1, KvInput::get("k"));
    rec.end(get, KvOutput::value("2"));
    rec.fault(FaultKind::Restart { server: 1 });
    let _unanswered = rec.begin(3, KvInput::get("k"));
}

/// The message of the panic `f` must raise.
fn panic_message(f: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("the check should have failed");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn the_report_gives_the_longest_prefix_and_the_blocked_operation() {
    let rec = KvRecorder::new();
    planted(&rec);
    let history = rec.history();
    let report = check_operations_report::<KvModel>(history.clone(), None);
    assert!(report.result.is_illegal(), "{:?}", report.result);
    let k = report
        .partitions
        .iter()
        .find(|p| p.label == "key \"k\"")
        .expect("a partition for key k");
    assert_eq!(k.verdict, PartitionVerdict::Illegal);
    assert_eq!(k.linearized, vec![OpRef::of(&history[0])]);
    assert_eq!(k.blocked, Some(OpRef::of(&history[2])));
    assert_eq!(k.state.as_deref(), Some("\"1\""));
    let j = report
        .partitions
        .iter()
        .find(|p| p.label == "key \"j\"")
        .expect("a partition for key j");
    // Key j's search may be stopped by k's failure, but never judged illegal.
    assert_ne!(j.verdict, PartitionVerdict::Illegal);
}

#[test]
fn a_linearizable_history_reports_a_whole_linearization() {
    let rec = KvRecorder::new();
    let put = rec.begin(0, KvInput::put("k", "1"));
    rec.end(put, KvOutput::default());
    let get = rec.begin(1, KvInput::get("k"));
    rec.end(get, KvOutput::value("1"));
    let history = rec.history();
    let report = check_operations_report::<KvModel>(history.clone(), None);
    assert_eq!(report.result, CheckResult::Ok);
    assert_eq!(report.partitions.len(), 1);
    assert_eq!(
        report.partitions[0].linearized,
        vec![OpRef::of(&history[0]), OpRef::of(&history[1])]
    );
}

#[test]
fn a_failed_check_writes_a_timeline_naming_the_failing_operation() {
    let dir = tempfile::tempdir().unwrap();
    let rec = KvRecorder::new();
    planted(&rec);
    let message = panic_message(|| check_linearizable_in(&rec, dir.path()));
    assert!(
        message.contains("history not linearizable"),
        "message: {message}"
    );
    let path = message
        .lines()
        .find_map(|l| l.strip_prefix("timeline: "))
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("no timeline path in: {message}"));
    assert!(path.starts_with(dir.path()), "{}", path.display());
    let page = std::fs::read_to_string(&path).expect("the timeline file exists");
    assert!(page.starts_with("<!DOCTYPE html>"));
    // The failing operation, named in the notes and drawn as the failed bar.
    assert!(
        page.contains("FAILING OPERATION [key &quot;k&quot;]: client 1: Get(&quot;k&quot;) -&gt; &quot;2&quot;"),
        "the page does not name the failing Get"
    );
    assert!(page.contains("class=\"bar m-fail\""));
    // The prefix: the Put, numbered first.
    assert!(page.contains("#1 Put(&quot;k&quot;, &quot;1&quot;)"));
    // One lane per client per key.
    assert!(page.contains(">key &quot;k&quot;</span>"));
    assert!(page.contains(">key &quot;j&quot;</span>"));
    // The faults on the same axis.
    assert!(page.contains("server 1 crashed (down)"));
    assert!(page.contains("restart server 1"));
    // The unanswered Get, left out by the checker, is drawn in its key's lanes, open-ended.
    assert!(page.contains("class=\"bar m-out open\""));
    assert!(!page.contains("left out by the check)"));
    // Self-contained.
    assert!(!page.contains("http://") && !page.contains("https://"));
}

#[test]
fn a_passing_check_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let rec = KvRecorder::new();
    let put = rec.begin(0, KvInput::put("k", "1"));
    rec.end(put, KvOutput::default());
    check_linearizable_in(&rec, dir.path());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn the_cluster_records_its_faults_on_the_history_clock() {
    let rec = KvRecorder::new();
    let cluster = KvCluster::recording(3, false, None, rec.clone());
    // Starting the servers is not a fault.
    assert!(rec.faults().is_empty(), "{:?}", rec.faults());
    let client = cluster.make_client();
    client.put("a", "1");
    cluster.partition(&[0, 1], &[2]);
    cluster.shutdown_server(2);
    cluster.start_server(2);
    cluster.connect_all();
    client.put("a", "2");
    let kinds: Vec<FaultKind> = rec.faults().into_iter().map(|f| f.kind).collect();
    assert_eq!(
        kinds,
        vec![
            FaultKind::Partition {
                groups: vec![vec![0, 1], vec![2]]
            },
            FaultKind::Crash { server: 2 },
            FaultKind::Restart { server: 2 },
            FaultKind::Heal,
        ]
    );
    let history = rec.history();
    let faults = rec.faults();
    assert!(history[0].return_time.unwrap() <= faults[0].at);
    assert!(faults[3].at <= history[1].call);
}
