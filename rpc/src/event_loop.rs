//! The provider's mio event loop: accepts, reads and decodes requests, hands
//! them to workers, and writes the answers the workers send back.
//!
//! One thread owns every socket. It sleeps in `poll` until a socket is ready
//! or a worker wakes it through the [`WAKER`] token with answers to write.

use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use mio::event::Event;
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};

use crate::connection::{Broken, Connection, Limits};
use crate::frame::RequestFrame;
use crate::provider::Services;
use crate::worker::{Completion, Job, JobQueue, Shared};
use crate::{Outcome, ProviderConfig, RpcStatus};

/// The listening socket.
pub(crate) const LISTENER: Token = Token(0);
/// Workers' answers are waiting in the completion queue.
pub(crate) const WAKER: Token = Token(1);
/// Connections get tokens from here up, never reused, so an answer for a
/// closed connection can never reach a newer one.
const FIRST_CONNECTION: usize = 2;

/// How often a draining loop checks whether it is done.
const DRAIN_TICK: Duration = Duration::from_millis(10);

pub(crate) struct EventLoop {
    poll: Poll,
    listener: Option<TcpListener>,
    config: ProviderConfig,
    limits: Limits,
    services: Arc<Services>,
    connections: HashMap<Token, Connection>,
    next_token: usize,
    jobs: Arc<JobQueue>,
    /// Requests of the current read bound for workers, pushed at once.
    batch: Vec<Job>,
    completions: Receiver<Completion>,
    shared: Arc<Shared>,
    /// Connections with answers queued since the last flush.
    dirty: Vec<Token>,
    dirty_spare: Vec<Token>,
    /// Scratch space for one read's worth of requests.
    requests: Vec<RequestFrame>,
    next_idle_sweep: Instant,
    /// Set once shutdown began: the grace deadline.
    draining_until: Option<Instant>,
}

impl EventLoop {
    pub fn new(
        poll: Poll,
        mut listener: TcpListener,
        config: ProviderConfig,
        services: Arc<Services>,
        jobs: Arc<JobQueue>,
        completions: Receiver<Completion>,
        shared: Arc<Shared>,
    ) -> io::Result<Self> {
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let limits = Limits {
            max_frame_bytes: config.max_frame_bytes,
            max_in_flight: config.max_in_flight_per_connection,
            max_unsent_bytes: config.max_unsent_bytes_per_connection,
        };
        Ok(Self {
            poll,
            listener: Some(listener),
            next_idle_sweep: Instant::now() + sweep_interval(config.idle_timeout),
            config,
            limits,
            services,
            connections: HashMap::new(),
            next_token: FIRST_CONNECTION,
            jobs,
            batch: Vec::new(),
            completions,
            shared,
            dirty: Vec::new(),
            dirty_spare: Vec::new(),
            requests: Vec::new(),
            draining_until: None,
        })
    }

    pub fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        loop {
            if let Err(e) = self.poll.poll(&mut events, Some(self.poll_timeout())) {
                if e.kind() != io::ErrorKind::Interrupted {
                    tracing::error!("rpc event loop cannot poll: {e}");
                    break;
                }
            }
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept(),
                    WAKER => {}
                    token => self.connection_event(token, event),
                }
            }
            self.drain_completions();
            self.flush_dirty();
            self.sweep_idle();
            if self.shared.is_shutting_down() && self.draining_until.is_none() {
                self.begin_draining();
            }
            if self.drained() {
                break;
            }
        }
        // Closing the queue lets the workers finish; dropping the
        // connections closes them.
        self.jobs.close();
        self.connections.clear();
    }

    fn poll_timeout(&self) -> Duration {
        if self.draining_until.is_some() {
            DRAIN_TICK
        } else {
            self.next_idle_sweep
                .saturating_duration_since(Instant::now())
        }
    }

    /// Accepts until the listener would block.
    fn accept(&mut self) {
        loop {
            let Some(listener) = self.listener.as_ref() else {
                return;
            };
            let (mut stream, peer) = match listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Out of descriptors and the like: try again on the next event.
                    tracing::warn!("rpc provider cannot accept: {e}");
                    return;
                }
            };
            if self.connections.len() >= self.config.max_connections {
                tracing::warn!(%peer, max = self.config.max_connections, "connection cap reached; closing new connection");
                continue;
            }
            let token = Token(self.next_token);
            self.next_token += 1;
            if let Err(e) = stream.set_nodelay(true) {
                tracing::debug!(%peer, "cannot set TCP_NODELAY: {e}");
            }
            // Edge-triggered, both directions at once: a writable edge costs
            // nothing when there is nothing to write, and saves a
            // reregister syscall each time answers pile up.
            let interest = Interest::READABLE | Interest::WRITABLE;
            if let Err(e) = self.poll.registry().register(&mut stream, token, interest) {
                tracing::warn!(%peer, "cannot register connection: {e}");
                continue;
            }
            tracing::debug!(%peer, "rpc connection accepted");
            self.connections
                .insert(token, Connection::new(stream, peer));
        }
    }

    fn connection_event(&mut self, token: Token, event: &Event) {
        if event.is_readable() || event.is_read_closed() || event.is_error() {
            self.read(token);
        }
        if event.is_writable() {
            self.flush(token);
        }
    }

    /// Reads what the connection has and dispatches every complete request.
    fn read(&mut self, token: Token) {
        let Some(conn) = self.connections.get_mut(&token) else {
            return;
        };
        let mut requests = std::mem::take(&mut self.requests);
        let result = conn.read_requests(&self.limits, &mut requests);
        for request in requests.drain(..) {
            self.dispatch(token, request);
        }
        self.requests = requests;
        if !self.batch.is_empty() {
            self.jobs.push_all(self.batch.drain(..));
        }
        match result {
            Ok(()) => self.close_if_finished(token),
            Err(broken) => self.close_broken(token, broken),
        }
    }

    /// Sends a request to a worker, or answers it at once when there is no
    /// one to handle it.
    fn dispatch(&mut self, token: Token, request: RequestFrame) {
        let RequestFrame { header, args } = request;
        let call_id = header.call_id;
        let immediate: Option<Outcome> = if self.draining_until.is_some() {
            Some(Err((
                RpcStatus::ShuttingDown,
                "the server is shutting down".into(),
            )))
        } else if let Some(service) = self.services.get(&header.service_name) {
            self.batch.push(Job {
                conn: token,
                call_id,
                service: service.clone(),
                method: header.method_name,
                args,
            });
            None
        } else {
            let name = String::from_utf8_lossy(&header.service_name).into_owned();
            Some(Err((
                RpcStatus::UnknownService,
                format!("unknown service {name:?}"),
            )))
        };
        let Some(conn) = self.connections.get_mut(&token) else {
            return;
        };
        match immediate {
            None => conn.in_flight += 1,
            Some(outcome) => {
                conn.queue_response(call_id, &outcome);
                mark_dirty(&mut self.dirty, conn, token);
            }
        }
    }

    /// Moves the workers' answers into their connections' write buffers.
    fn drain_completions(&mut self) {
        // Clear before draining: an answer queued after this point either is
        // seen below or wakes the loop again.
        self.shared.clear_wake();
        while let Ok(Completion {
            conn: token,
            call_id,
            outcome,
        }) = self.completions.try_recv()
        {
            // The connection may be gone: the answer is then dropped.
            if let Some(conn) = self.connections.get_mut(&token) {
                conn.in_flight -= 1;
                conn.queue_response(call_id, &outcome);
                mark_dirty(&mut self.dirty, conn, token);
            }
        }
    }

    /// Writes every connection with new answers: one syscall for all the
    /// answers that piled up since the last one.
    fn flush_dirty(&mut self) {
        // Flushing may resume reading, which may queue more answers: loop.
        let mut batch = std::mem::take(&mut self.dirty_spare);
        while !self.dirty.is_empty() {
            std::mem::swap(&mut batch, &mut self.dirty);
            for token in batch.drain(..) {
                if let Some(conn) = self.connections.get_mut(&token) {
                    conn.dirty = false;
                }
                self.flush(token);
            }
        }
        self.dirty_spare = batch;
    }

    fn flush(&mut self, token: Token) {
        let Some(conn) = self.connections.get_mut(&token) else {
            return;
        };
        if let Err(broken) = conn.flush() {
            self.close_broken(token, broken);
            return;
        }
        if conn.should_resume(&self.limits) {
            self.read(token);
        } else {
            self.close_if_finished(token);
        }
    }

    fn close_if_finished(&mut self, token: Token) {
        if self
            .connections
            .get(&token)
            .is_some_and(|c| c.is_finished())
        {
            self.close(token);
        }
    }

    fn close_broken(&mut self, token: Token, broken: Broken) {
        if let Some(conn) = self.connections.get(&token) {
            match broken {
                Broken::Io(ref e) if is_disconnect(e) => {
                    tracing::debug!(peer = %conn.peer, "rpc peer went away: {e}")
                }
                _ => tracing::warn!(peer = %conn.peer, "closing rpc connection: {broken}"),
            }
        }
        self.close(token);
    }

    fn close(&mut self, token: Token) {
        if let Some(mut conn) = self.connections.remove(&token) {
            let _ = self.poll.registry().deregister(conn.stream_mut());
            tracing::debug!(peer = %conn.peer, "rpc connection closed");
        }
    }

    fn sweep_idle(&mut self) {
        let now = Instant::now();
        if now < self.next_idle_sweep {
            return;
        }
        self.next_idle_sweep = now + sweep_interval(self.config.idle_timeout);
        let idle_timeout = self.config.idle_timeout;
        let idle: Vec<Token> = self
            .connections
            .iter()
            .filter(|(_, conn)| conn.is_idle(now, idle_timeout))
            .map(|(&token, _)| token)
            .collect();
        for token in idle {
            // A request may have just arrived unnoticed (the loop was late):
            // read first, so a call racing the sweep is served, not cut off.
            self.read(token);
            let Some(conn) = self.connections.get(&token) else {
                continue;
            };
            if conn.is_idle(Instant::now(), idle_timeout) {
                tracing::debug!(peer = %conn.peer, "closing idle rpc connection");
                self.close(token);
            }
        }
    }

    fn begin_draining(&mut self) {
        if let Some(mut listener) = self.listener.take() {
            let _ = self.poll.registry().deregister(&mut listener);
        }
        self.draining_until = Some(Instant::now() + self.config.shutdown_grace);
    }

    /// Shutdown began and every call is answered, or the grace is over.
    fn drained(&self) -> bool {
        match self.draining_until {
            None => false,
            Some(deadline) => {
                Instant::now() >= deadline || self.connections.values().all(Connection::is_drained)
            }
        }
    }
}

fn mark_dirty(dirty: &mut Vec<Token>, conn: &mut Connection, token: Token) {
    if !conn.dirty {
        conn.dirty = true;
        dirty.push(token);
    }
}

fn is_disconnect(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionAborted
    )
}

/// Idle connections are looked for a few times per timeout, at most once a
/// second: closing one a little late is harmless.
fn sweep_interval(idle_timeout: Duration) -> Duration {
    (idle_timeout / 4).clamp(Duration::from_millis(5), Duration::from_secs(1))
}
