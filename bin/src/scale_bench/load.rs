//! Phase 1, load: every key written once by many client threads, each
//! thread its own range of keys, so the store ends with exactly N keys.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clerk::Clerk;

use super::machine_cpu::{CpuSample, CpuShare};
use super::workload::{Stop, Workload};

/// How often progress goes to stderr while the load runs.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// Puts every key from `clients` threads; prints and returns the rate.
pub fn run(
    clerk: &Clerk,
    workload: &Workload,
    clients: usize,
    stop: &Stop,
) -> anyhow::Result<String> {
    let clients = clients.min(workload.keys as usize);
    let done = AtomicU64::new(0);
    // One failed thread ends the others' work early: the rate is lost anyway.
    let failed = AtomicBool::new(false);
    let cpu_before = CpuSample::now();
    let started = Instant::now();
    let results: Vec<anyhow::Result<()>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|t| {
                let range = share(workload.keys, clients, t);
                let (done, failed) = (&done, &failed);
                scope.spawn(move || {
                    let result = put_range(clerk, workload, range, done, failed, stop);
                    if result.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    result
                })
            })
            .collect();
        let mut last_report = Instant::now();
        while !handles.iter().all(|h| h.is_finished()) {
            std::thread::sleep(Duration::from_millis(50));
            if last_report.elapsed() >= PROGRESS_EVERY {
                last_report = Instant::now();
                let n = done.load(Ordering::Relaxed);
                eprintln!(
                    "load: {n} of {} keys ({:.0} Puts/s so far)",
                    workload.keys,
                    n as f64 / started.elapsed().as_secs_f64()
                );
            }
        }
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a load thread panicked")))
            })
            .collect()
    });
    let elapsed = started.elapsed();
    // Ctrl-C first: the threads' own errors then only echo it.
    stop.check()?;
    results.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
    let rate = workload.keys as f64 / elapsed.as_secs_f64();
    println!(
        "load: {} Puts of {} B in {:.2} s by {clients} clients = {rate:.0} Puts/s",
        workload.keys,
        workload.value_bytes,
        elapsed.as_secs_f64()
    );
    let cpu = cpu_before
        .zip(CpuSample::now())
        .and_then(|(before, after)| after.since(&before))
        .map(|share| cpu_figure(&share, workload.keys));
    if let Some(cpu) = &cpu {
        println!("load: {cpu} (the nodes and the bench's clients together)");
    }
    Ok(format!(
        "{rate:.0} Puts/s ({} keys in {:.1} s, {clients} clients{})",
        workload.keys,
        elapsed.as_secs_f64(),
        cpu.map(|cpu| format!("; {cpu}")).unwrap_or_default()
    ))
}

/// The machine's busy share, steal and CPU time per Put, in one phrase.
fn cpu_figure(share: &CpuShare, puts: u64) -> String {
    format!(
        "machine {:.0}% busy, {:.0}% stolen, {:.0} us of CPU a Put",
        share.busy * 100.0,
        share.steal * 100.0,
        share.busy_secs * 1e6 / puts.max(1) as f64
    )
}

fn put_range(
    clerk: &Clerk,
    workload: &Workload,
    range: std::ops::Range<u64>,
    done: &AtomicU64,
    failed: &AtomicBool,
    stop: &Stop,
) -> anyhow::Result<()> {
    let mut rng = rand::rng();
    for i in range {
        stop.check()?;
        if failed.load(Ordering::Relaxed) {
            return Ok(());
        }
        let key = Workload::key(i);
        clerk
            .put(&key, workload.value(&mut rng))
            .with_context(|| format!("Put({key}) failed"))?;
        done.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

/// Thread `t`'s share of `0..keys` among `threads`: contiguous, disjoint,
/// together all of it.
fn share(keys: u64, threads: usize, t: usize) -> std::ops::Range<u64> {
    let (threads, t) = (threads as u64, t as u64);
    keys * t / threads..keys * (t + 1) / threads
}

#[cfg(test)]
mod tests {
    use super::share;

    #[test]
    fn shares_cover_every_key_once() {
        for (keys, threads) in [(10, 3), (2000, 64), (5, 5), (1_000_000, 64)] {
            let mut next = 0;
            for t in 0..threads {
                let range = share(keys, threads, t);
                assert_eq!(range.start, next);
                next = range.end;
            }
            assert_eq!(next, keys);
        }
    }
}
