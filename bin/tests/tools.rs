//! The operator's tools as an operator runs them: `raftkv` in the
//! foreground (stopped by SIGTERM, and leaving no orphans even when it is
//! killed with -9), `kvctl` and `caller` against the cluster it started.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

const RAFTKV: &str = env!("CARGO_BIN_EXE_raftkv");
const KVCTL: &str = env!("CARGO_BIN_EXE_kvctl");
const CALLER: &str = env!("CARGO_BIN_EXE_caller");

/// A `raftkv -n 3` run in the foreground, with the node pids it printed.
struct Launcher {
    child: Child,
    node_pids: Vec<i32>,
}

impl Launcher {
    fn start(dir: &Path) -> Launcher {
        let mut child = Command::new(RAFTKV)
            .args(["-n", "3", "-f"])
            .arg(dir.join("cluster.conf"))
            .arg("-d")
            .arg(dir.join("data"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let node_pids = read_node_pids(child.stdout.take().unwrap());
        Launcher { child, node_pids }
    }

    fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill(2) on the pid of our own unreaped child.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, signal);
        }
    }

    fn wait(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "raftkv did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Launcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads `node<i> on ADDR (pid N), …` lines until all three are seen, then
/// keeps draining stdout in the background as a terminal would.
fn read_node_pids(stdout: ChildStdout) -> Vec<i32> {
    let mut lines = BufReader::new(stdout).lines();
    let mut pids = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.split("(pid ").nth(1) {
            pids.push(rest.split(')').next().unwrap().parse().unwrap());
        }
        if pids.len() == 3 {
            break;
        }
    }
    assert_eq!(pids.len(), 3, "raftkv did not report three nodes");
    std::thread::spawn(move || lines.for_each(drop));
    pids
}

fn alive(pid: i32) -> bool {
    // Signal 0 checks existence; a zombie of an exited node is not ours to
    // reap (its parent is the launcher) and counts as gone once reaped.
    // SAFETY: kill(2) with signal 0 sends nothing.
    unsafe { libc::kill(pid, 0) == 0 }
}

fn wait_gone(pids: &[i32], within: Duration) {
    let deadline = Instant::now() + within;
    while pids.iter().any(|p| alive(*p)) {
        assert!(Instant::now() < deadline, "nodes outlived raftkv: {pids:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn kvctl(config: &Path, args: &[&str]) -> (i32, String) {
    let output = Command::new(KVCTL)
        .arg("-f")
        .arg(config)
        .args(["--timeout-secs", "30"])
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.code().unwrap_or(-1), text)
}

#[test]
fn raftkv_runs_a_cluster_that_kvctl_and_caller_use_and_stops_it_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("cluster.conf");
    let mut launcher = Launcher::start(dir.path());

    assert_eq!(kvctl(&config, &["put", "greeting", "hello"]).0, 0);
    assert_eq!(kvctl(&config, &["append", "greeting", ", world"]).0, 0);
    let (code, out) = kvctl(&config, &["get", "greeting"]);
    assert_eq!((code, out.trim()), (0, "hello, world"));
    let (code, out) = kvctl(&config, &["get", "missing"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("no such key"), "{out}");

    // Delete, Scan and compare-and-swap, with their exit codes.
    assert_eq!(kvctl(&config, &["put", "k1", "one"]).0, 0);
    assert_eq!(kvctl(&config, &["put", "k2", "two"]).0, 0);
    let (code, out) = kvctl(&config, &["cas", "k1", "wrong", "uno"]);
    assert_eq!(code, 3, "{out}");
    assert!(out.starts_with("one\n"), "{out}");
    let (code, out) = kvctl(&config, &["cas", "k1", "one", "uno"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = kvctl(&config, &["cas", "--expect-absent", "k1", "x"]);
    assert_eq!(code, 3, "{out}");
    assert_eq!(
        kvctl(&config, &["cas", "--expect-absent", "k3", "three"]).0,
        0
    );
    let (code, out) = kvctl(&config, &["scan", "k"]);
    assert_eq!((code, out.as_str()), (0, "k1\tuno\nk2\ttwo\nk3\tthree\n"));
    let (code, out) = kvctl(&config, &["scan", "k1", "k3"]);
    assert_eq!((code, out.as_str()), (0, "k1\tuno\nk2\ttwo\n"));
    let (code, out) = kvctl(&config, &["scan", "k", "--limit", "1"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with("k1\tuno\n") && out.contains("\"k2\""),
        "{out}"
    );
    assert_eq!(kvctl(&config, &["del", "k2"]).0, 0);
    let (code, out) = kvctl(&config, &["del", "k2"]);
    assert_eq!(code, 2, "{out}");
    let (code, out) = kvctl(&config, &["scan", "k"]);
    assert_eq!((code, out.as_str()), (0, "k1\tuno\nk3\tthree\n"));

    let (code, table) = kvctl(&config, &["status"]);
    assert_eq!(code, 0);
    assert_eq!(
        table.lines().filter(|l| l.contains(" yes ")).count(),
        3,
        "{table}"
    );
    assert_eq!(table.matches("Leader").count(), 1, "{table}");

    let output = Command::new(CALLER)
        .arg("-f")
        .arg(&config)
        .args(["-n", "30", "-c", "2"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("60 Put+Get rounds by 2 client(s)"),
        "{stdout}"
    );
    assert!(stdout.contains("Put: p50"), "{stdout}");

    launcher.signal(libc::SIGTERM);
    assert!(launcher.wait(Duration::from_secs(30)).success());
    wait_gone(&launcher.node_pids, Duration::from_secs(10));
}

#[test]
fn nodes_do_not_outlive_a_launcher_killed_with_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut launcher = Launcher::start(dir.path());
    assert!(launcher.node_pids.iter().all(|p| alive(*p)));
    launcher.signal(libc::SIGKILL);
    launcher.wait(Duration::from_secs(10));
    wait_gone(&launcher.node_pids, Duration::from_secs(15));
}
