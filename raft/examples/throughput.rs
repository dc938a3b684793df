//! How fast three in-process nodes agree: sequential latency (one command
//! at a time, waiting for it to apply on the leader) and pipelined
//! throughput (many commands in flight). Peers call each other's handlers
//! directly, so this measures the node itself, not a network. The
//! persister is in memory, or with `files` a FilePersister per node in a
//! temporary directory (real fsyncs, shared by many entries: group commit).
//!
//! `cargo run --release -p raft --example throughput [-- files]`

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use proto::raft::{
    AppendEntriesArgs, AppendEntriesReply, InstallSnapshotRequest, InstallSnapshotResponse,
    RequestVoteArgs, RequestVoteReply,
};
use raft::{
    FilePersister, LockQueue, MemoryPersister, PeerError, Persister, Raft, RaftConfig, RaftPeer,
};

type Nodes = Arc<Mutex<Vec<Option<Raft>>>>;

struct Direct {
    nodes: Nodes,
    to: usize,
}

impl Direct {
    fn node(&self) -> Result<Raft, PeerError> {
        self.nodes.lock()[self.to]
            .clone()
            .ok_or_else(|| PeerError("not started".into()))
    }
}

impl RaftPeer for Direct {
    fn append_entries(&self, args: &AppendEntriesArgs) -> Result<AppendEntriesReply, PeerError> {
        Ok(self.node()?.append_entries(args.clone()))
    }
    fn request_vote(&self, args: &RequestVoteArgs) -> Result<RequestVoteReply, PeerError> {
        Ok(self.node()?.request_vote(*args))
    }
    fn install_snapshot(
        &self,
        args: &InstallSnapshotRequest,
    ) -> Result<InstallSnapshotResponse, PeerError> {
        Ok(self.node()?.install_snapshot(args.clone()))
    }
}

/// The highest index applied on each node, with a condvar to wait on.
type Applied = Arc<(Mutex<u64>, Condvar)>;

fn main() {
    let files = std::env::args().any(|a| a == "files");
    let dir = tempfile::tempdir().expect("temp dir");
    println!(
        "persister: {}",
        if files { "files (fsync)" } else { "memory" }
    );
    let n = 3;
    let nodes: Nodes = Arc::new(Mutex::new(vec![None; n]));
    let mut applied = Vec::new();
    let mut queues = Vec::new();
    for i in 0..n {
        let peers = (0..n)
            .map(|to| {
                Arc::new(Direct {
                    nodes: nodes.clone(),
                    to,
                }) as Arc<dyn RaftPeer>
            })
            .collect();
        let queue = Arc::new(LockQueue::new());
        let persister: Box<dyn Persister> = if files {
            Box::new(FilePersister::open(dir.path().join(i.to_string())).expect("open"))
        } else {
            Box::new(MemoryPersister::new())
        };
        let raft =
            Raft::make(i, peers, persister, queue.clone(), RaftConfig::default()).expect("make");
        let a: Applied = Arc::new((Mutex::new(0), Condvar::new()));
        let (a2, q2) = (a.clone(), queue.clone());
        thread::spawn(move || {
            while let Some(msg) = q2.pop() {
                *a2.0.lock() = msg.index();
                a2.1.notify_all();
                drop(msg);
            }
        });
        nodes.lock()[i] = Some(raft);
        applied.push(a);
        queues.push(queue);
    }
    let leader = loop {
        let found = (0..n).find(|&i| nodes.lock()[i].as_ref().unwrap().get_state().1);
        if let Some(l) = found {
            break l;
        }
        thread::sleep(Duration::from_millis(10));
    };
    let raft = nodes.lock()[leader].clone().unwrap();
    let wait_applied = |index: u64| {
        let (m, cv) = &*applied[leader];
        let mut g = m.lock();
        while *g < index {
            cv.wait(&mut g);
        }
    };

    let rounds = if files { 300 } else { 2000 };
    let cmd = vec![7u8; 64];
    let start = Instant::now();
    for _ in 0..rounds {
        let (index, _) = raft.start(cmd.clone()).expect("leader");
        wait_applied(index);
    }
    let seq = start.elapsed();
    println!(
        "sequential: {rounds} commands in {seq:?}: {:.1} µs/command",
        seq.as_secs_f64() * 1e6 / rounds as f64
    );

    let total = if files { 50_000 } else { 200_000 };
    let start = Instant::now();
    let mut last = 0;
    for _ in 0..total {
        last = raft.start(cmd.clone()).expect("leader").0;
    }
    wait_applied(last);
    let pipe = start.elapsed();
    println!(
        "pipelined: {total} commands in {pipe:?}: {:.0} commands/s",
        total as f64 / pipe.as_secs_f64()
    );

    for (i, queue) in queues.iter().enumerate() {
        let node = nodes.lock()[i].take().unwrap();
        node.shutdown();
        queue.close();
    }
}
