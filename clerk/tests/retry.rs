//! The Clerk's retry rules against a scripted fake cluster: follow leader
//! hints, walk past dead servers, keep one request id across retries, never
//! share a client id between concurrent calls, honour the deadline, renew a
//! session the cluster forgot, and return at once what no retry can fix.

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
    /// Answers every request with this Err string.
    Refuses(&'static str),
    /// Refuses every request at the RPC level: over the frame limit.
    FrameLimit,
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
    /// When set, the client ids whose session the fake leader knows: as a
    /// KvServer does, it starts one only at request id 1 and refuses any
    /// other write of an unknown client with ErrSessionExpired.
    sessions: Mutex<Option<HashSet<Vec<u8>>>>,
}

impl FakeCluster {
    fn new(behaviour: Vec<Behaviour>) -> Arc<FakeCluster> {
        Arc::new(FakeCluster {
            behaviour: Mutex::new(behaviour),
            store: Mutex::default(),
            log: Mutex::default(),
            sessions: Mutex::default(),
        })
    }

    /// From now on, the leader knows no client session (as after expiry).
    fn forget_sessions(&self) {
        *self.sessions.lock() = Some(HashSet::new());
    }

    /// Whether the leader's session table lets this write apply.
    fn session_allows(&self, client: &[u8], request: i64) -> bool {
        match &mut *self.sessions.lock() {
            None => true,
            Some(known) if request == 1 => {
                known.insert(client.to_vec());
                true
            }
            Some(known) => known.contains(client),
        }
    }

    fn attempts(&self) -> Vec<(usize, Vec<u8>, i64)> {
        self.log.lock().attempts.clone()
    }

    /// Runs one attempt; Err for an unreachable server, else the wire Err
    /// and leader hint.
    fn attempt(
        &self,
        server: usize,
        client: &[u8],
        request: i64,
    ) -> Result<(Vec<u8>, i32), RpcError> {
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
            Behaviour::Leader => Ok((KvErr::Ok.to_wire(), server as i32)),
            Behaviour::Follower { hint } => Ok((KvErr::WrongLeader.to_wire(), hint)),
            Behaviour::Unreachable => Err(RpcError::Closed("fake: unreachable".into())),
            Behaviour::Refuses(err) => Ok((err.as_bytes().to_vec(), -1)),
            Behaviour::FrameLimit => Err(RpcError::TooLarge { len: 100, max: 10 }),
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
        let ok = err == KvErr::Ok.to_wire();
        let mut reply = GetReply {
            err,
            value: Vec::new(),
            leader_id,
        };
        if ok {
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
        let (mut err, leader_id) = self.0.attempt(server, &args.client_id, args.request_id)?;
        if err == KvErr::Ok.to_wire() && !self.0.session_allows(&args.client_id, args.request_id) {
            err = KvErr::SessionExpired.to_wire();
        }
        if err == KvErr::Ok.to_wire() {
            let mut store = self.0.store.lock();
            let value = store.entry(args.key.clone()).or_default();
            if args.op == b"Put" {
                value.clear();
            }
            value.extend_from_slice(&args.value);
        }
        Ok(PutAppendReply { err, leader_id })
    }
}

fn clerk_for(cluster: &Arc<FakeCluster>, deadline: Option<Duration>) -> Clerk {
    let config = ClerkConfig {
        rpc_timeout: Duration::from_millis(100),
        backoff_min: Duration::from_millis(1),
        backoff_max: Duration::from_millis(20),
        deadline,
        ..ClerkConfig::default()
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
fn a_first_attempt_refused_for_its_session_is_resent_under_a_new_one() {
    use Behaviour::*;
    let cluster = FakeCluster::new(vec![Leader]);
    cluster.forget_sessions();
    let clerk = clerk_for(&cluster, Some(Duration::from_secs(5)));
    clerk.append("k", "a").unwrap();
    cluster.forget_sessions();
    clerk.append("k", "b").unwrap();
    assert_eq!(clerk.get("k").unwrap(), Some(b"ab".to_vec()));
    let attempts = cluster.attempts();
    let writes: Vec<(&[u8], i64)> = attempts[..3]
        .iter()
        .map(|(_, client, request)| (client.as_slice(), *request))
        .collect();
    let (first, forgotten, renewed) = (writes[0].0, writes[1].0, writes[2].0);
    assert_eq!(
        forgotten, first,
        "the second write first tries the old session"
    );
    assert_eq!([writes[0].1, writes[1].1, writes[2].1], [1, 2, 1]);
    assert_ne!(renewed, first, "resent under a new client id");
    // The renewed session goes on from there.
    clerk.append("k", "c").unwrap();
    let last = cluster.attempts().pop().unwrap();
    assert_eq!((last.1.as_slice(), last.2), (renewed, 2));
}

#[test]
fn a_retry_refused_for_its_session_is_an_error_with_the_outcome_unknown() {
    use Behaviour::*;
    let cluster = FakeCluster::new(vec![Leader, Leader]);
    let clerk = clerk_for(&cluster, Some(Duration::from_secs(5)));
    clerk.put("k", "1").unwrap();
    // The first attempt of the next write is lost, then the server that
    // gets the retry no longer knows the session.
    cluster.behaviour.lock()[0] = Unreachable;
    cluster.forget_sessions();
    let err = clerk.put("k", "2").unwrap_err();
    assert!(
        matches!(err, ClerkError::SessionExpired { attempts: 2 }),
        "{err}"
    );
    assert!(err.to_string().contains("outcome is unknown"), "{err}");
    assert_eq!(cluster.attempts().len(), 3, "no attempt after the refusal");
    assert_eq!(cluster.store.lock()[b"k".as_slice()], b"1".to_vec());
    // A failed write retires its session: the next write starts a new one.
    clerk.put("k", "3").unwrap();
    let attempts = cluster.attempts();
    let last = attempts.last().unwrap();
    assert_eq!(last.2, 1);
    assert_ne!(last.1, attempts[0].1);
    assert_eq!(cluster.store.lock()[b"k".as_slice()], b"3".to_vec());
}

#[test]
fn errors_no_retry_can_fix_are_returned_at_once() {
    use Behaviour::*;
    for (behaviour, reason) in [
        (Refuses("ErrTooLarge"), "ErrTooLarge"),
        (Refuses("ErrSomethingNew"), "ErrSomethingNew"),
        (FrameLimit, "exceeds the frame limit"),
    ] {
        let cluster = FakeCluster::new(vec![behaviour, Leader]);
        let clerk = clerk_for(&cluster, Some(Duration::from_secs(5)));
        let started = Instant::now();
        for err in [
            clerk.put("k", "v").unwrap_err(),
            clerk.get("k").unwrap_err(),
        ] {
            match &err {
                ClerkError::Rejected {
                    reason: got,
                    attempts: 1,
                } => assert!(got.contains(reason), "{got}"),
                // Refused for its size: a typed error of its own.
                ClerkError::TooLarge(got) => {
                    assert!(reason != "ErrSomethingNew", "{got}");
                    assert!(got.contains(reason) || got.contains("frame"), "{got}");
                }
                _ => panic!("{reason}: expected a rejection after one attempt, got {err}"),
            }
        }
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(cluster.servers_tried(), vec![0, 0], "{reason}: retried");
        assert!(cluster.store.lock().is_empty());
    }
}

#[test]
fn a_write_that_failed_retires_its_session() {
    use Behaviour::*;
    let cluster = FakeCluster::new(vec![Unreachable, Leader]);
    cluster.forget_sessions();
    let clerk = clerk_for(&cluster, Some(Duration::from_millis(100)));
    // Its only attempts are lost: the leader never hears of the session.
    cluster.behaviour.lock()[1] = Unreachable;
    let err = clerk.put("k", "lost").unwrap_err();
    assert!(matches!(err, ClerkError::DeadlineExceeded { .. }), "{err}");
    let abandoned = cluster.attempts()[0].1.clone();
    cluster.behaviour.lock()[1] = Leader;
    clerk.put("k", "v").unwrap();
    let last = cluster.attempts().pop().unwrap();
    assert_ne!(last.1, abandoned, "a new session");
    assert_eq!(last.2, 1);
    assert_eq!(cluster.store.lock()[b"k".as_slice()], b"v".to_vec());
}
