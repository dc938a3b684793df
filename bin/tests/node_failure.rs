//! No zombies: a `raft-node` whose Raft stops by itself exits with a
//! non-zero code and one line naming the cause, instead of lingering and
//! answering ErrWrongLeader. The failure is real: the node runs with a
//! small file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored), so once its log
//! outgrows it a write fails with EFBIG and the persister fails.

use std::io::Read;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use clerk::{Clerk, ClerkConfig};

const RAFT_NODE: &str = env!("CARGO_BIN_EXE_raft-node");

/// The node's files may not grow past this.
const FILE_SIZE_LIMIT: libc::rlim_t = 1 << 20;

/// Kills the child if the test fails before it exits.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a one-node cluster's `raft-node` whose files cannot grow past
/// [`FILE_SIZE_LIMIT`], logging nothing (so stderr holds only its last
/// word), with stderr piped to the test.
fn start_limited_node(dir: &std::path::Path) -> (Reaped, std::net::SocketAddr) {
    let port = {
        let probe = TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let config = dir.join("cluster.conf");
    std::fs::write(&config, format!("node0ip=127.0.0.1\nnode0port={port}\n")).unwrap();
    let mut command = Command::new(RAFT_NODE);
    command
        .args(["-i", "0", "-f"])
        .arg(&config)
        .arg("-d")
        .arg(dir.join("data"))
        .args(["--log-level", "off", "--max-raft-state", "0"])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: runs in the forked child before exec and makes only
    // async-signal-safe calls (setrlimit, signal, prctl).
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: FILE_SIZE_LIMIT,
                rlim_max: FILE_SIZE_LIMIT,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // Ignored signals stay ignored across exec: a write past the
            // limit then fails with EFBIG instead of killing the process.
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let child = command.spawn().unwrap();
    (Reaped(child), format!("127.0.0.1:{port}").parse().unwrap())
}

fn wait_for_exit(child: &mut Child, patience: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + patience;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_node_whose_raft_fails_exits_non_zero_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let (mut node, addr) = start_limited_node(dir.path());
    let clerk = Clerk::with_config(
        vec![addr],
        ClerkConfig {
            deadline: Some(Duration::from_secs(5)),
            ..ClerkConfig::default()
        },
    );
    // Fill the log past the file-size limit; the node fails mid-way.
    let value = vec![b'v'; 64 << 10];
    let mut acked = 0;
    let started = Instant::now();
    while clerk.put(format!("k{acked}"), &value).is_ok() {
        acked += 1;
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{acked} Puts of 64 KiB went into a log limited to 1 MiB"
        );
    }
    assert!(acked >= 1, "the node never accepted a write");
    assert!(
        acked < 32,
        "{acked} Puts of 64 KiB were acknowledged by a node whose files are limited to 1 MiB"
    );

    let status = wait_for_exit(&mut node.0, Duration::from_secs(30))
        .expect("the failed node is still running: a zombie");
    assert!(!status.success(), "exit status {status}");
    assert_eq!(status.code(), Some(1), "exit status {status}");
    let mut stderr = String::new();
    node.0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    eprintln!("after {acked} Puts the node said: {}", stderr.trim());
    assert_eq!(stderr.trim().lines().count(), 1, "not one line: {stderr}");
    assert!(
        stderr.starts_with("raft-node: error: node0 stopped: "),
        "{stderr}"
    );
    assert!(stderr.contains("persister failed"), "{stderr}");
    assert!(stderr.contains("File too large"), "{stderr}");
}
