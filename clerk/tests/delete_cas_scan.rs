//! The Clerk's Delete, Cas and Scan against a scripted fake cluster: each
//! answer decoded, retries on the same request id past a dead server and a
//! follower, Scan pages followed by NextKey, an entry too large for a page
//! named in the error, and a transport without these methods refused, not
//! retried.

use std::collections::BTreeMap;
use std::time::Duration;

use clerk::{CasOutcome, Clerk, ClerkConfig, ClerkError, KvTransport};
use parking_lot::Mutex;
use proto::kv::{
    CasArgs, CasReply, DeleteArgs, DeleteReply, GetArgs, GetReply, KeyValue, PutAppendArgs,
    PutAppendReply, ScanArgs, ScanReply,
};
use proto::KvErr;
use rpc::RpcError;

/// Server 0 is down, server 1 a follower pointing at 2, server 2 leads and
/// applies to one ordered map. Every attempt's (server, method, request id)
/// is logged.
#[derive(Default)]
struct Fake {
    store: Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
    attempts: Mutex<Vec<(usize, &'static str, i64)>>,
    /// A key whose entry no Scan reply can carry.
    huge: Option<Vec<u8>>,
}

impl Fake {
    /// `Ok(None)`: the leader should serve it; `Ok(Some(hint))`: a follower's answer.
    fn route(&self, server: usize, method: &'static str, request: i64) -> Result<bool, RpcError> {
        self.attempts.lock().push((server, method, request));
        match server {
            0 => Err(RpcError::Closed("fake: down".into())),
            1 => Ok(false),
            _ => Ok(true),
        }
    }
}

fn wrong_leader() -> Vec<u8> {
    KvErr::WrongLeader.to_wire()
}

impl KvTransport for &'static Fake {
    fn server_count(&self) -> usize {
        3
    }

    fn get(&self, server: usize, args: &GetArgs, _: Duration) -> Result<GetReply, RpcError> {
        if !self.route(server, "Get", args.request_id)? {
            return Ok(GetReply {
                err: wrong_leader(),
                value: Vec::new(),
                leader_id: 2,
            });
        }
        let value = self.store.lock().get(&args.key).cloned();
        Ok(GetReply {
            err: if value.is_some() {
                KvErr::Ok
            } else {
                KvErr::NoKey
            }
            .to_wire(),
            value: value.unwrap_or_default(),
            leader_id: -1,
        })
    }

    fn put_append(
        &self,
        server: usize,
        args: &PutAppendArgs,
        _: Duration,
    ) -> Result<PutAppendReply, RpcError> {
        if !self.route(server, "PutAppend", args.request_id)? {
            return Ok(PutAppendReply {
                err: wrong_leader(),
                leader_id: 2,
            });
        }
        self.store
            .lock()
            .insert(args.key.clone(), args.value.clone());
        Ok(PutAppendReply {
            err: KvErr::Ok.to_wire(),
            leader_id: -1,
        })
    }

    fn delete(
        &self,
        server: usize,
        args: &DeleteArgs,
        _: Duration,
    ) -> Result<DeleteReply, RpcError> {
        if !self.route(server, "Delete", args.request_id)? {
            return Ok(DeleteReply {
                err: wrong_leader(),
                leader_id: 2,
            });
        }
        let existed = self.store.lock().remove(&args.key).is_some();
        Ok(DeleteReply {
            err: if existed { KvErr::Ok } else { KvErr::NoKey }.to_wire(),
            leader_id: -1,
        })
    }

    fn cas(&self, server: usize, args: &CasArgs, _: Duration) -> Result<CasReply, RpcError> {
        if !self.route(server, "Cas", args.request_id)? {
            return Ok(CasReply {
                err: wrong_leader(),
                leader_id: 2,
                ..CasReply::default()
            });
        }
        let mut store = self.store.lock();
        let current = store.get(&args.key).cloned();
        let expected = (!args.expect_absent).then(|| args.expected.clone());
        let swapped = current == expected;
        if swapped {
            store.insert(args.key.clone(), args.value.clone());
        }
        Ok(CasReply {
            err: KvErr::Ok.to_wire(),
            swapped,
            current_absent: !swapped && current.is_none(),
            current: if swapped {
                Vec::new()
            } else {
                current.unwrap_or_default()
            },
            leader_id: -1,
        })
    }

    fn scan(&self, server: usize, args: &ScanArgs, _: Duration) -> Result<ScanReply, RpcError> {
        if !self.route(server, "Scan", args.request_id)? {
            return Ok(ScanReply {
                err: wrong_leader(),
                leader_id: 2,
                ..ScanReply::default()
            });
        }
        let store = self.store.lock();
        let mut range = store
            .range(args.start_key.clone()..)
            .filter(|(k, _)| args.end_key.is_empty() || **k < args.end_key);
        let mut reply = ScanReply {
            err: KvErr::Ok.to_wire(),
            leader_id: -1,
            ..ScanReply::default()
        };
        let limit = match args.limit {
            0 => 1000,
            n => n as usize,
        };
        for (key, value) in range.by_ref() {
            if Some(key) == self.huge.as_ref() && reply.items.is_empty() {
                reply.err = KvErr::TooLarge.to_wire();
                reply.next_key = key.clone();
                return Ok(reply);
            }
            if reply.items.len() == limit || Some(key) == self.huge.as_ref() {
                reply.next_key = key.clone();
                break;
            }
            reply.items.push(KeyValue {
                key: key.clone(),
                value: value.clone(),
            });
        }
        Ok(reply)
    }
}

fn clerk_for(fake: &'static Fake) -> Clerk {
    let config = ClerkConfig {
        rpc_timeout: Duration::from_millis(100),
        backoff_min: Duration::from_millis(1),
        backoff_max: Duration::from_millis(20),
        ..ClerkConfig::default()
    };
    Clerk::with_transport(fake, config)
}

fn leaked(fake: Fake) -> &'static Fake {
    Box::leak(Box::new(fake))
}

#[test]
fn delete_and_cas_answer_and_retry_on_one_request_id() {
    let fake = leaked(Fake::default());
    let clerk = clerk_for(fake);
    clerk.put("k", "v").unwrap();
    assert_eq!(
        clerk.cas("k", Some(b"x"), "w").unwrap(),
        CasOutcome::NotSwapped {
            current: Some(b"v".to_vec())
        }
    );
    assert_eq!(
        clerk.cas("k", Some(b"v"), "w").unwrap(),
        CasOutcome::Swapped
    );
    assert_eq!(clerk.get("k").unwrap(), Some(b"w".to_vec()));
    assert!(clerk.delete("k").unwrap());
    assert!(!clerk.delete("k").unwrap(), "ErrNoKey: nothing to delete");
    assert_eq!(
        clerk.cas("k", Some(b""), "x").unwrap(),
        CasOutcome::NotSwapped { current: None },
        "absent is not empty"
    );
    assert_eq!(clerk.cas("k", None, "x").unwrap(), CasOutcome::Swapped);

    // The first write walked 0 (down), 1 (hint 2), 2; each write kept its id.
    let attempts = fake.attempts.lock().clone();
    assert_eq!(
        attempts[..3],
        [
            (0, "PutAppend", 1),
            (1, "PutAppend", 1),
            (2, "PutAppend", 1)
        ]
    );
    let writes: Vec<(&str, i64)> = attempts[3..]
        .iter()
        .filter(|a| a.1 != "Get")
        .map(|a| (a.1, a.2))
        .collect();
    assert_eq!(
        writes,
        [
            ("Cas", 2),
            ("Cas", 3),
            ("Delete", 4),
            ("Delete", 5),
            ("Cas", 6),
            ("Cas", 7)
        ]
    );
}

#[test]
fn a_scan_follows_next_key_page_by_page() {
    let fake = leaked(Fake::default());
    let clerk = clerk_for(fake);
    for key in ["a", "b", "c", "d", "e"] {
        clerk.put(key, key.to_uppercase()).unwrap();
    }
    let pages: Vec<Vec<(Vec<u8>, Vec<u8>)>> =
        clerk.scan("b", "e", 2).collect::<Result<_, _>>().unwrap();
    let keys: Vec<Vec<&[u8]>> = pages
        .iter()
        .map(|p| p.iter().map(|(k, _)| k.as_slice()).collect())
        .collect();
    assert_eq!(keys, [vec![&b"b"[..], b"c"], vec![b"d"]]);
    assert_eq!(pages[0][1].1, b"C");
    let all: usize = clerk
        .scan("", "", 0)
        .take(3)
        .map(|p| p.unwrap().len())
        .sum();
    assert_eq!(all, 5);
    assert_eq!(
        clerk.scan("x", "", 3).count(),
        1,
        "one empty page, then done"
    );
}

/// A server whose Scan pages never move forward.
struct Stuck;

impl KvTransport for Stuck {
    fn server_count(&self) -> usize {
        1
    }
    fn get(&self, _: usize, _: &GetArgs, _: Duration) -> Result<GetReply, RpcError> {
        unreachable!("not called")
    }
    fn put_append(
        &self,
        _: usize,
        _: &PutAppendArgs,
        _: Duration,
    ) -> Result<PutAppendReply, RpcError> {
        unreachable!("not called")
    }
    fn scan(&self, _: usize, args: &ScanArgs, _: Duration) -> Result<ScanReply, RpcError> {
        Ok(ScanReply {
            err: KvErr::Ok.to_wire(),
            next_key: args.start_key.clone(),
            ..ScanReply::default()
        })
    }
}

#[test]
fn a_page_that_does_not_move_forward_ends_the_scan_with_an_error() {
    let clerk = Clerk::with_transport(Stuck, ClerkConfig::default());
    let pages: Vec<_> = clerk.scan("a", "", 0).collect();
    assert_eq!(pages.len(), 1);
    assert!(
        matches!(pages[0], Err(ClerkError::Rejected { .. })),
        "{pages:?}"
    );
}

#[test]
fn an_entry_too_large_for_a_page_is_named_and_ends_the_scan() {
    let fake = leaked(Fake {
        huge: Some(b"c".to_vec()),
        ..Fake::default()
    });
    let clerk = clerk_for(fake);
    for key in ["a", "b", "c", "d"] {
        clerk.put(key, "v").unwrap();
    }
    let mut scan = clerk.scan("", "", 10);
    assert_eq!(scan.next().unwrap().unwrap().len(), 2);
    let err = scan.next().unwrap().unwrap_err();
    assert!(
        matches!(&err, ClerkError::TooLarge(m) if m.contains("\"c\"")),
        "{err}"
    );
    assert_eq!(scan.resume_key(), Some(&b"c"[..]));
    assert!(scan.next().is_none());
}

/// A transport from before Delete, Scan and Cas.
struct Old;

impl KvTransport for Old {
    fn server_count(&self) -> usize {
        1
    }
    fn get(&self, _: usize, _: &GetArgs, _: Duration) -> Result<GetReply, RpcError> {
        unreachable!("not called")
    }
    fn put_append(
        &self,
        _: usize,
        _: &PutAppendArgs,
        _: Duration,
    ) -> Result<PutAppendReply, RpcError> {
        unreachable!("not called")
    }
}

#[test]
fn a_transport_without_the_new_methods_is_refused_at_once() {
    let clerk = Clerk::with_transport(Old, ClerkConfig::default());
    for err in [
        clerk.delete("k").unwrap_err(),
        clerk.cas("k", None, "v").unwrap_err(),
        clerk.scan_page(b"", b"", 0).unwrap_err(),
    ] {
        assert!(
            matches!(&err, ClerkError::Rejected { attempts: 1, .. }),
            "{err}"
        );
    }
}
