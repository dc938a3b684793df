//! The KvServer's shape of data in three maps: heap and RSS per entry, insert and lookup rates, and
//! for ByteSkipList the freeze and bulk-build times.
//!
//! Rates are given per second of wall time and per second of this thread's CPU time: the
//! development machine is shared, and CPU time is what stays comparable under load.
//!
//! `cargo bench -p skiplist --bench memory` runs each map in a child process of its own (RSS never
//! shrinks back after a free, so one process per map keeps the figures apart). `ENTRIES=10000000`
//! changes the count (default 1,000,000); `MAPS=bytes` runs only ByteSkipList; `ORDER=sorted` inserts in key order (much faster
//! at ten million, and the same layout).

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::process::Command;
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use skiplist::{ByteSkipList, SkipList, SortedBuilder};

const KEY: usize = 12;
const VALUE: usize = 100;
const MAPS: [&str; 3] = ["bytes", "generic", "btree"];

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grow(layout.size() as isize);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grow(layout.size() as isize);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        grow(new_size as isize - layout.size() as isize);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

fn grow(by: isize) {
    let now = LIVE.fetch_add(by, Relaxed) + by;
    PEAK.fetch_max(now, Relaxed);
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn heap() -> isize {
    LIVE.load(Relaxed)
}

/// The process's resident set in bytes, from /proc/self/status.
fn rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Wall time and this thread's CPU time since it was started.
struct Clock {
    wall: Instant,
    cpu: Duration,
}

impl Clock {
    fn start() -> Self {
        Clock {
            wall: Instant::now(),
            cpu: thread_cpu(),
        }
    }

    fn stop(&self) -> Took {
        Took {
            wall: self.wall.elapsed().as_secs_f64(),
            cpu: (thread_cpu() - self.cpu).as_secs_f64(),
        }
    }
}

#[derive(Clone, Copy)]
struct Took {
    wall: f64,
    cpu: f64,
}

impl Took {
    /// "N M/s (M M/s per CPU second)" for `n` operations.
    fn rate(&self, n: u64) -> String {
        format!(
            "{:>5.2} M/s ({:>5.2} per CPU s)",
            n as f64 / self.wall / 1e6,
            n as f64 / self.cpu.max(1e-9) / 1e6
        )
    }
}

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the one we pass.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn key(i: u64) -> [u8; KEY] {
    let mut key = [0u8; KEY];
    key[..4].copy_from_slice(b"key-");
    key[4..].copy_from_slice(&i.to_be_bytes());
    key
}

fn value(i: u64) -> [u8; VALUE] {
    [i as u8; VALUE]
}

fn main() {
    let n: u64 = std::env::var("ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--map") {
        run(&args[at + 1], n);
        return;
    }
    let wanted = std::env::var("MAPS").unwrap_or_default();
    let order = match std::env::var("ORDER").as_deref() {
        Ok("sorted") => "key",
        _ => "random",
    };
    println!(
        "{n} entries, {KEY}-byte keys, {VALUE}-byte values ({} MB raw), inserted in {order} order",
        n * (KEY + VALUE) as u64 / 1_000_000
    );
    let me = std::env::current_exe().expect("the bench knows its own path");
    for map in MAPS
        .iter()
        .filter(|m| wanted.is_empty() || wanted.contains(*m))
    {
        let status = Command::new(&me)
            .args(["--map", map])
            .status()
            .expect("the bench can run itself");
        assert!(status.success(), "{map} failed");
    }
}

fn run(map: &str, n: u64) {
    let mut order: Vec<u64> = (0..n).collect();
    if std::env::var("ORDER").as_deref() != Ok("sorted") {
        order.shuffle(&mut SmallRng::seed_from_u64(7));
    }
    let mut probes = order.clone();
    probes.shuffle(&mut SmallRng::seed_from_u64(8));
    let (heap0, rss0) = (heap(), rss());
    PEAK.store(heap0, Relaxed);
    let raw = (n as usize * (KEY + VALUE)) as f64;
    let report = |name: &str, insert: Took, lookup: Took| {
        let heap = (heap() - heap0) as f64;
        let peak = (PEAK.load(Relaxed) - heap0) as f64;
        let rss = rss().saturating_sub(rss0) as f64;
        println!(
            "{name:<26} heap {:>5.1} B/entry ({:.2}× raw, peak {:.2}×)  RSS +{:>4.0} MB ({:.2}× raw)\n{:<26} insert {}  lookup {}",
            heap / n as f64,
            heap / raw,
            peak / raw,
            rss / 1e6,
            rss / raw,
            "",
            insert.rate(n),
            lookup.rate(n),
        );
    };
    match map {
        "bytes" => {
            let clock = Clock::start();
            let mut list = ByteSkipList::new();
            for &i in &order {
                list.insert(&key(i), &value(i));
            }
            let insert = clock.stop();
            let clock = Clock::start();
            for &i in &probes {
                black_box(list.search(&key(i)));
            }
            report("ByteSkipList", insert, clock.stop());
            extras(&mut list, n);
        }
        "generic" => {
            let clock = Clock::start();
            let mut list = SkipList::new();
            for &i in &order {
                list.insert(key(i).to_vec(), value(i).to_vec());
            }
            let insert = clock.stop();
            let clock = Clock::start();
            for &i in &probes {
                black_box(list.search(&key(i)[..]));
            }
            report("SkipList<Vec<u8>, Vec<u8>>", insert, clock.stop());
        }
        _ => {
            let clock = Clock::start();
            let mut map = BTreeMap::new();
            for &i in &order {
                map.insert(key(i).to_vec(), value(i).to_vec());
            }
            let insert = clock.stop();
            let clock = Clock::start();
            for &i in &probes {
                black_box(map.get(&key(i)[..]));
            }
            report("BTreeMap<Vec<u8>, Vec<u8>>", insert, clock.stop());
        }
    }
}

/// Freeze, writes while the image lives, a walk of the image, and a bulk
/// build from sorted entries.
fn extras(list: &mut ByteSkipList, n: u64) {
    let before = heap();
    let clock = Clock::start();
    let image = list.freeze();
    let freeze = clock.stop();
    let freeze_bytes = heap() - before;

    let clock = Clock::start();
    for i in (0..n).step_by(10) {
        list.insert_or_set(&key(i), &value(i + 1));
    }
    let writes = clock.stop();
    let grown = heap() - before;

    // What a snapshot writer does: walk the image in key order.
    let clock = Clock::start();
    let mut bytes = 0;
    for (k, v) in image.iter() {
        bytes += k.len() + v.len();
    }
    let walk = clock.stop();
    assert_eq!(bytes, image.len() * (KEY + VALUE));

    // What a restore does: push a snapshot's sorted entries (generated
    // here, so only the build is timed; key(i) ascends with i).
    let clock = Clock::start();
    let mut builder = SortedBuilder::new();
    for i in 0..n {
        builder.push(&key(i), &value(i)).expect("keys ascend");
    }
    let built = builder.finish();
    let build = clock.stop();
    assert_eq!(built.len(), n as usize);
    println!(
        "{:<26} freeze {:.1} µs ({:.1} µs CPU), {freeze_bytes} bytes allocated\n{:<26} {} overwrites under the image: {} (+{:.1} MB)\n{:<26} walk of the image in key order: {}\n{:<26} bulk build of {n} sorted entries: {:.2} s, {}",
        "",
        freeze.wall * 1e6,
        freeze.cpu * 1e6,
        "",
        n / 10,
        writes.rate(n / 10),
        grown as f64 / 1e6,
        "",
        walk.rate(n),
        "",
        build.wall,
        build.rate(n),
    );
}
