//! A node stops, never skips: an entry or snapshot its applier cannot
//! decode stops it with the reason recorded and its waiters answered.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use prost::Message;
use proto::kv::{
    CasArgs, CasReply, DeleteArgs, DeleteReply, KvServerRpc, PutAppendArgs, PutAppendReply,
    ScanArgs, ScanReply,
};
use proto::raft::{
    AppendEntriesArgs, AppendEntriesReply, InstallSnapshotRequest, InstallSnapshotResponse,
    RequestVoteArgs, RequestVoteReply,
};
use proto::KvErr;
use raft::{MemoryPersister, PeerError, RaftPeer};
use rpc::{Done, Responder};

use super::KvServer;
use crate::KvServerConfig;

/// A generous bound on anything a single node does.
const WAIT: Duration = Duration::from_secs(10);

/// `peers[me]` of a one-node cluster: never called.
struct Myself;

impl RaftPeer for Myself {
    fn append_entries(&self, _: &AppendEntriesArgs) -> Result<AppendEntriesReply, PeerError> {
        Err(PeerError("a node does not call itself".into()))
    }
    fn request_vote(&self, _: &RequestVoteArgs) -> Result<RequestVoteReply, PeerError> {
        Err(PeerError("a node does not call itself".into()))
    }
    fn install_snapshot(
        &self,
        _: &InstallSnapshotRequest,
    ) -> Result<InstallSnapshotResponse, PeerError> {
        Err(PeerError("a node does not call itself".into()))
    }
}

fn start(persister: &MemoryPersister) -> KvServer {
    let peers: Vec<Arc<dyn RaftPeer>> = vec![Arc::new(Myself)];
    KvServer::start(
        0,
        peers,
        Box::new(persister.clone()),
        KvServerConfig::default(),
    )
    .unwrap()
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Sends a Put; the receiver gets its reply.
fn put(kv: &KvServer, key: &str, request_id: i64) -> Receiver<PutAppendReply> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let done = Done::new(Responder::new(move |outcome| {
        let bytes = outcome.expect("a KV reply, not an RPC error");
        let reply = PutAppendReply::decode(bytes.as_slice()).expect("a PutAppendReply");
        let _ = tx.send(reply);
    }));
    let args = PutAppendArgs {
        key: key.into(),
        value: b"v".to_vec(),
        op: b"Put".to_vec(),
        client_id: b"client".to_vec(),
        request_id,
    };
    kv.put_append(args, done);
    rx
}

fn err_of(rx: &Receiver<PutAppendReply>) -> KvErr {
    let reply = rx.recv_timeout(WAIT).expect("the request was answered");
    KvErr::from_wire(&reply.err).expect("a known Err")
}

#[test]
fn an_undecodable_entry_stops_the_node_and_answers_its_waiters() {
    let persister = MemoryPersister::new();
    let kv = start(&persister);
    wait_until("leadership", || kv.raft().get_state().1);
    assert_eq!(err_of(&put(&kv, "before", 1)), KvErr::Ok);
    let applied = kv.last_applied();

    let (garbage_index, _) = kv.raft().start(vec![0xff; 7]).expect("leader");
    let after = put(&kv, "after", 2);
    assert_eq!(err_of(&after), KvErr::WrongLeader);

    wait_until("the failure", || kv.failure().is_some());
    let reason = kv.failure().unwrap();
    assert!(
        reason.contains(&format!("index {garbage_index}")),
        "{reason}"
    );
    wait_until("raft to stop", || !kv.raft().get_state().1);
    assert_eq!(
        kv.last_applied(),
        applied,
        "nothing applied past the bad entry"
    );
    assert!(kv.inner.state.lock().read(b"after").is_none());
    assert_eq!(err_of(&put(&kv, "later", 3)), KvErr::WrongLeader);
    kv.shutdown();
}

#[test]
fn an_undecodable_snapshot_stops_the_node() {
    let persister = MemoryPersister::new();
    let kv = start(&persister);
    wait_until("leadership", || kv.raft().get_state().1);
    assert_eq!(err_of(&put(&kv, "k", 1)), KvErr::Ok);
    let index = kv.last_applied();
    kv.raft().snapshot(index, b"not a snapshot".to_vec());
    assert!(persister.snapshot().is_some(), "the snapshot was saved");
    kv.shutdown();

    let restarted = start(&persister);
    wait_until("the failure", || restarted.failure().is_some());
    let reason = restarted.failure().unwrap();
    assert!(reason.contains("snapshot"), "{reason}");
    assert_eq!(restarted.last_applied(), 0);
    wait_until("raft to stop", || {
        restarted.raft().status().role != raft::Role::Leader
    });
    assert_eq!(err_of(&put(&restarted, "k2", 2)), KvErr::WrongLeader);
    restarted.shutdown();
}

#[test]
fn every_answer_is_timed_under_its_operation_and_result() {
    use crate::metrics::RequestKind;
    let persister = MemoryPersister::new();
    let kv = start(&persister);
    wait_until("leadership", || kv.raft().get_state().1);
    assert_eq!(err_of(&put(&kv, "a", 1)), KvErr::Ok);
    assert_eq!(err_of(&put(&kv, "b", 2)), KvErr::Ok);
    // A retry answered from the dedup table is timed like any other answer.
    assert_eq!(err_of(&put(&kv, "b", 2)), KvErr::Ok);
    let huge = "k".repeat(crate::DEFAULT_MAX_KEY_BYTES + 1);
    assert_eq!(err_of(&put(&kv, &huge, 3)), KvErr::TooLarge);

    let metrics = kv.metrics();
    assert_eq!(metrics.requests(RequestKind::Put, KvErr::Ok).count, 3);
    assert_eq!(metrics.requests(RequestKind::Put, KvErr::TooLarge).count, 1);
    assert_eq!(metrics.requests(RequestKind::Append, KvErr::Ok).count, 0);
    assert_eq!(metrics.requests(RequestKind::Get, KvErr::Ok).count, 0);
    let stats = kv.stats();
    assert_eq!((stats.sessions, stats.keys), (1, 2));
    assert_eq!(stats.last_applied, kv.last_applied());
    kv.shutdown();
}

/// Calls one handler and waits for its reply.
fn call<R: Message + Default + 'static>(send: impl FnOnce(Done<R>)) -> R {
    let (tx, rx) = crossbeam_channel::bounded(1);
    send(Done::new(Responder::new(move |outcome| {
        let bytes = outcome.expect("a KV reply, not an RPC error");
        let _ = tx.send(R::decode(bytes.as_slice()).expect("the reply type"));
    })));
    rx.recv_timeout(WAIT).expect("the request was answered")
}

fn scan(kv: &KvServer, start: &str, limit: u32) -> ScanReply {
    let args = ScanArgs {
        start_key: start.into(),
        end_key: Vec::new(),
        limit,
        client_id: b"reader".to_vec(),
        request_id: 0,
    };
    call(|done| kv.scan(args, done))
}

fn scanned_keys(reply: &ScanReply) -> Vec<String> {
    reply
        .items
        .iter()
        .map(|kv| String::from_utf8_lossy(&kv.key).into_owned())
        .collect()
}

#[test]
fn a_scan_before_the_terms_first_commit_goes_through_the_log() {
    let persister = MemoryPersister::new();
    let kv = start(&persister);
    wait_until("leadership", || kv.raft().get_state().1);
    for (i, key) in ["a", "b", "c"].into_iter().enumerate() {
        assert_eq!(err_of(&put(&kv, key, i as i64 + 1)), KvErr::Ok);
    }
    kv.shutdown();

    // A new term with nothing committed in it: ReadIndex cannot serve.
    let kv = start(&persister);
    wait_until("leadership", || kv.raft().get_state().1);
    let before = kv.raft().status().last_log_index;
    let first = scan(&kv, "", 2);
    assert_eq!(KvErr::from_wire(&first.err), Some(KvErr::Ok));
    assert_eq!(scanned_keys(&first), ["a", "b"]);
    assert_eq!(first.next_key, b"c");
    assert_eq!(
        kv.raft().status().last_log_index,
        before + 1,
        "the scan took a log entry"
    );
    // Now the term has a commit: the next page takes none.
    let rest = scan(&kv, "c", 0);
    assert_eq!(scanned_keys(&rest), ["c"]);
    assert!(rest.next_key.is_empty());
    assert_eq!(kv.raft().status().last_log_index, before + 1);
    kv.shutdown();
}

#[test]
fn delete_and_cas_handlers_answer_retries_with_the_first_decision() {
    let persister = MemoryPersister::new();
    let kv = start(&persister);
    wait_until("leadership", || kv.raft().get_state().1);
    assert_eq!(err_of(&put(&kv, "k", 1)), KvErr::Ok);
    let cas_args = CasArgs {
        key: b"k".to_vec(),
        expected: b"v".to_vec(),
        expect_absent: false,
        value: b"w".to_vec(),
        client_id: b"client".to_vec(),
        request_id: 2,
    };
    let cas = |args: &CasArgs| call::<CasReply>(|done| kv.cas(args.clone(), done));
    let first = cas(&cas_args);
    assert_eq!(KvErr::from_wire(&first.err), Some(KvErr::Ok));
    assert!(first.swapped);
    let retry = cas(&cas_args);
    assert_eq!(retry, first, "a retry is told the first decision");
    let missed = cas(&CasArgs {
        request_id: 3,
        ..cas_args.clone()
    });
    assert!(!missed.swapped);
    assert_eq!(
        (missed.current.as_slice(), missed.current_absent),
        (&b"w"[..], false)
    );

    let delete = |key: &str, request_id| {
        let args = DeleteArgs {
            key: key.into(),
            client_id: b"client".to_vec(),
            request_id,
        };
        let reply: DeleteReply = call(|done| kv.delete(args, done));
        KvErr::from_wire(&reply.err).expect("a known Err")
    };
    assert_eq!(delete("k", 4), KvErr::Ok);
    assert_eq!(delete("k", 4), KvErr::Ok, "the retry: it existed");
    assert_eq!(delete("k", 5), KvErr::NoKey);
    assert!(kv.inner.state.lock().read(b"k").is_none());

    let too_large = cas(&CasArgs {
        expected: vec![b'e'; kv.inner.config.max_value_bytes + 1],
        request_id: 6,
        ..cas_args
    });
    assert_eq!(KvErr::from_wire(&too_large.err), Some(KvErr::TooLarge));
    // Each answer is timed under its operation and result.
    use crate::metrics::RequestKind;
    let metrics = kv.metrics();
    assert_eq!(metrics.requests(RequestKind::Cas, KvErr::Ok).count, 3);
    assert_eq!(metrics.requests(RequestKind::Cas, KvErr::TooLarge).count, 1);
    assert_eq!(metrics.requests(RequestKind::Delete, KvErr::Ok).count, 2);
    assert_eq!(metrics.requests(RequestKind::Delete, KvErr::NoKey).count, 1);
    kv.shutdown();
}
