//! `raft-node`'s size limits from its flags: a key or value over them gets
//! ErrTooLarge and the node carries on; limits no Raft log entry could
//! carry are refused at start-up with one line.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use clerk::{Clerk, ClerkConfig, ClerkError};

const RAFT_NODE: &str = env!("CARGO_BIN_EXE_raft-node");

/// Kills the child when the test ends, however it ends.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A one-node cluster's config on a free port.
fn one_node_config(dir: &Path) -> (std::path::PathBuf, SocketAddr) {
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let config = dir.join("cluster.conf");
    std::fs::write(
        &config,
        format!("node0ip=127.0.0.1\nnode0port={}\n", addr.port()),
    )
    .unwrap();
    (config, addr)
}

fn raft_node(config: &Path, data: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new(RAFT_NODE);
    command
        .args(["-i", "0", "-f"])
        .arg(config)
        .arg("-d")
        .arg(data)
        .args(extra)
        .stdin(Stdio::null());
    command
}

#[test]
fn the_flags_set_the_limits_and_a_refusal_stops_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (config, addr) = one_node_config(dir.path());
    let mut node = Reaped(
        raft_node(
            &config,
            &dir.path().join("data"),
            &["--max-key-bytes", "8", "--max-value-bytes", "16"],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap(),
    );
    let clerk = Clerk::with_config(
        vec![addr],
        ClerkConfig {
            deadline: Some(Duration::from_secs(30)),
            ..ClerkConfig::default()
        },
    );
    clerk.put("12345678", "0123456789abcdef").unwrap();
    assert!(matches!(
        clerk.put("123456789", "v"),
        Err(ClerkError::TooLarge(_))
    ));
    assert!(matches!(
        clerk.append("12345678", "0123456789abcdefX"),
        Err(ClerkError::TooLarge(_))
    ));
    assert!(matches!(
        clerk.get("123456789"),
        Err(ClerkError::TooLarge(_))
    ));
    assert_eq!(
        clerk.get("12345678").unwrap(),
        Some(b"0123456789abcdef".to_vec())
    );
    assert!(node.0.try_wait().unwrap().is_none(), "the node exited");
}

#[test]
fn limits_no_log_entry_could_carry_are_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let (config, _) = one_node_config(dir.path());
    let output = raft_node(
        &config,
        &dir.path().join("data"),
        &["--max-value-bytes", &(64usize << 20).to_string()],
    )
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert_eq!(stderr.trim().lines().count(), 1, "not one line: {stderr}");
    assert!(stderr.starts_with("raft-node: error:"), "{stderr}");
    assert!(stderr.contains("max_value_bytes"), "{stderr}");
}
