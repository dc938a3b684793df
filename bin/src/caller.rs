//! The original's callerMain workload: COUNT times Put("x", i) then
//! Get("x"), checking each Get sees the Put before it; optionally from many
//! client threads at once, each on its own key.

use std::time::Instant;

use anyhow::{bail, Context};
use clerk::Clerk;

use crate::latency::Latencies;

/// What one caller run measured.
pub struct CallerReport {
    /// Put+Get rounds, over all clients.
    pub count: u64,
    pub puts: Latencies,
    pub gets: Latencies,
    pub elapsed: std::time::Duration,
}

impl CallerReport {
    pub fn ops_per_sec(&self) -> f64 {
        (self.puts.len() + self.gets.len()) as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Runs the workload; `progress` is told after every step (done, total).
pub fn run(
    clerk: &Clerk,
    key: &str,
    count: u64,
    mut progress: impl FnMut(u64, u64),
) -> anyhow::Result<CallerReport> {
    let mut puts = Latencies::default();
    let mut gets = Latencies::default();
    let started = Instant::now();
    for i in 0..count {
        let value = i.to_string();
        let t = Instant::now();
        clerk.put(key, &value).context("put failed")?;
        puts.record(t.elapsed());
        let t = Instant::now();
        let read = clerk.get(key).context("get failed")?;
        gets.record(t.elapsed());
        if read.as_deref() != Some(value.as_bytes()) {
            bail!(
                "Get({key}) returned {:?} right after Put({key}, {value})",
                read.map(|r| String::from_utf8_lossy(&r).into_owned())
            );
        }
        progress(i + 1, count);
    }
    Ok(CallerReport {
        count,
        puts,
        gets,
        elapsed: started.elapsed(),
    })
}

/// Runs the workload from `clients` threads sharing one Clerk, client `t`
/// on key `{key}-{t}`; `progress` sees the first client's steps.
pub fn run_many(
    clerk: &Clerk,
    key: &str,
    clients: usize,
    count: u64,
    progress: impl FnMut(u64, u64) + Send,
) -> anyhow::Result<CallerReport> {
    if clients <= 1 {
        return run(clerk, key, count, progress);
    }
    let started = Instant::now();
    let reports: Vec<anyhow::Result<CallerReport>> = std::thread::scope(|scope| {
        let mut progress = Some(progress);
        let handles: Vec<_> = (0..clients)
            .map(|t| {
                let key = format!("{key}-{t}");
                let mut progress = progress.take();
                scope.spawn(move || {
                    run(clerk, &key, count, |done, total| {
                        if let Some(p) = progress.as_mut() {
                            p(done, total);
                        }
                    })
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a client thread panicked")))
            })
            .collect()
    });
    let mut total = CallerReport {
        count: 0,
        puts: Latencies::default(),
        gets: Latencies::default(),
        elapsed: started.elapsed(),
    };
    for report in reports {
        let report = report?;
        total.count += report.count;
        total.puts.merge(&report.puts);
        total.gets.merge(&report.gets);
    }
    Ok(total)
}
