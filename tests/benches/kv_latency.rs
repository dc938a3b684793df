//! Latency and throughput of the KV store on the production stack: three
//! KvServers over loopback TCP, each with a FilePersister in a directory
//! under the target dir (a real disk, so fsync costs what it costs).
//!
//!   cargo bench -p raftkv-tests --bench kv_latency [-- SEQUENTIAL_OPS [CLIENTS [SECONDS]]]
//!
//! Prints one client's sequential Put latencies (median, p90, p99) and ops/s,
//! then the throughput of CLIENTS concurrent clients. Not a test: it asserts
//! only that every Put was acknowledged.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use clerk::Clerk;
use kvserver::KvServerConfig;
use raftkv_tests::kv_harness::TcpCluster;

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with('-'));
    let sequential: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let clients: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(16);
    let seconds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);

    let base = bench_dir();
    std::fs::create_dir_all(&base).expect("cannot create the bench dir");
    let dir = tempfile::tempdir_in(&base).expect("cannot create a temp dir");
    println!("data dirs under {}", dir.path().display());
    let cluster = TcpCluster::start(3, dir.path(), KvServerConfig::default());
    let clerk = Clerk::new(cluster.addrs());

    // Elect a leader and let the clerk find it.
    let value = vec![b'v'; 64];
    for i in 0..100 {
        clerk.put(format!("warm-{i}"), &value).expect("warm-up put");
    }

    let mut samples = Vec::with_capacity(sequential);
    let started = Instant::now();
    for i in 0..sequential {
        let t = Instant::now();
        clerk.put(format!("seq-{i}"), &value).expect("put");
        samples.push(t.elapsed());
    }
    let took = started.elapsed();
    report(
        &format!("1 client, {sequential} sequential Puts (64 B values)"),
        &mut samples,
        took,
    );

    let stop = AtomicBool::new(false);
    let started = Instant::now();
    let mut all: Vec<Duration> = thread::scope(|s| {
        let workers: Vec<_> = (0..clients)
            .map(|c| {
                let (stop, addrs, value) = (&stop, cluster.addrs(), &value);
                s.spawn(move || {
                    let clerk = Clerk::new(addrs);
                    let mut mine = Vec::new();
                    let mut i = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let t = Instant::now();
                        clerk.put(format!("c{c}-{i}"), value).expect("put");
                        mine.push(t.elapsed());
                        i += 1;
                    }
                    mine
                })
            })
            .collect();
        thread::sleep(Duration::from_secs(seconds));
        stop.store(true, Ordering::Relaxed);
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("client panicked"))
            .collect()
    });
    let took = started.elapsed();
    report(
        &format!("{clients} concurrent clients, Puts for {seconds} s"),
        &mut all,
        took,
    );
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

fn report(title: &str, samples: &mut [Duration], took: Duration) {
    samples.sort_unstable();
    let pct = |p: f64| {
        let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
        samples[rank.clamp(1, samples.len()) - 1]
    };
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("{title}:");
    println!(
        "  median {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms; {} ops in {:.2} s = {:.0} ops/s",
        ms(pct(50.0)),
        ms(pct(90.0)),
        ms(pct(99.0)),
        ms(pct(100.0)),
        samples.len(),
        took.as_secs_f64(),
        samples.len() as f64 / took.as_secs_f64()
    );
}
