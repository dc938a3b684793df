//! The queue between the event loop and the workers: a lock-free channel for
//! the jobs, with our own sleep/wake protocol on the side.
//!
//! A channel's blocking `recv` wakes one sleeping worker per job, so a read
//! that yields 30 requests would cost the loop 30 futex calls and the two
//! cores 30 context switches. Here the loop pushes a whole read's requests
//! and wakes at most one worker; a worker that takes a job and sees more
//! waiting wakes the next. Under load workers find jobs without sleeping,
//! and the loop never waits for a lock a worker holds; a slow handler still
//! only holds its own worker.
//!
//! Idle workers are woken last-in, first-out: the worker that just finished
//! is the one woken next, so a lone caller's calls keep landing on one warm
//! thread (measured: 16 workers woken in turn cost three times the CPU per
//! call of one worker woken again and again, on a 2-core VM).

use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use parking_lot::{Condvar, Mutex};

use crate::spin::Spinner;

pub(crate) struct JobQueue<J> {
    jobs_tx: Sender<J>,
    jobs: Receiver<J>,
    /// How many workers are on the idle stack: a hint read without the lock.
    sleepers: AtomicUsize,
    idle: Mutex<Idle>,
    /// One per worker, by worker index.
    parkers: Vec<Parker>,
    /// How an idle worker polls for the next job before it sleeps.
    spinner: Spinner,
    /// A worker is polling: only one at a time, so that idle workers never
    /// crowd the loop out of a small machine's cores.
    polling: AtomicBool,
}

struct Idle {
    /// Sleeping workers, the most recently idle last.
    stack: Vec<usize>,
    /// Wake-ups sent and not yet received: at most one, since the woken
    /// worker chains the next.
    notified: usize,
    closed: bool,
}

/// Where one worker sleeps.
struct Parker {
    woken: Mutex<bool>,
    cv: Condvar,
}

impl Parker {
    fn unpark(&self) {
        *self.woken.lock() = true;
        self.cv.notify_one();
    }

    fn park(&self) {
        let mut woken = self.woken.lock();
        while !*woken {
            self.cv.wait(&mut woken);
        }
        *woken = false;
    }
}

impl<J> JobQueue<J> {
    /// A queue served by `workers` workers, numbered from 0; an idle worker
    /// polls for up to `spin` before it sleeps.
    pub fn new(workers: usize, spin: Duration) -> Self {
        let (jobs_tx, jobs) = crossbeam_channel::unbounded();
        Self {
            jobs_tx,
            jobs,
            sleepers: AtomicUsize::new(0),
            idle: Mutex::new(Idle {
                stack: Vec::with_capacity(workers),
                notified: 0,
                closed: false,
            }),
            parkers: (0..workers)
                .map(|_| Parker {
                    woken: Mutex::new(false),
                    cv: Condvar::new(),
                })
                .collect(),
            spinner: Spinner::new(spin),
            polling: AtomicBool::new(false),
        }
    }

    /// Queues `jobs`, waking one worker if all are asleep.
    pub fn push_all(&self, jobs: impl Iterator<Item = J>) {
        for job in jobs {
            // The queue owns a receiver, so sending cannot fail.
            let _ = self.jobs_tx.send(job);
        }
        self.wake_one();
    }

    fn wake_one(&self) {
        // Pairs with the fence in `take`: either we see the sleeper, or it
        // sees the job.
        fence(Ordering::SeqCst);
        if self.sleepers.load(Ordering::Relaxed) == 0 || self.jobs.is_empty() {
            return;
        }
        let mut idle = self.idle.lock();
        if idle.notified > 0 {
            return;
        }
        if let Some(worker) = idle.stack.pop() {
            self.sleepers.fetch_sub(1, Ordering::Relaxed);
            idle.notified += 1;
            drop(idle);
            self.parkers[worker].unpark();
        }
    }

    /// Workers finish what is queued, then exit.
    pub fn close(&self) {
        let mut idle = self.idle.lock();
        idle.closed = true;
        let sleeping = std::mem::take(&mut idle.stack);
        self.sleepers.store(0, Ordering::Relaxed);
        drop(idle);
        for worker in sleeping {
            self.parkers[worker].unpark();
        }
    }

    /// Polls for a job for a while, but only as the one worker awake: when
    /// others are still running jobs the cores are busy, and another worker
    /// is already polling or will soon be.
    fn poll_for_job(&self) -> Option<J> {
        let others_awake = self.parkers.len() - 1 - self.sleepers.load(Ordering::Relaxed);
        if others_awake > 0 || self.polling.swap(true, Ordering::Acquire) {
            return None;
        }
        let job = self.spinner.poll(|| self.jobs.try_recv().ok());
        self.polling.store(false, Ordering::Release);
        job
    }

    /// The next job for worker `worker`, or `None` once closed and empty.
    pub fn take(&self, worker: usize) -> Option<J> {
        loop {
            if let Some(job) = self.jobs.try_recv().ok().or_else(|| self.poll_for_job()) {
                self.wake_one();
                return Some(job);
            }
            let mut idle = self.idle.lock();
            if idle.closed {
                return self.jobs.try_recv().ok();
            }
            idle.stack.push(worker);
            self.sleepers.fetch_add(1, Ordering::Relaxed);
            fence(Ordering::SeqCst);
            if !self.jobs.is_empty() {
                // A job arrived meanwhile: take it rather than sleep.
                if let Some(at) = idle.stack.iter().rposition(|&w| w == worker) {
                    idle.stack.remove(at);
                    self.sleepers.fetch_sub(1, Ordering::Relaxed);
                    continue;
                }
                // Already popped by a waker: its wake-up is on its way.
            }
            drop(idle);
            self.parkers[worker].park();
            let mut idle = self.idle.lock();
            idle.notified = idle.notified.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn every_job_is_taken_and_close_ends_the_workers() {
        let queue = Arc::new(JobQueue::new(3, Duration::from_micros(50)));
        let (done_tx, done_rx) = crossbeam_channel::unbounded();
        let workers: Vec<_> = (0..3)
            .map(|w| {
                let queue = queue.clone();
                let done_tx = done_tx.clone();
                std::thread::spawn(move || {
                    while let Some(job) = queue.take(w) {
                        done_tx.send(job).unwrap();
                    }
                })
            })
            .collect();
        for round in 0..200u32 {
            queue.push_all((0..(round % 7)).map(|i| round * 10 + i));
        }
        let expected: u32 = (0..200u32).map(|r| r % 7).sum();
        let mut seen = Vec::new();
        for _ in 0..expected {
            seen.push(
                done_rx
                    .recv_timeout(Duration::from_secs(10))
                    .expect("a queued job was never taken"),
            );
        }
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), expected as usize, "a job was taken twice");
        queue.close();
        for worker in workers {
            worker.join().unwrap();
        }
    }
}
