//! `RpcProvider`: registers services and starts serving them (the original's
//! RpcProvider); `ProviderHandle`: the running server, stopped on drop.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use mio::net::TcpListener;
use mio::{Poll, Waker};

use crate::event_loop::{EventLoop, WAKER};
use crate::worker::{self, JobQueue, Shared};
use crate::{ProviderConfig, Service};

/// The services to serve, by wire name.
pub(crate) type Services = HashMap<Vec<u8>, Registered>;

/// A service and where its handlers run.
#[derive(Clone)]
pub(crate) struct Registered {
    pub service: Arc<dyn Service>,
    /// On the event-loop thread rather than a worker; see
    /// [`RpcProvider::register_inline`].
    pub inline: bool,
}

/// Collects services, then serves them with [`start`](RpcProvider::start).
pub struct RpcProvider {
    config: ProviderConfig,
    services: Services,
}

impl RpcProvider {
    pub fn new(config: ProviderConfig) -> Self {
        Self {
            config,
            services: HashMap::new(),
        }
    }

    /// Adds `service`, answering calls to `service.name()`. A second service
    /// with the same name replaces the first.
    pub fn register(&mut self, service: Arc<dyn Service>) -> &mut Self {
        self.add(service, false)
    }

    /// Adds `service` with its handlers run on the event-loop thread, as
    /// each request is decoded: no handoff to a worker and back, and a batch
    /// of calls read together is answered with one write. For handlers that
    /// only decode, look something up or hand the call on (the KV server
    /// proposes to Raft and keeps `done` for the apply thread to complete).
    ///
    /// The contract: **an inline handler must never block** (no disk, no
    /// lock held by a slow thread, no waiting for another call): while it
    /// runs, every connection of this provider stalls. A panic is still
    /// caught and answered with HANDLER_FAILED. Handlers that may block, such
    /// as Raft's (they persist before answering), belong on the workers:
    /// [`register`](Self::register) them.
    pub fn register_inline(&mut self, service: Arc<dyn Service>) -> &mut Self {
        self.add(service, true)
    }

    fn add(&mut self, service: Arc<dyn Service>, inline: bool) -> &mut Self {
        let name = service.name().as_bytes().to_vec();
        if self
            .services
            .insert(name, Registered { service, inline })
            .is_some()
        {
            tracing::warn!("an rpc service was registered twice; the last one wins");
        }
        self
    }

    /// Binds `addr` (port 0 picks a free one), then serves on an event-loop
    /// thread and `config.workers` worker threads until the handle is shut
    /// down or dropped.
    pub fn start(self, addr: SocketAddr) -> io::Result<ProviderHandle> {
        self.config
            .validate()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let listener = TcpListener::bind(addr).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot bind rpc provider to {addr}: {e}"))
        })?;
        let local_addr = listener.local_addr()?;
        let poll = Poll::new()?;
        let waker = Waker::new(poll.registry(), WAKER)?;
        let (notices_tx, notices_rx) = crossbeam_channel::unbounded();
        let shared = Arc::new(Shared::new(waker, notices_tx));
        // Unbounded on purpose: the per-connection in-flight cap times the
        // connection cap bounds it, and the loop must never block on it.
        let jobs = Arc::new(JobQueue::new(self.config.workers, self.config.spin));
        let (exited_tx, exited_rx) = crossbeam_channel::bounded(0);
        let workers =
            worker::spawn_workers(self.config.workers, jobs.clone(), shared.clone(), exited_tx)?;
        let event_loop = EventLoop::new(
            poll,
            listener,
            self.config.clone(),
            Arc::new(self.services),
            jobs,
            notices_rx,
            shared.clone(),
        )?;
        let loop_thread = std::thread::Builder::new()
            .name(format!("rpc-loop-{local_addr}"))
            .spawn(move || event_loop.run())?;
        tracing::debug!(%local_addr, "rpc provider listening");
        Ok(ProviderHandle {
            local_addr,
            shared,
            loop_thread: Some(loop_thread),
            workers,
            workers_exited: exited_rx,
            grace: self.config.shutdown_grace,
        })
    }
}

/// A running provider. Dropping it shuts it down, like [`shutdown`](Self::shutdown).
pub struct ProviderHandle {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    loop_thread: Option<JoinHandle<()>>,
    workers: Vec<JoinHandle<()>>,
    workers_exited: crossbeam_channel::Receiver<()>,
    grace: Duration,
}

impl ProviderHandle {
    /// The address actually bound (the real port when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, answers calls already running (waiting up to the
    /// configured grace) and queued calls with SHUTTING_DOWN, closes every
    /// connection and joins the threads.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let Some(loop_thread) = self.loop_thread.take() else {
            return;
        };
        self.shared.begin_shutdown();
        if loop_thread.join().is_err() {
            tracing::error!(addr = %self.local_addr, "rpc event loop panicked");
        }
        // The loop dropped the job queue on exit, so idle workers stop now; a
        // handler stuck past the grace is left behind rather than hanging us.
        let all_exited = matches!(
            self.workers_exited.recv_timeout(self.grace),
            Err(crossbeam_channel::RecvTimeoutError::Disconnected)
        );
        if all_exited {
            for worker in self.workers.drain(..) {
                let _ = worker.join();
            }
        } else {
            tracing::warn!(addr = %self.local_addr, "rpc handlers still running after the shutdown grace; detaching them");
        }
        tracing::debug!(addr = %self.local_addr, "rpc provider stopped");
    }
}

impl Drop for ProviderHandle {
    fn drop(&mut self) {
        self.stop();
    }
}
