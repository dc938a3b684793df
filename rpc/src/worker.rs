//! The worker pool: threads that run handlers, so a slow handler never stalls
//! the event loop, and the path by which their answers get back to it.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};
use mio::{Token, Waker};

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

    /// Called by the loop before draining the queue.
    pub fn clear_wake(&self) {
        self.wake_pending.store(false, Ordering::Release);
    }

    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
        self.wake();
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }
}

/// Starts `count` workers taking jobs from `jobs` until it disconnects.
/// Each worker holds a clone of `exited`; when all are dropped, all are gone.
pub(crate) fn spawn_workers(
    count: usize,
    jobs: Receiver<Job>,
    shared: Arc<Shared>,
    exited: Sender<()>,
) -> std::io::Result<Vec<JoinHandle<()>>> {
    (0..count)
        .map(|i| {
            let jobs = jobs.clone();
            let shared = shared.clone();
            let exited = exited.clone();
            std::thread::Builder::new()
                .name(format!("rpc-worker-{i}"))
                .spawn(move || {
                    for job in jobs.iter() {
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
