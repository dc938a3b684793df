//! The Clerk's retry rules against a scripted fake cluster: follow leader
//! hints, walk past dead servers, keep one request id across retries, never
//! share a client id between concurrent calls, honour the deadline, and
//! never retry a request refused for its size.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clerk::{Clerk, ClerkConfig, ClerkError, KvTransport};
use parking_lot::Mutex;
use proto::kv::{GetArgs, GetReply, PutAppendArgs, PutAppendReply};
use proto::KvErr;
use rpc::RpcError;

/// How a fake server behaves.
#[derive(Clone, Copy)]
enum Behaviour {
    Leader,
    Follower {
        hint: i32,
    },
    Unreachable,
    /// Answers ErrTooLarge, as a server does to a key or value over its limits.
    RefusesTooLarge,
}

#[derive(Default)]
struct Log {
    /// (server, client id, request id) of every attempt.
    attempts: Vec<(usize, Vec<u8>, i64)>,
    in_flight: HashSet<Vec<u8>>,
    overlaps: usize,
}

struct FakeCluster {
    behaviour: Mutex<Vec<Behaviour>>,
    store: Mutex<HashMap<Vec<u8>, Vec<u8>>>,
    log: Mutex<Log>,
}

impl FakeCluster {
    fn new(behaviour: Vec<Behaviour>) -> Arc<FakeCluster> {
        Arc::new(FakeCluster {
            behaviour: Mutex::new(behaviour),
            store: Mutex::default(),
            log: Mutex::default(),
        })
    }

    /// Runs one attempt; Err for an unreachable server, else the wire Err
    /// and leader hint.
    fn attempt(
        &self,
        server: usize,
        client: &[u8],
        request: i64,
    ) -> Result<(KvErr, i32), RpcError> {
        {
            let mut log = self.log.lock();
            log.attempts.push((server, client.to_vec(), request));
            if !log.in_flight.insert(client.to_vec()) {
                log.overlaps += 1;
            }
        }
        // Let concurrent calls overlap for real.
        std::thread::sleep(Duration::from_micros(200));
        self.log.lock().in_flight.remove(client);
        match self.behaviour.lock()[server] {
            Behaviour::Leader => Ok((KvErr::Ok, server as i32)),
            Behaviour::Follower { hint } => Ok((KvErr::WrongLeader, hint)),
            Behaviour::Unreachable => Err(RpcError::Closed("fake: unreachable".into())),
            Behaviour::RefusesTooLarge => Ok((KvErr::TooLarge, -1)),
        }
    }

    fn servers_tried(&self) -> Vec<usize> {
        self.log.lock().attempts.iter().map(|a| a.0).collect()
    }
}

/// The Clerk owns its transport; the test keeps another handle to inspect.
struct Shared(Arc<FakeCluster>);

impl KvTransport for Shared {
    fn server_count(&self) -> usize {
        self.0.behaviour.lock().len()
    }

    fn get(&self, server: usize, args: &GetArgs, _: Duration) -> Result<GetReply, RpcError> {
        let (err, leader_id) = self.0.attempt(server, &args.client_id, args.request_id)?;
        let mut reply = GetReply {
            err: err.to_wire(),
            value: Vec::new(),
            leader_id,
        };
        if err == KvErr::Ok {
            match self.0.store.lock().get(&args.key) {
                Some(value) => reply.value = value.clone(),
                None => reply.err = KvErr::NoKey.to_wire(),
            }
        }
        Ok(reply)
    }

    fn put_append(
        &self,
        server: usize,
        args: &PutAppendArgs,
        _: Duration,
    ) -> Result<PutAppendReply, RpcError> {
        let (err, leader_id) = self.0.attempt(server, &args.client_id, args.request_id)?;
        if err == KvErr::Ok {
            let mut store = self.0.store.lock();
            let value = store.entry(args.key.clone()).or_default();
            if args.op == b"Put" {
                value.clear();
            }
            value.extend_from_slice(&args.value);
        }
        Ok(PutAppendReply {
            err: err.to_wire(),
            leader_id,
        })
    }
}

fn clerk_for(cluster: &Arc<FakeCluster>, deadline: Option<Duration>) -> Clerk {
    let config = ClerkConfig {
        rpc_timeout: Duration::from_millis(100),
        backoff_min: Duration::from_millis(1),
        backoff_max: Duration::from_millis(20),
        deadline,
    };
    Clerk::with_transport(Shared(cluster.clone()), config)
}

#[test]
fn follows_the_leader_hint_and_remembers_the_leader() {
    use Behaviour::*;
    let cluster = FakeCluster::new(vec![Follower { hint: 2 }, Follower { hint: 2 }, Leader]);
    let clerk = clerk_for(&cluster, None);
    clerk.put("k", "v").unwrap();
    assert_eq!(cluster.servers_tried(), vec![0, 2]);
    assert_eq!(clerk.get("k").unwrap(), Some(b"v".to_vec()));
    assert_eq!(cluster.servers_tried(), vec![0, 2, 2]);
}

#[test]
fn walks_past_dead_servers_and_servers_without_a_hint() {
    use Behaviour::*;
    let cluster = FakeCluster::new(vec![
        Unreachable,
        Follower { hint: -1 },
        Unreachable,
        Leader,
    ]);
    let clerk = clerk_for(&cluster, None);
    clerk.append("k", "a").unwrap();
    clerk.append("k", "b").unwrap();
    assert_eq!(clerk.get("k").unwrap(), Some(b"ab".to_vec()));
    assert_eq!(clerk.get("missing").unwrap(), None);
    assert_eq!(cluster.servers_tried(), vec![0, 1, 2, 3, 3, 3, 3]);
}

#[test]
fn retries_keep_the_request_id_and_new_requests_advance_it() {
    use Behaviour::*;
    let cluster = FakeCluster::new(vec![Unreachable, Unreachable, Leader]);
    let clerk = clerk_for(&cluster, None);
    clerk.put("k", "1").unwrap();
    clerk.put("k", "2").unwrap();
    let log = cluster.log.lock();
    let ids: Vec<i64> = log.attempts.iter().map(|a| a.2).collect();
    assert_eq!(ids, vec![1, 1, 1, 2]);
    assert!(log.attempts.iter().all(|a| a.1 == log.attempts[0].1));
}

#[test]
fn concurrent_calls_never_share_a_client_id_in_flight() {
    use Behaviour::*;
    let cluster = FakeCluster::new(vec![Follower { hint: 1 }, Leader, Follower { hint: 1 }]);
    let clerk = Arc::new(clerk_for(&cluster, None));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let clerk = clerk.clone();
            std::thread::spawn(move || {
                for i in 0..25 {
                    clerk.append(format!("k{t}"), format!("{i},")).unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(cluster.log.lock().overlaps, 0);
    for t in 0..8 {
        let expected: String = (0..25).map(|i| format!("{i},")).collect();
        assert_eq!(
            clerk.get(format!("k{t}")).unwrap(),
            Some(expected.into_bytes())
        );
    }
    // Per client id, request ids strictly increase.
    let log = cluster.log.lock();
    let mut last: HashMap<&[u8], i64> = HashMap::new();
    for (_, client, request) in &log.attempts {
        let previous = last.insert(client, *request).unwrap_or(0);
        assert!(
            *request >= previous,
            "request ids went backwards for a client"
        );
    }
}

#[test]
fn an_unreachable_cluster_is_an_error_after_the_deadline() {
    use Behaviour::*;
    let cluster = FakeCluster::new(vec![Unreachable, Follower { hint: -1 }, Unreachable]);
    let clerk = clerk_for(&cluster, Some(Duration::from_millis(300)));
    let started = Instant::now();
    let err = clerk.put("k", "v").unwrap_err();
    let waited = started.elapsed();
    assert!(matches!(err, ClerkError::DeadlineExceeded { .. }), "{err}");
    assert!(
        waited >= Duration::from_millis(300),
        "gave up early: {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(5),
        "overran the deadline: {waited:?}"
    );
    assert!(err.to_string().contains("no answer from the cluster"));
}

#[test]
fn a_clerk_without_servers_says_so() {
    let clerk = Clerk::new(Vec::new());
    assert!(matches!(clerk.get("k"), Err(ClerkError::NoServers)));
}

#[test]
fn err_too_large_is_an_error_at_once_never_retried() {
    use Behaviour::*;
    let cluster = FakeCluster::new(vec![Follower { hint: 1 }, RefusesTooLarge, Leader]);
    let clerk = clerk_for(&cluster, None);
    let err = clerk.put("k", "v").unwrap_err();
    assert!(matches!(err, ClerkError::TooLarge(_)), "{err}");
    assert!(err.to_string().contains("ErrTooLarge"), "{err}");
    assert!(matches!(
        clerk.append("k", "v"),
        Err(ClerkError::TooLarge(_))
    ));
    assert!(matches!(clerk.get("k"), Err(ClerkError::TooLarge(_))));
    // One attempt each after the hint: 0 → 1, then 1, then 1.
    assert_eq!(cluster.servers_tried(), vec![0, 1, 1, 1]);
}

#[test]
fn a_request_over_the_frame_limit_is_not_sent_and_not_retried() {
    // Nothing listens there: the request must be refused before any I/O.
    let unused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = unused.local_addr().unwrap();
    drop(unused);
    let clerk = Clerk::with_config(
        vec![addr],
        ClerkConfig {
            deadline: Some(Duration::from_secs(30)),
            ..ClerkConfig::default()
        },
    );
    let started = Instant::now();
    let value = vec![0u8; rpc::frame::DEFAULT_MAX_FRAME_BYTES + 1];
    let err = clerk.put("k", &value).unwrap_err();
    assert!(matches!(err, ClerkError::TooLarge(_)), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "it was retried"
    );
}
