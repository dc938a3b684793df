//! The original's callerMain workload: COUNT times Put("x", i) then
//! Get("x"), checking each Get sees the Put before it.

use std::time::Instant;

use anyhow::{bail, Context};
use clerk::Clerk;

use crate::latency::Latencies;

/// What one caller run measured.
pub struct CallerReport {
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
