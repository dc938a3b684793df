//! The worker pool: threads that run handlers, so a slow handler never stalls
//! the event loop, and the path by which their answers get back to it.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::Sender;
use mio::{Token, Waker};
use parking_lot::{Condvar, Mutex};

use crate::{Outcome, Responder, RpcStatus, Service};

/// One decoded call on its way to a worker.
pub(crate) struct Job {
    pub conn: Token,
    pub call_id: u64,
    pub service: Arc<dyn Service>,
    pub method: Vec<u8>,
    pub args: Vec<u8>,
}

/// One answer on its way back to the event loop.
pub(crate) struct Completion {
    pub conn: Token,
    pub call_id: u64,
    pub outcome: Outcome,
}

/// What workers, responders and the loop share.
pub(crate) struct Shared {
    waker: Waker,
    /// Set by whoever wakes the loop, cleared by the loop before it drains
    /// the queue: a burst of answers costs one wake-up, not one each.
    wake_pending: AtomicBool,
    shutting_down: AtomicBool,
    completions: Sender<Completion>,
}

impl Shared {
    pub fn new(waker: Waker, completions: Sender<Completion>) -> Self {
        Self {
            waker,
            wake_pending: AtomicBool::new(false),
            shutting_down: AtomicBool::new(false),
            completions,
        }
    }

    /// Queues an answer for the loop and wakes it if it is not already due
    /// to look. A connection closed meanwhile makes the loop discard it.
    pub fn complete(&self, conn: Token, call_id: u64, outcome: Outcome) {
        let completion = Completion {
            conn,
            call_id,
            outcome,
        };
        // The loop owns the receiver until it exits; after that nobody waits.
        if self.completions.send(completion).is_ok() {
            self.wake();
        }
    }

    pub fn wake(&self) {
        if !self.wake_pending.swap(true, Ordering::AcqRel) {
            if let Err(e) = self.waker.wake() {
                tracing::error!("cannot wake the rpc event loop: {e}");
            }
        }
    }

    /// Called by the loop before draining the queue. A swap, not a store:
    /// reading the flag a worker set makes that worker's queued answer
    /// visible to the drain that follows.
    pub fn clear_wake(&self) {
        self.wake_pending.swap(false, Ordering::AcqRel);
    }

    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
        self.wake();
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }
}

/// The queue between the loop and the workers: a crossbeam channel for the
/// jobs, with our own sleep/wake protocol on the side.
///
/// A channel's blocking `recv` wakes one sleeping worker per job, so a read
/// that yields 30 requests would cost the loop 30 futex calls and the two
/// cores 30 context switches. Here the loop pushes a whole read's requests
/// (lock-free) and wakes at most one worker; a worker that takes a job and
/// sees more waiting wakes the next. Under load workers find jobs without
/// sleeping, and the loop never waits for a lock a worker holds; a slow
/// handler still only holds its own worker.
pub(crate) struct JobQueue {
    jobs_tx: crossbeam_channel::Sender<Job>,
    jobs: crossbeam_channel::Receiver<Job>,
    sleepers: AtomicUsize,
    idle: Mutex<Idle>,
    available: Condvar,
}

struct Idle {
    /// Workers blocked in `wait`.
    waiting: usize,
    /// Wake-ups sent and not yet received: at most one, since the woken
    /// worker chains the next.
    notified: usize,
    closed: bool,
}

impl JobQueue {
    pub fn new() -> Self {
        let (jobs_tx, jobs) = crossbeam_channel::unbounded();
        Self {
            jobs_tx,
            jobs,
            sleepers: AtomicUsize::new(0),
            idle: Mutex::new(Idle {
                waiting: 0,
                notified: 0,
                closed: false,
            }),
            available: Condvar::new(),
        }
    }

    /// Queues `jobs`, waking one worker if all are asleep.
    pub fn push_all(&self, jobs: impl Iterator<Item = Job>) {
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
        // `sleepers` was a hint; only a worker really in `wait` (counted
        // under the lock) can take a notification.
        let mut idle = self.idle.lock();
        if idle.notified == 0 && idle.waiting > 0 {
            idle.notified += 1;
            self.available.notify_one();
        }
    }

    /// Workers finish what is queued, then exit.
    pub fn close(&self) {
        self.idle.lock().closed = true;
        self.available.notify_all();
    }

    /// The next job, or `None` once closed and empty.
    fn take(&self) -> Option<Job> {
        loop {
            if let Ok(job) = self.jobs.try_recv() {
                self.wake_one();
                return Some(job);
            }
            let mut idle = self.idle.lock();
            if idle.closed {
                return self.jobs.try_recv().ok();
            }
            self.sleepers.fetch_add(1, Ordering::Relaxed);
            fence(Ordering::SeqCst);
            if self.jobs.is_empty() {
                idle.waiting += 1;
                self.available.wait(&mut idle);
                idle.waiting -= 1;
                idle.notified = idle.notified.saturating_sub(1);
            }
            self.sleepers.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Starts `count` workers taking jobs from `queue` until it is closed.
/// Each worker holds a clone of `exited`; when all are dropped, all are gone.
pub(crate) fn spawn_workers(
    count: usize,
    queue: Arc<JobQueue>,
    shared: Arc<Shared>,
    exited: Sender<()>,
) -> std::io::Result<Vec<JoinHandle<()>>> {
    (0..count)
        .map(|i| {
            let queue = queue.clone();
            let shared = shared.clone();
            let exited = exited.clone();
            std::thread::Builder::new()
                .name(format!("rpc-worker-{i}"))
                .spawn(move || {
                    while let Some(job) = queue.take() {
                        run(job, &shared);
                    }
                    drop(exited);
                })
        })
        .collect()
}

fn run(job: Job, shared: &Arc<Shared>) {
    let Job {
        conn,
        call_id,
        service,
        method,
        args,
    } = job;
    let to_loop = shared.clone();
    let done = Responder::new(move |outcome| to_loop.complete(conn, call_id, outcome));
    if shared.is_shutting_down() {
        done.fail(RpcStatus::ShuttingDown, "the server is shutting down");
        return;
    }
    // A panicking handler drops `done` while unwinding, which answers
    // HANDLER_FAILED; the worker lives on.
    let result = catch_unwind(AssertUnwindSafe(|| service.call(&method, &args, done)));
    if result.is_err() {
        tracing::warn!(
            service = service.name(),
            method = %String::from_utf8_lossy(&method),
            "rpc handler panicked"
        );
    }
}
