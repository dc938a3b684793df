//! The provider's mio event loop: accepts, reads and decodes requests, runs
//! them inline or hands them to workers, and writes the answers that could
//! not be written where they were completed.
//!
//! One thread owns every listening and reading concern. It sleeps in `poll`
//! until a socket is ready or a notice (through the [`WAKER`] token) asks it
//! to look at a connection: to write what is queued, to resume reading a
//! paused peer, or to close.

use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::os::fd::AsRawFd;

use crossbeam_channel::Receiver;
use mio::event::Event;
use mio::net::TcpListener;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

use crate::connection::{Broken, Connection, Limits};
use crate::frame::RequestFrame;
use crate::outbox::Outbox;
use crate::provider::Services;
use crate::spin::Spinner;
use crate::worker::{self, Job, JobQueue, Shared};
use crate::{Outcome, ProviderConfig, RpcStatus};

/// The listening socket.
pub(crate) const LISTENER: Token = Token(0);
/// Notices are waiting.
pub(crate) const WAKER: Token = Token(1);
/// Connections get tokens from here up, never reused, so a notice for a
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
    notices: Receiver<Token>,
    shared: Arc<Shared>,
    /// Scratch space for one read's worth of requests.
    requests: Vec<RequestFrame>,
    next_idle_sweep: Instant,
    /// Set once shutdown began: the grace deadline.
    draining_until: Option<Instant>,
    /// How the loop polls before it sleeps.
    spinner: Spinner,
    /// Requests read since the loop last waited.
    read_this_turn: usize,
    /// The last turn that read requests read just one.
    lone_caller: bool,
}

impl EventLoop {
    pub fn new(
        poll: Poll,
        mut listener: TcpListener,
        config: ProviderConfig,
        services: Arc<Services>,
        jobs: Arc<JobQueue>,
        notices: Receiver<Token>,
        shared: Arc<Shared>,
    ) -> io::Result<Self> {
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let limits = Limits {
            max_frame_bytes: config.max_frame_bytes,
            max_in_flight: config.max_in_flight_per_connection,
            max_unsent_bytes: config.max_unsent_bytes_per_connection,
        };
        let spinner = Spinner::new(config.spin);
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
            notices,
            shared,
            requests: Vec::new(),
            draining_until: None,
            spinner,
            read_this_turn: 0,
            lone_caller: false,
        })
    }

    pub fn run(mut self) {
        self.shared.enter_loop();
        let mut events = Events::with_capacity(1024);
        loop {
            if let Err(e) = self.wait_for_events(&mut events) {
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
            self.attend_noticed();
            self.sweep_idle();
            if self.shared.is_shutting_down() && self.draining_until.is_none() {
                self.begin_draining();
            }
            if self.drained() {
                break;
            }
        }
        // Closing the queue lets the workers finish.
        self.jobs.close();
        let tokens: Vec<Token> = self.connections.keys().copied().collect();
        for token in tokens {
            self.close(token);
        }
    }

    /// Waits for readiness or a notice. While the last turn that read
    /// requests read a single one, first polls briefly without sleeping: a
    /// lone caller's next request is usually on its way, and its wake-up is
    /// what the poll saves (see the `spin` module). When turns read several,
    /// the callers are many and the cores busy, and polling would only take
    /// CPU from them.
    fn wait_for_events(&mut self, events: &mut Events) -> io::Result<()> {
        let timeout = self.poll_timeout();
        match std::mem::take(&mut self.read_this_turn) {
            0 => {}
            1 => self.lone_caller = true,
            _ => self.lone_caller = false,
        }
        if self.lone_caller && !timeout.is_zero() {
            let poll = &mut self.poll;
            let polled = self
                .spinner
                .poll(|| match poll.poll(events, Some(Duration::ZERO)) {
                    Ok(()) if events.is_empty() => None,
                    done => Some(done),
                });
            if let Some(done) = polled {
                return done;
            }
        }
        self.poll.poll(events, Some(timeout))
    }

    fn poll_timeout(&self) -> Duration {
        // Answers completed on this thread after the notices were drained
        // (an inline call read by the idle sweep) must not wait for an event.
        if !self.notices.is_empty() {
            Duration::ZERO
        } else if self.draining_until.is_some() {
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
            let (stream, peer) = match listener.accept() {
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
            // reregister syscall each time answers pile up. Registered by
            // descriptor: the stream itself lives in the shared outbox.
            let interest = Interest::READABLE | Interest::WRITABLE;
            let fd = stream.as_raw_fd();
            if let Err(e) = self
                .poll
                .registry()
                .register(&mut SourceFd(&fd), token, interest)
            {
                tracing::warn!(%peer, "cannot register connection: {e}");
                continue;
            }
            tracing::debug!(%peer, "rpc connection accepted");
            let outbox = Arc::new(Outbox::new(token, stream, self.shared.clone()));
            self.connections
                .insert(token, Connection::new(outbox, peer));
        }
    }

    fn connection_event(&mut self, token: Token, event: &Event) {
        let closed = event.is_read_closed() || event.is_error();
        if event.is_readable() || closed {
            // Without EOF in the event, a short read means the socket is
            // empty; with it, read on until the EOF itself is seen.
            self.read(token, closed);
        }
        if event.is_writable() {
            self.attend(token);
        }
    }

    /// Reads what the connection has and dispatches every complete request.
    /// `to_the_end`: read until the socket says "would block" or EOF, not
    /// just until a short read.
    fn read(&mut self, token: Token, to_the_end: bool) {
        let Some(conn) = self.connections.get_mut(&token) else {
            return;
        };
        let mut requests = std::mem::take(&mut self.requests);
        let result = conn.read_requests(&self.limits, &mut requests, to_the_end);
        self.read_this_turn += requests.len();
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

    /// Runs a request inline, sends it to a worker, or answers it at once
    /// when there is no one to handle it. Answers completed here are queued
    /// in the outbox and flushed together after the read.
    fn dispatch(&mut self, token: Token, request: RequestFrame) {
        let Some(conn) = self.connections.get(&token) else {
            return;
        };
        let outbox = conn.outbox.clone();
        let RequestFrame { header, args } = request;
        let call_id = header.call_id;
        let registered = self.services.get(&header.service_name);
        let refusal: Outcome = match registered {
            _ if self.draining_until.is_some() => Err((
                RpcStatus::ShuttingDown,
                "the server is shutting down".into(),
            )),
            Some(registered) if registered.inline => {
                outbox.dispatched(false);
                let done = worker::responder(outbox, call_id);
                worker::call_guarded(&*registered.service, &header.method_name, &args, done);
                return;
            }
            Some(registered) => {
                outbox.dispatched(true);
                self.batch.push(Job {
                    outbox,
                    call_id,
                    service: registered.service.clone(),
                    method: header.method_name,
                    args,
                });
                return;
            }
            None => {
                let name = String::from_utf8_lossy(&header.service_name).into_owned();
                Err((
                    RpcStatus::UnknownService,
                    format!("unknown service {name:?}"),
                ))
            }
        };
        outbox.dispatched(false);
        outbox.complete(call_id, &refusal);
    }

    /// Looks at every connection a notice named since the last turn.
    fn attend_noticed(&mut self) {
        // Clear before draining: a notice sent after this point either is
        // seen below or wakes the loop again.
        self.shared.clear_wake();
        while let Ok(token) = self.notices.try_recv() {
            // The connection may be gone: the notice is then moot.
            self.attend(token);
        }
    }

    /// Writes what is queued, then resumes reading a paused peer now under
    /// its limits, or closes a connection that failed or is finished.
    fn attend(&mut self, token: Token) {
        let Some(conn) = self.connections.get(&token) else {
            return;
        };
        if let Err(e) = conn.outbox.flush() {
            self.close_broken(token, Broken::Io(e));
            return;
        }
        if conn.outbox.should_resume(&self.limits) {
            self.read(token, true);
        } else {
            self.close_if_finished(token);
        }
    }

    fn close_if_finished(&mut self, token: Token) {
        if self
            .connections
            .get(&token)
            .is_some_and(|c| c.outbox.is_finished())
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
        if let Some(conn) = self.connections.remove(&token) {
            let fd = conn.outbox.stream().as_raw_fd();
            let _ = self.poll.registry().deregister(&mut SourceFd(&fd));
            conn.outbox.close();
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
            .filter(|(_, conn)| conn.outbox.is_idle(now, idle_timeout))
            .map(|(&token, _)| token)
            .collect();
        for token in idle {
            // A request may have just arrived unnoticed (the loop was late):
            // read first, so a call racing the sweep is served, not cut off.
            self.read(token, true);
            let Some(conn) = self.connections.get(&token) else {
                continue;
            };
            if conn.outbox.is_idle(Instant::now(), idle_timeout) {
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
                Instant::now() >= deadline
                    || self.connections.values().all(|c| c.outbox.is_drained())
            }
        }
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
