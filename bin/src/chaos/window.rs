//! The run's window: when it began, when it is due to end, and Ctrl-C (or
//! SIGTERM), which ends it early so that the nodes are stopped, the
//! namespaces removed and the history so far still checked.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Window {
    began: Instant,
    until: Instant,
    interrupted: Arc<AtomicBool>,
}

impl Window {
    /// A window of `length` from now, ended early by Ctrl-C or SIGTERM.
    pub fn open(length: Duration) -> anyhow::Result<Window> {
        let interrupted = crate::interrupt::flag()?;
        let began = Instant::now();
        Ok(Window {
            began,
            until: began + length,
            interrupted,
        })
    }

    /// Whether the run is over (its time is up, or it was interrupted).
    pub fn over(&self) -> bool {
        Instant::now() >= self.until || self.interrupted.load(Ordering::Relaxed)
    }

    /// Microseconds since the run began: the history's clock.
    pub fn micros(&self) -> u64 {
        self.began.elapsed().as_micros() as u64
    }

    pub fn secs(&self) -> f64 {
        self.began.elapsed().as_secs_f64()
    }
}
