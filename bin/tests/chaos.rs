//! The `chaos` soak, short enough for every test run: a 3-node cluster
//! snapshotting all the time, clients Appending and reading while nodes are
//! killed with -9, frozen, restarted together and replaced, and the whole
//! history checked. (The check itself is unit-tested against histories
//! with each kind of violation, in `bin/src/chaos/history.rs`.)

use std::process::Command;

const CHAOS: &str = env!("CARGO_BIN_EXE_chaos");

#[test]
fn a_soak_under_kills_pauses_restarts_and_replacements_finds_no_violation() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let output = Command::new(CHAOS)
        .args(["--secs", "25", "--replace", "--clients", "4", "--keys", "8"])
        .args(["--preload-keys", "2000", "--preload-bytes", "1000"])
        .args(["--seed", "7"])
        .arg("--dir")
        .arg(dir.path())
        .output()
        .expect("chaos runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("chaos: OK, no violation"),
        "chaos failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    // It did real work under real faults: operations were acknowledged and
    // the nemesis acted.
    let summary = stdout
        .lines()
        .find(|l| l.contains("Appends acknowledged"))
        .expect("a summary line");
    let faults: u32 = summary
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("a fault count");
    let acked: u64 = summary
        .split("; ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("an acknowledged count");
    assert!(faults >= 3, "too few faults: {summary}");
    // Seed 7's sixth fault, about 15 s in, replaces a member.
    assert!(
        stdout.contains("is a voter") && stdout.contains("removed"),
        "no member was replaced:\n{stdout}"
    );
    assert!(acked >= 100, "too little work: {summary}");
}
