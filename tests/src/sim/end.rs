//! A client end: one caller's line to one server, and the path of a call
//! through the fault model (6.5840's `labrpc.ClientEnd.Call` and
//! `Network.processReq`).

use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::RecvTimeoutError;
use rand::Rng;
use rpc::{Outcome, Responder, RpcStatus};

use super::network::Route;
use super::Network;

/// How often a caller waiting on a handler checks whether its server died.
const DEAD_SERVER_POLL: Duration = Duration::from_millis(50);

/// The longest a caller waits for a handler that does not answer: a hung
/// handler then shows up as a failed call instead of a hung test.
const MAX_HANDLER_WAIT: Duration = Duration::from_secs(10);

/// Why a simulated call produced no reply.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CallError {
    /// The end is disabled, unbound, or its server is gone.
    #[error("no route to the server")]
    Unreachable,
    /// The unreliable network lost the request; the handler never ran.
    #[error("request lost")]
    RequestLost,
    /// The unreliable network lost the reply; the handler ran.
    #[error("reply lost")]
    ReplyLost,
    /// The server was deleted or the end disabled while the call was out.
    #[error("the server died during the call")]
    ServerDied,
    /// The handler did not answer within the harness's bound.
    #[error("the handler did not answer in time")]
    TimedOut,
    /// The request is over the network's message limit (as a real channel
    /// refuses a frame over its limit); the handler never ran.
    #[error("request of {0} bytes is over the message limit")]
    TooLarge(usize),
    /// The server answered with an RPC-level error (unknown method, ...).
    #[error("remote error {0:?}: {1}")]
    Remote(RpcStatus, String),
}

/// One caller's end of a line to one server. Cheap to clone.
#[derive(Clone)]
pub struct ClientEnd {
    name: String,
    net: Network,
}

impl ClientEnd {
    pub(super) fn new(name: String, net: Network) -> Self {
        Self { name, net }
    }

    /// The end's name on the network.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Calls `service.method` with encoded `args`; blocks until the reply or
    /// a simulated failure. The handler runs on its own thread, as a server
    /// would run it, so a slow handler cannot stall the network.
    pub fn call(&self, service: &str, method: &str, args: &[u8]) -> Result<Vec<u8>, CallError> {
        let shared = &self.net.shared;
        shared.rpc_total.fetch_add(1, Ordering::Relaxed);
        shared
            .bytes_total
            .fetch_add(args.len() as u64, Ordering::Relaxed);

        if args.len() > self.net.max_message_bytes() {
            return Err(CallError::TooLarge(args.len()));
        }
        let route = match self.net.route(&self.name) {
            Ok(route) => route,
            Err(no_route) => {
                // Simulate no reply and an eventual timeout; a long one lets
                // tests catch callers that wait on one peer before the next.
                let max_ms = if no_route.long_delays { 7000 } else { 100 };
                let wait = Duration::from_millis(rand::rng().random_range(0..max_ms));
                self.net.pause(&self.name, no_route.epoch, wait);
                return Err(CallError::Unreachable);
            }
        };

        if self.net.hold(&self.name, service, method, args) {
            return Err(CallError::RequestLost);
        }

        // As in labrpc, a call that found its route goes on even if the end
        // is disabled meanwhile: the request still arrives, and a delayed
        // reply still comes back late, after a reconnect. Only a server that
        // died keeps its reply.
        if !route.reliable {
            let delay = Duration::from_millis(rand::rng().random_range(0..27));
            std::thread::sleep(delay);
            if rand::rng().random_ratio(1, 10) {
                return Err(CallError::RequestLost);
            }
        }

        let outcome = self.dispatch(service, method, args, &route)?;

        // Replies from a server that died meanwhile are never delivered: the
        // caller must not learn of state the restarted server may not have.
        if self.net.server_dead(&self.name, &route) {
            return Err(CallError::ServerDied);
        }
        if !route.reliable && rand::rng().random_ratio(1, 10) {
            return Err(CallError::ReplyLost);
        }
        if route.long_reordering && rand::rng().random_range(0..900) < 600 {
            let extra = rand::rng().random_range(0..=2000u64);
            let delay = 200 + rand::rng().random_range(0..=extra);
            std::thread::sleep(Duration::from_millis(delay));
        }

        match outcome {
            Ok(reply) => {
                shared
                    .bytes_total
                    .fetch_add(reply.len() as u64, Ordering::Relaxed);
                Ok(reply)
            }
            Err((status, message)) => Err(CallError::Remote(status, message)),
        }
    }

    /// Runs the handler on a fresh thread and waits for its answer, giving up
    /// if the server dies meanwhile (6.5840 polls the same way).
    fn dispatch(
        &self,
        service: &str,
        method: &str,
        args: &[u8],
        route: &Route,
    ) -> Result<Outcome, CallError> {
        let (tx, rx) = crossbeam_channel::bounded::<Outcome>(1);
        let server = route.server.clone();
        let (service, method, args) = (service.to_string(), method.to_string(), args.to_vec());
        let spawned = thread::Builder::new()
            .name("sim-handler".to_string())
            .spawn(move || {
                let done = Responder::new(move |outcome| {
                    // The caller may have given up; then nobody listens.
                    let _ = tx.send(outcome);
                });
                server.dispatch(&service, &method, &args, done);
            });
        if spawned.is_err() {
            return Err(CallError::Unreachable);
        }
        let started = Instant::now();
        loop {
            match rx.recv_timeout(DEAD_SERVER_POLL) {
                Ok(outcome) => return Ok(outcome),
                Err(RecvTimeoutError::Disconnected) => return Err(CallError::ServerDied),
                Err(RecvTimeoutError::Timeout) => {
                    if self.net.server_dead(&self.name, route) {
                        return Err(CallError::ServerDied);
                    }
                    if started.elapsed() > MAX_HANDLER_WAIT {
                        return Err(CallError::TimedOut);
                    }
                }
            }
        }
    }
}
