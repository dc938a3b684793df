//! A node stops, never skips: an entry or snapshot its applier cannot
//! decode stops it with the reason recorded and its waiters answered.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use prost::Message;
use proto::kv::{KvServerRpc, PutAppendArgs, PutAppendReply};
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
    use crate::OpKind;
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
    assert_eq!(metrics.requests(OpKind::Put, KvErr::Ok).count, 3);
    assert_eq!(metrics.requests(OpKind::Put, KvErr::TooLarge).count, 1);
    assert_eq!(metrics.requests(OpKind::Append, KvErr::Ok).count, 0);
    assert_eq!(metrics.requests(OpKind::Get, KvErr::Ok).count, 0);
    let stats = kv.stats();
    assert_eq!((stats.sessions, stats.keys), (1, 2));
    assert_eq!(stats.last_applied, kv.last_applied());
    kv.shutdown();
}
