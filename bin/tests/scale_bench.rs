//! `scale-bench` as a user runs it, at a tiny size: every phase prints its
//! figure, and neither a finished nor an interrupted run leaves a node
//! process or a file behind.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SCALE_BENCH: &str = env!("CARGO_BIN_EXE_scale-bench");

/// Every pid the benchmark printed ("(pid 12)", "node0 pid 12").
fn pids_in(output: &str) -> Vec<i32> {
    output
        .split("pid ")
        .skip(1)
        .filter_map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect()
}

fn alive(pid: i32) -> bool {
    // SAFETY: kill(2) with signal 0 sends nothing. A node the benchmark
    // reaped is gone; one it left running is reparented, still alive.
    unsafe { libc::kill(pid, 0) == 0 }
}

fn assert_gone(pids: &[i32]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while pids.iter().any(|p| alive(*p)) {
        assert!(
            Instant::now() < deadline,
            "nodes outlived scale-bench: {pids:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn assert_empty(dir: &Path) {
    let left: Vec<_> = std::fs::read_dir(dir).unwrap().collect();
    assert!(left.is_empty(), "scale-bench left {left:?}");
}

#[test]
fn every_phase_prints_its_figure_and_the_run_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(SCALE_BENCH)
        .args(["--keys", "2000", "--value-bytes", "50", "--mixed-secs", "2"])
        // A catch-up that never ends must not hold the test for 600 s.
        .args(["--give-up-secs", "15", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");

    let line = |prefix: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starting {prefix:?} in:\n{stdout}"))
    };
    assert!(line("load: 2000 Puts of 50 B in ").ends_with("Puts/s"));
    for id in 0..3 {
        assert!(line(&format!("rss: node{id} VmRSS ")).contains(" MiB raw = "));
    }
    let mixed = line("mixed: ");
    assert!(mixed.contains("p99") && mixed.contains("max"), "{mixed}");
    assert!(mixed.ends_with("; 0 errors"), "{stdout}");
    assert!(!stdout.contains("error:"), "{stdout}");
    assert!(line("mixed: snapshots taken meanwhile").contains("node2 "));
    // The figure, or the benchmark saying it gave up: both are results.
    assert!(
        stdout.lines().any(|l| l.starts_with("catchup: ")
            && (l.contains(" caught up in ") || l.ends_with("within 15 s"))),
        "{stdout}"
    );
    line("restart: Get answered ");
    let summary = stdout.split("summary: ").nth(1).expect("no summary");
    for phase in ["load", "rss", "mixed", "catchup", "restart"] {
        assert!(
            summary.lines().any(|l| l.starts_with(phase)),
            "no {phase} row in the summary:\n{summary}"
        );
    }

    let pids = pids_in(&stdout);
    assert!(
        pids.len() >= 7,
        "3 starts, 1 catch-up, 3 restarts: {pids:?}"
    );
    assert_gone(&pids);
    assert_empty(dir.path());
}

#[test]
fn ctrl_c_stops_the_nodes_and_removes_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut bench = Command::new(SCALE_BENCH)
        .args(["--keys", "100000000", "--dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Interrupt once the load is under way: after the leader is known.
    let mut printed = String::new();
    let mut lines = BufReader::new(bench.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        printed.push_str(&line);
        printed.push('\n');
        if line.ends_with(" leads") {
            break;
        }
    }
    let pids = pids_in(&printed);
    assert_eq!(pids.len(), 3, "{printed}");
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: kill(2) on our own unreaped child.
    unsafe {
        libc::kill(bench.id() as libc::pid_t, libc::SIGINT);
    }
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = bench.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{printed}{rest:?}");
    assert!(rest.iter().any(|l| l.starts_with("removed ")), "{rest:?}");
    assert_gone(&pids);
    assert_empty(dir.path());
}
