//! Echo over loopback through one channel: calls/s, latency percentiles and
//! CPU time per call for 1 and 64 concurrent callers, with the handler on a
//! worker and inline on the event loop. Run with `cargo bench -p rpc`
//! (`RPC_BENCH_WORKERS=N` overrides the provider's worker count;
//! `RPC_BENCH_ONLY=worker` or `inline` and `RPC_BENCH_CALLERS=64` (or a
//! list, run in its order: `64,1`) narrow the cases, e.g. for `perf`).
//!
//! The machine may be shared: the load average is printed, and CPU time per
//! call (client and server together, from getrusage) is the figure least
//! moved by other processes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rpc::{ProviderConfig, Responder, RpcChannel, RpcProvider, Service};

/// Echoes its args, under the given service name.
struct Echo(&'static str);

impl Service for Echo {
    fn name(&self) -> &str {
        self.0
    }

    fn call(&self, _method: &[u8], args: &[u8], done: Responder) {
        done.ok(args.to_vec());
    }
}

const RUN: Duration = Duration::from_secs(2);
const WARMUP: Duration = Duration::from_millis(300);

fn main() {
    let workers = std::env::var("RPC_BENCH_WORKERS")
        .ok()
        .and_then(|w| w.parse().ok());
    let mut provider = RpcProvider::new(ProviderConfig {
        workers: workers.unwrap_or(ProviderConfig::default().workers),
        ..Default::default()
    });
    provider.register(Arc::new(Echo("echo")));
    provider.register_inline(Arc::new(Echo("echo_inline")));
    let server = provider
        .start("127.0.0.1:0".parse().unwrap())
        .expect("start provider");
    println!("load average: {}", load_average());
    let only = std::env::var("RPC_BENCH_ONLY").ok();
    let callers_list: Option<Vec<usize>> = std::env::var("RPC_BENCH_CALLERS")
        .ok()
        .map(|c| c.split(',').filter_map(|n| n.trim().parse().ok()).collect());
    if only.is_none() && callers_list.is_none() {
        baseline();
    }
    let channel = RpcChannel::new(server.local_addr());
    for (label, service) in [("worker", "echo"), ("inline", "echo_inline")] {
        if only.as_deref().is_some_and(|o| o != label) {
            continue;
        }
        for &callers in callers_list.as_deref().unwrap_or(&[1, 64]) {
            run(&channel, label, service, callers);
        }
    }
    println!("load average: {}", load_average());
    server.shutdown();
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn run(channel: &RpcChannel, label: &str, service: &'static str, callers: usize) {
    let payload = vec![0xabu8; 64];
    let stop = AtomicBool::new(false);
    let measuring = AtomicBool::new(false);
    let mut latencies: Vec<Duration> = Vec::new();
    let mut measured_for = Duration::ZERO;
    let mut cpu_used = Duration::ZERO;
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..callers)
            .map(|_| {
                let channel = channel.clone();
                let payload = &payload;
                let (stop, measuring) = (&stop, &measuring);
                s.spawn(move || {
                    let mut mine = Vec::with_capacity(1 << 16);
                    while !stop.load(Ordering::Relaxed) {
                        let started = Instant::now();
                        let reply = channel
                            .call(service, "echo", payload, Duration::from_secs(5))
                            .expect("echo call");
                        assert_eq!(reply.len(), payload.len());
                        if measuring.load(Ordering::Relaxed) {
                            mine.push(started.elapsed());
                        }
                    }
                    mine
                })
            })
            .collect();
        std::thread::sleep(WARMUP);
        measuring.store(true, Ordering::Relaxed);
        let started = Instant::now();
        let cpu_before = process_cpu();
        std::thread::sleep(RUN);
        measuring.store(false, Ordering::Relaxed);
        cpu_used = process_cpu() - cpu_before;
        measured_for = started.elapsed();
        stop.store(true, Ordering::Relaxed);
        for worker in workers {
            latencies.extend(worker.join().expect("caller thread"));
        }
    });
    latencies.sort_unstable();
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize];
    println!(
        "{label} dispatch, {:>2} caller(s), one channel: {:>8.0} calls/s  p50 {:>7.1?}  p99 {:>7.1?}  cpu {:>5.1} us/call  ({} calls)",
        callers,
        latencies.len() as f64 / measured_for.as_secs_f64(),
        pct(0.50),
        pct(0.99),
        cpu_used.as_secs_f64() * 1e6 / latencies.len() as f64,
        latencies.len()
    );
}

/// CPU time (user + system) used by the whole process, client and server:
/// on a shared machine a steadier figure than wall-clock throughput.
fn process_cpu() -> Duration {
    // SAFETY: getrusage fills the zeroed struct we pass.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// What the machine itself charges, for scale: a blocking TCP ping-pong of
/// 64 bytes over loopback between two threads (two wake-ups per round trip:
/// the floor for an inline call; a worker call adds the loop-to-worker one).
fn baseline() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let echo = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        stream.set_nodelay(true).expect("nodelay");
        let mut buf = [0u8; 64];
        while stream.read_exact(&mut buf).is_ok() {
            if stream.write_all(&buf).is_err() {
                break;
            }
        }
    });
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let mut buf = [0u8; 64];
    let mut latencies = Vec::new();
    let until = Instant::now() + Duration::from_secs(1);
    while Instant::now() < until {
        let started = Instant::now();
        stream.write_all(&buf).expect("write");
        stream.read_exact(&mut buf).expect("read");
        latencies.push(started.elapsed());
    }
    drop(stream);
    let _ = echo.join();
    latencies.sort_unstable();
    println!(
        "baseline: raw TCP ping-pong between two threads: p50 {:>7.1?}  p99 {:>7.1?}",
        latencies[latencies.len() / 2],
        latencies[latencies.len() * 99 / 100]
    );
}
