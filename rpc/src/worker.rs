//! The worker pool: threads that run handlers, so a slow handler never stalls
//! the event loop; and what the loop, the workers and the responders share.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::Sender;
use mio::{Token, Waker};

use crate::outbox::Outbox;
use crate::{Responder, RpcStatus, Service};

/// One decoded call on its way to a worker.
pub(crate) struct Job {
    pub outbox: Arc<Outbox>,
    pub call_id: u64,
    pub service: Arc<dyn Service>,
    pub method: Vec<u8>,
    pub args: Vec<u8>,
}

thread_local! {
    /// The [`Shared`] (by address) of the provider whose loop runs on this
    /// thread, if any: answers completed there are batched, not written.
    static LOOP_OF: Cell<usize> = const { Cell::new(0) };
}

/// What workers, responders and the loop share.
pub(crate) struct Shared {
    waker: Waker,
    /// Set by whoever wakes the loop, cleared by the loop before it drains
    /// the notices: a burst of notices costs one wake-up, not one each.
    wake_pending: AtomicBool,
    shutting_down: AtomicBool,
    /// Connections the loop must look at: to flush, to resume reading, to
    /// close after a failed write or once the last call is answered.
    notices: Sender<Token>,
}

impl Shared {
    pub fn new(waker: Waker, notices: Sender<Token>) -> Self {
        Self {
            waker,
            wake_pending: AtomicBool::new(false),
            shutting_down: AtomicBool::new(false),
            notices,
        }
    }

    /// Marks the calling thread as this provider's loop thread.
    pub fn enter_loop(&self) {
        LOOP_OF.with(|l| l.set(self as *const Self as usize));
    }

    pub fn on_loop_thread(&self) -> bool {
        LOOP_OF.with(|l| l.get() == self as *const Self as usize)
    }

    /// Asks the loop to look at connection `token`; `wake` unless the
    /// caller is the loop itself, which drains notices on every turn.
    pub fn notify(&self, token: Token, wake: bool) {
        // The loop owns the receiver until it exits; after that nobody listens.
        if self.notices.send(token).is_ok() && wake {
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

    /// Called by the loop before draining the notices. A swap, not a store:
    /// reading the flag a worker set makes that worker's notice visible to
    /// the drain that follows.
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

/// The queue of jobs the loop fills and the workers take.
pub(crate) type JobQueue = crate::job_queue::JobQueue<Job>;

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
                    while let Some(job) = queue.take(i) {
                        run(job, &shared);
                    }
                    drop(exited);
                })
        })
        .collect()
}

fn run(job: Job, shared: &Shared) {
    let Job {
        outbox,
        call_id,
        service,
        method,
        args,
    } = job;
    outbox.started();
    if shared.is_shutting_down() {
        outbox.complete(
            call_id,
            &Err((
                RpcStatus::ShuttingDown,
                "the server is shutting down".into(),
            )),
        );
        return;
    }
    call_guarded(&*service, &method, &args, responder(outbox, call_id));
}

/// The `done` of call `call_id`: answers through the connection's outbox,
/// from whichever thread completes it.
pub(crate) fn responder(outbox: Arc<Outbox>, call_id: u64) -> Responder {
    Responder::new(move |outcome| outbox.complete(call_id, &outcome))
}

/// Runs a handler, surviving its panic: unwinding drops `done`, which
/// answers HANDLER_FAILED, and the thread (worker or loop) lives on.
pub(crate) fn call_guarded(service: &dyn Service, method: &[u8], args: &[u8], done: Responder) {
    let result = catch_unwind(AssertUnwindSafe(|| service.call(method, args, done)));
    if result.is_err() {
        tracing::warn!(
            service = service.name(),
            method = %String::from_utf8_lossy(method),
            "rpc handler panicked"
        );
    }
}
