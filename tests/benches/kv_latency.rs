//! Latency and throughput of the KV store on the production stack: three
//! KvServers over loopback TCP, each with a FilePersister in a directory
//! under the target dir (a real disk, so fsync costs what it costs).
//!
//!   cargo bench -p raftkv-tests --bench kv_latency [-- SEQUENTIAL_OPS [CLIENTS [SECONDS]]]
//!
//! Prints, to show where a Put's time goes:
//! 1. one RPC round trip on loopback (adminRpc Status: no Raft, no disk);
//! 2. fsync of a small append on the bench's disk;
//! 3. bare Raft (three nodes over TCP, no KV, no client RPC): start() to
//!    apply on the leader, memory and file persisters;
//! 4. one client's sequential Puts with memory persisters (Raft and RPC
//!    hops, no disk);
//! 5. the same with file persisters (the headline: median, p90, p99, ops/s);
//! 6. CLIENTS concurrent clients' throughput with file persisters;
//! 7. and 8. the same two for Gets (served by ReadIndex: no disk).
//!
//! Not a test: it asserts only that every call was answered.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use clerk::Clerk;
use kvserver::KvServerConfig;
use proto::admin::{AdminRpcClient, StatusArgs};
use proto::raft::RaftRpcServer;
use raft::{
    FilePersister, LockQueue, MemoryPersister, Persister, Raft, RaftConfig, RaftPeer, RpcPeer,
};
use raftkv_tests::kv_harness::{LatePeer, TcpCluster};
use rpc::{ProviderConfig, RpcChannel, RpcProvider};

const VALUE: [u8; 64] = [b'v'; 64];

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with('-'));
    let sequential: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let clients: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(16);
    let seconds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);

    let base = bench_dir();
    std::fs::create_dir_all(&base).expect("cannot create the bench dir");
    let dir = tempfile::tempdir_in(&base).expect("cannot create a temp dir");
    println!("data dirs under {}", dir.path().display());

    {
        let cluster = TcpCluster::start_in_memory(3, KvServerConfig::default());
        let mut samples = rpc_round_trips(&cluster, sequential);
        report(
            "loopback RPC round trip (adminRpc Status)",
            &mut samples,
            None,
        );
    }
    let mut samples = fsync_probe(dir.path(), sequential);
    report("fsync of a 100-byte append", &mut samples, None);
    let mut samples = concurrent_fsync_probe(dir.path(), sequential);
    report(
        "3 files appended and fsynced at once (one per node, one disk): until 2 are durable",
        &mut samples,
        None,
    );
    let mut samples = raft_commits(None, sequential);
    report(
        "Raft alone: start() to apply on the leader, MemoryPersister",
        &mut samples,
        None,
    );
    let mut samples = raft_commits(Some(&dir.path().join("raft-only")), sequential);
    report(
        "Raft alone: start() to apply on the leader, FilePersister",
        &mut samples,
        None,
    );
    {
        let cluster = TcpCluster::start_in_memory(3, KvServerConfig::default());
        let (mut samples, took) = one_at_a_time(&cluster, sequential, put);
        report(
            &format!("1 client, {sequential} sequential Puts, MemoryPersister (no disk)"),
            &mut samples,
            Some(took),
        );
        let (mut samples, took) = one_at_a_time(&cluster, sequential, get);
        report(
            &format!("1 client, {sequential} sequential Gets, MemoryPersister (no disk)"),
            &mut samples,
            Some(took),
        );
    }

    let cluster = TcpCluster::start(3, dir.path(), KvServerConfig::default());
    let (mut samples, took) = one_at_a_time(&cluster, sequential, put);
    report(
        &format!("1 client, {sequential} sequential Puts (64 B values), FilePersister"),
        &mut samples,
        Some(took),
    );
    let (mut all, took) = concurrent(&cluster, clients, Duration::from_secs(seconds), put);
    report(
        &format!("{clients} concurrent clients, Puts for {seconds} s, FilePersister"),
        &mut all,
        Some(took),
    );
    let (mut samples, took) = one_at_a_time(&cluster, sequential, get);
    report(
        &format!("1 client, {sequential} sequential Gets (ReadIndex), FilePersister"),
        &mut samples,
        Some(took),
    );
    let (mut all, took) = concurrent(&cluster, clients, Duration::from_secs(seconds), get);
    report(
        &format!("{clients} concurrent clients, Gets for {seconds} s, FilePersister"),
        &mut all,
        Some(took),
    );
}

/// Status calls to the leader: what one request/reply on loopback costs.
fn rpc_round_trips(cluster: &TcpCluster, n: usize) -> Vec<Duration> {
    let leader = cluster.leader(Duration::from_secs(10)).expect("a leader");
    let client = AdminRpcClient::new(RpcChannel::new(cluster.addrs()[leader]));
    let timeout = Duration::from_secs(2);
    for _ in 0..100 {
        client.status(&StatusArgs {}, timeout).expect("status");
    }
    (0..n)
        .map(|_| {
            let t = Instant::now();
            client.status(&StatusArgs {}, timeout).expect("status");
            t.elapsed()
        })
        .collect()
}

/// Appends of 100 bytes, each followed by fdatasync, on the bench's disk.
fn fsync_probe(dir: &Path, n: usize) -> Vec<Duration> {
    let path = dir.join("fsync-probe");
    let mut file = std::fs::File::create(&path).expect("a probe file");
    let samples = (0..n)
        .map(|_| {
            let t = Instant::now();
            file.write_all(&[b'x'; 100]).expect("write");
            file.sync_data().expect("fdatasync");
            t.elapsed()
        })
        .collect();
    let _ = std::fs::remove_file(path);
    samples
}

/// What a commit waits for when three nodes share one disk: each appends
/// to its own file and fsyncs at the same moment; a majority (2 of 3) must
/// be durable. On ext4 the fsyncs share one journal, so they queue.
fn concurrent_fsync_probe(dir: &Path, n: usize) -> Vec<Duration> {
    use std::sync::{mpsc, Barrier};
    let start = Barrier::new(4);
    let (done_tx, done_rx) = mpsc::channel::<()>();
    thread::scope(|s| {
        for node in 0..3 {
            let (start, done_tx) = (&start, done_tx.clone());
            let path = dir.join(format!("fsync-probe-{node}"));
            s.spawn(move || {
                let mut file = std::fs::File::create(&path).expect("a probe file");
                for _ in 0..n {
                    start.wait();
                    file.write_all(&[b'x'; 100]).expect("write");
                    file.sync_data().expect("fdatasync");
                    let _ = done_tx.send(());
                }
                let _ = std::fs::remove_file(path);
            });
        }
        drop(done_tx);
        (0..n)
            .map(|_| {
                start.wait();
                let t = Instant::now();
                done_rx.recv().expect("a probe thread");
                done_rx.recv().expect("a probe thread");
                let majority = t.elapsed();
                done_rx.recv().expect("a probe thread");
                majority
            })
            .collect()
    })
}

/// Three bare Raft nodes over loopback TCP (no KvServer, no client RPC):
/// how long one command takes from `start` on the leader to its apply
/// message on the leader's queue, one at a time.
fn raft_commits(files: Option<&Path>, n: usize) -> Vec<Duration> {
    let config = RaftConfig::default();
    let slots: Vec<Arc<OnceLock<RpcPeer>>> = (0..3).map(|_| Arc::default()).collect();
    let mut nodes = Vec::new();
    let mut addrs = Vec::new();
    for i in 0..3 {
        let persister: Box<dyn Persister> = match files {
            Some(dir) => {
                Box::new(FilePersister::open(dir.join(format!("node-{i}"))).expect("open"))
            }
            None => Box::new(MemoryPersister::new()),
        };
        let peers: Vec<Arc<dyn RaftPeer>> = slots
            .iter()
            .map(|slot| Arc::new(LatePeer::new(slot.clone())) as Arc<dyn RaftPeer>)
            .collect();
        let queue = Arc::new(LockQueue::new());
        let raft = Raft::make(i, peers, persister, queue.clone(), config.clone()).expect("make");
        let mut provider = RpcProvider::new(ProviderConfig::default());
        provider.register(Arc::new(RaftRpcServer::new(Arc::new(raft.clone()))));
        let handle = provider
            .start("127.0.0.1:0".parse().expect("an address"))
            .expect("listen");
        addrs.push(handle.local_addr());
        nodes.push((raft, queue, handle));
    }
    for (slot, addr) in slots.iter().zip(&addrs) {
        let _ = slot.set(RpcPeer::new(RpcChannel::new(*addr), config.rpc_timeout));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let leader = loop {
        if let Some(i) = (0..3).find(|&i| nodes[i].0.get_state().1) {
            break i;
        }
        assert!(Instant::now() < deadline, "no Raft leader");
        thread::sleep(Duration::from_millis(10));
    };
    let (raft, queue, _) = &nodes[leader];
    let commit_one = || {
        let t = Instant::now();
        let (index, _) = raft.start(VALUE.to_vec()).expect("still the leader");
        while let Some(msg) = queue.pop() {
            if msg.index() >= index {
                break;
            }
        }
        t.elapsed()
    };
    for _ in 0..100 {
        commit_one();
    }
    let samples = (0..n).map(|_| commit_one()).collect();
    for (raft, queue, handle) in nodes {
        raft.shutdown();
        queue.close();
        handle.shutdown();
    }
    samples
}

/// Client C's I-th Put, of key `cC-I`.
fn put(clerk: &Clerk, client: usize, i: usize) {
    clerk.put(format!("c{client}-{i}"), VALUE).expect("put");
}

/// A Get of a key the Puts above wrote (the first 100 of each client's).
fn get(clerk: &Clerk, client: usize, i: usize) {
    let value = clerk.get(format!("c{client}-{}", i % 100)).expect("get");
    assert!(value.is_some(), "a key written before is missing");
}

/// One clerk's `op`s, one at a time, after a warm-up that finds the leader.
fn one_at_a_time(
    cluster: &TcpCluster,
    n: usize,
    op: fn(&Clerk, usize, usize),
) -> (Vec<Duration>, Duration) {
    let clerk = Clerk::new(cluster.addrs());
    for i in 0..100 {
        op(&clerk, 0, i);
    }
    let started = Instant::now();
    let samples = (0..n)
        .map(|i| {
            let t = Instant::now();
            op(&clerk, 0, i);
            t.elapsed()
        })
        .collect();
    (samples, started.elapsed())
}

/// `clients` clerks doing `op` as fast as they are answered for `run`.
fn concurrent(
    cluster: &TcpCluster,
    clients: usize,
    run: Duration,
    op: fn(&Clerk, usize, usize),
) -> (Vec<Duration>, Duration) {
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    let samples = thread::scope(|s| {
        let workers: Vec<_> = (0..clients)
            .map(|c| {
                let (stop, addrs) = (&stop, cluster.addrs());
                s.spawn(move || {
                    let clerk = Clerk::new(addrs);
                    let mut mine = Vec::new();
                    let mut i = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let t = Instant::now();
                        op(&clerk, c, i);
                        mine.push(t.elapsed());
                        i += 1;
                    }
                    mine
                })
            })
            .collect();
        // The load's duration.
        thread::sleep(run);
        stop.store(true, Ordering::Relaxed);
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("client panicked"))
            .collect()
    });
    (samples, started.elapsed())
}

/// `<target dir>/kv-bench`: the bench binary lives in `<target>/<profile>/deps`.
fn bench_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir).join("kv-bench");
    }
    let exe = std::env::current_exe().expect("the bench binary's path");
    exe.ancestors()
        .nth(3)
        .map(|target| target.join("kv-bench"))
        .unwrap_or_else(|| PathBuf::from("target/kv-bench"))
}

fn report(title: &str, samples: &mut [Duration], took: Option<Duration>) {
    samples.sort_unstable();
    let pct = |p: f64| {
        let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
        samples[rank.clamp(1, samples.len()) - 1]
    };
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let rate = took.map_or(String::new(), |took| {
        format!(
            "; {} ops in {:.2} s = {:.0} ops/s",
            samples.len(),
            took.as_secs_f64(),
            samples.len() as f64 / took.as_secs_f64()
        )
    });
    println!("{title}:");
    println!(
        "  median {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms{rate}",
        ms(pct(50.0)),
        ms(pct(90.0)),
        ms(pct(99.0)),
        ms(pct(100.0)),
    );
}
