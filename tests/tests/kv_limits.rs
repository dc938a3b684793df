//! Size limits that fail cleanly (no 6.5840 counterpart): writes and reads
//! at and around every limit — key, value, the stored value, Raft's command,
//! the log record, the RPC frame — get OK or ErrTooLarge, a value accepted
//! OK reads back whole, and no node stops. And a server that stops by
//! itself says why.

use std::time::Duration;

use clerk::{Clerk, ClerkConfig, ClerkError};
use kvserver::{KvServerConfig, MAX_KEY_AND_VALUE_BYTES, MAX_STORED_VALUE_BYTES};
use raft::RaftConfig;
use raftkv_tests::kv_harness::{KvCluster, TcpCluster};
use raftkv_tests::raft_harness::{run_test, run_test_within, test_config};

const MAX_KEY: usize = 16;
const MAX_VALUE: usize = 64;

fn small_limits() -> KvServerConfig {
    KvServerConfig {
        max_key_bytes: MAX_KEY,
        max_value_bytes: MAX_VALUE,
        raft: test_config(),
        ..KvServerConfig::default()
    }
}

fn is_too_large<T: std::fmt::Debug>(result: Result<T, ClerkError>) -> bool {
    matches!(result, Err(ClerkError::TooLarge(_)))
}

/// No server stopped by itself, and one of them leads.
fn all_alive(cluster: &KvCluster) {
    for i in cluster.all() {
        let server = cluster.server(i).expect("every server runs");
        assert_eq!(server.failure(), None, "server {i} stopped");
    }
    cluster.check_one_leader();
}

#[test]
fn keys_and_values_at_and_around_the_configured_limits() {
    run_test(|| {
        let cluster = KvCluster::with_kv_config(3, small_limits());
        let client = cluster.make_client();
        let clerk = client.clerk();
        let key_at = "k".repeat(MAX_KEY);
        let key_over = "k".repeat(MAX_KEY + 1);
        let value_at = "v".repeat(MAX_VALUE);
        let value_over = "v".repeat(MAX_VALUE + 1);

        // At the limits: OK, and read back whole.
        clerk.put(&key_at, &value_at).unwrap();
        assert_eq!(
            clerk.get(&key_at).unwrap(),
            Some(value_at.clone().into_bytes())
        );
        clerk.put("empty", "").unwrap();
        assert_eq!(clerk.get("empty").unwrap(), Some(Vec::new()));

        // One byte over: refused at once, never applied.
        assert!(is_too_large(clerk.put(&key_over, "v")));
        assert!(is_too_large(clerk.append(&key_over, "v")));
        assert!(is_too_large(clerk.get(&key_over)));
        assert!(is_too_large(clerk.put("k", &value_over)));
        assert!(is_too_large(clerk.append(&key_at, &value_over)));
        assert_eq!(
            clerk.get(&key_at).unwrap(),
            Some(value_at.clone().into_bytes())
        );
        assert_eq!(clerk.get("k").unwrap(), None, "a refused Put was applied");

        // Appends at the value limit each, growing the stored value past it:
        // the limit is per request, the stored value may be larger.
        for _ in 0..3 {
            clerk.append(&key_at, &value_at).unwrap();
        }
        assert_eq!(
            clerk.get(&key_at).unwrap(),
            Some(value_at.repeat(4).into_bytes())
        );

        // A refusal leaves the cluster and the clerk as they were.
        clerk.put("after", "refusals").unwrap();
        client.check("after", "refusals");
        all_alive(&cluster);
    });
}

#[test]
fn a_server_that_fails_says_why_and_the_others_carry_on() {
    run_test(|| {
        let cluster = KvCluster::with_kv_config(3, small_limits());
        let client = cluster.make_client();
        client.put("k", "before");
        let victim = cluster.check_one_leader();
        let server = cluster.server(victim).unwrap();
        assert_eq!(server.wait_failure(Duration::from_millis(10)), None);
        server.fail("snapshot at index 9 does not decode");
        assert_eq!(
            server.wait_failure(Duration::from_secs(10)).as_deref(),
            Some("snapshot at index 9 does not decode")
        );
        assert!(
            !server.raft().get_state().1,
            "a failed server leads nothing"
        );
        // The other two elect a leader and serve.
        client.put("k", "after");
        client.check("k", "after");
        let others: Vec<usize> = cluster.all().into_iter().filter(|&i| i != victim).collect();
        for i in others {
            assert_eq!(cluster.server(i).unwrap().failure(), None);
        }
    });
}

/// The production stack at the real limits: the largest key and value a
/// node may be configured to accept make a log entry of nearly Raft's
/// largest command, which must pass the frame limit (AppendEntries over
/// TCP), the record limit (file persister) and come back whole; one byte
/// more is ErrTooLarge. (The failure: a 64 MiB − 4 KiB value
/// reached Raft, its entry was over the record limit, and Raft stopped.)
#[test]
fn the_largest_allowed_write_over_tcp_with_files() {
    run_test_within(Duration::from_secs(600), || {
        const KEY: usize = 1 << 10;
        let dir = tempfile::tempdir().expect("a temp dir");
        // On a debug build, encoding, checksumming and persisting a 64 MiB
        // entry takes seconds of CPU on each node (a few hundred ms in
        // release); patient timeouts keep that from looking like a dead
        // leader, so the test measures sizes, not elections.
        let raft = RaftConfig {
            rpc_timeout: Duration::from_secs(30),
            election_timeout_min: Duration::from_secs(3),
            election_timeout_max: Duration::from_secs(6),
            ..test_config()
        };
        let config = KvServerConfig {
            max_key_bytes: KEY,
            max_value_bytes: MAX_KEY_AND_VALUE_BYTES - KEY,
            op_timeout: Duration::from_secs(120),
            raft,
            ..KvServerConfig::default()
        };
        let cluster = TcpCluster::start(3, dir.path(), config);
        let clerk = Clerk::with_config(
            cluster.addrs(),
            ClerkConfig {
                rpc_timeout: Duration::from_secs(120),
                deadline: Some(Duration::from_secs(300)),
                ..ClerkConfig::default()
            },
        );
        let key = vec![b'k'; KEY];
        let value: Vec<u8> = (0..MAX_KEY_AND_VALUE_BYTES - KEY)
            .map(|i| (i % 253) as u8)
            .collect();
        clerk.put(&key, &value).expect("the largest write is OK");
        let mut over = value.clone();
        over.push(0);
        assert!(is_too_large(clerk.put(&key, &over)));
        // An Append that would grow the value past what a reply frame can
        // carry is refused when it applies, and changes nothing; a smaller
        // one still fits.
        let room = MAX_STORED_VALUE_BYTES - value.len();
        assert!(is_too_large(clerk.append(&key, vec![1u8; room + 1])));
        clerk
            .append(&key, vec![2u8; room])
            .expect("an Append up to the cap");
        let got = clerk.get(&key).expect("a Get").expect("the value");
        assert_eq!(got.len(), MAX_STORED_VALUE_BYTES);
        assert!(
            got[..value.len()] == value[..],
            "the value came back changed"
        );
        assert!(got[value.len()..].iter().all(|&b| b == 2));
        clerk.put("small", "after").unwrap();
        assert_eq!(clerk.get("small").unwrap(), Some(b"after".to_vec()));
        for i in 0..3 {
            let server = cluster.server(i).expect("running");
            assert_eq!(server.failure(), None, "node {i} stopped");
        }
    });
}
