//! The simulated network: who is connected to whom, the fault knobs, the
//! counters. Calls themselves travel in `end.rs`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::{ClientEnd, HeldCall, Server};

/// A network of named client ends and named servers (6.5840's `labrpc.Network`).
///
/// An end is one caller's line to one server. It carries calls only while
/// enabled and bound to a server that exists; otherwise a call fails after a
/// random wait, as a real RPC would time out. A cheap handle: clones share
/// the same network.
#[derive(Clone)]
pub struct Network {
    pub(super) shared: Arc<Shared>,
}

pub(super) struct Shared {
    pub(super) state: Mutex<State>,
    /// Signalled whenever an end is enabled, disabled or deleted, so calls
    /// sleeping on that end's behalf give up at once instead of finishing
    /// their delay: a dead node's threads are not held up by simulated
    /// latency, and a reconnected node does not wait out a 7 s timeout.
    pub(super) changed: Condvar,
    pub(super) rpc_total: AtomicU64,
    pub(super) bytes_total: AtomicU64,
}

pub(super) struct State {
    pub(super) reliable: bool,
    pub(super) long_delays: bool,
    pub(super) long_reordering: bool,
    pub(super) max_message_bytes: usize,
    pub(super) ends: HashMap<String, EndState>,
    pub(super) servers: HashMap<String, Arc<Server>>,
}

#[derive(Default)]
pub(super) struct EndState {
    pub(super) server: Option<String>,
    pub(super) enabled: bool,
    /// Bumped when the end is enabled or disabled: a wait that sees it
    /// move was cut short.
    pub(super) epoch: u64,
    /// The next request that finds a route is held instead of delivered.
    pub(super) hold_next: bool,
    pub(super) held: Option<HeldCall>,
}

/// Where one call may go, read under the lock at one instant.
pub(super) struct Route {
    pub(super) server_name: String,
    pub(super) server: Arc<Server>,
    pub(super) reliable: bool,
    pub(super) long_reordering: bool,
}

/// The faults in force for a call that found no route.
pub(super) struct NoRoute {
    pub(super) long_delays: bool,
    pub(super) epoch: u64,
}

impl Default for Network {
    fn default() -> Self {
        Self::new()
    }
}

impl Network {
    /// A reliable network with no ends and no servers.
    pub fn new() -> Self {
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    reliable: true,
                    long_delays: false,
                    long_reordering: false,
                    max_message_bytes: usize::MAX,
                    ends: HashMap::new(),
                    servers: HashMap::new(),
                }),
                changed: Condvar::new(),
                rpc_total: AtomicU64::new(0),
                bytes_total: AtomicU64::new(0),
            }),
        }
    }

    /// Unreliable: each request waits 0–26 ms, 10% of requests and 10% of
    /// replies are lost (a lost reply means the handler ran).
    pub fn set_reliable(&self, reliable: bool) {
        self.shared.state.lock().reliable = reliable;
    }

    /// About two thirds of replies arrive 200–2200 ms late, so replies to
    /// older calls overtake newer ones.
    pub fn set_long_reordering(&self, on: bool) {
        self.shared.state.lock().long_reordering = on;
    }

    /// A call that finds no server fails after up to 7 s instead of 100 ms:
    /// catches callers that wait for one peer before calling the next.
    pub fn set_long_delays(&self, on: bool) {
        self.shared.state.lock().long_delays = on;
    }

    /// Requests larger than `bytes` fail without reaching their server, as
    /// a real RPC channel refuses a frame over its limit.
    pub fn set_max_message_bytes(&self, bytes: usize) {
        self.shared.state.lock().max_message_bytes = bytes;
    }

    pub(super) fn max_message_bytes(&self) -> usize {
        self.shared.state.lock().max_message_bytes
    }

    /// Creates a disabled end named `name`, bound to no server yet.
    pub fn make_end(&self, name: &str) -> ClientEnd {
        self.shared
            .state
            .lock()
            .ends
            .insert(name.to_string(), EndState::default());
        ClientEnd::new(name.to_string(), self.clone())
    }

    /// Binds end `end` to the server called `server` (which may come later).
    pub fn connect(&self, end: &str, server: &str) {
        if let Some(state) = self.shared.state.lock().ends.get_mut(end) {
            state.server = Some(server.to_string());
        }
    }

    /// Lets calls through `end` (true) or fails them (false).
    pub fn enable(&self, end: &str, enabled: bool) {
        let mut state = self.shared.state.lock();
        let mut changed = false;
        if let Some(end_state) = state.ends.get_mut(end) {
            changed = end_state.enabled != enabled;
            if changed {
                end_state.epoch += 1;
            }
            end_state.enabled = enabled;
        }
        drop(state);
        if changed {
            self.shared.changed.notify_all();
        }
    }

    /// Holds back the next request through `end` that finds a route: it
    /// does not reach the server now, its caller sees it lost, and a copy
    /// waits for [`take_held`](Self::take_held), to be delivered late.
    pub fn hold_next(&self, end: &str) {
        if let Some(end_state) = self.shared.state.lock().ends.get_mut(end) {
            end_state.hold_next = true;
        }
    }

    /// The request held on `end`, if one was; a hold not used yet is
    /// cancelled.
    pub fn take_held(&self, end: &str) -> Option<HeldCall> {
        let mut state = self.shared.state.lock();
        let end_state = state.ends.get_mut(end)?;
        end_state.hold_next = false;
        end_state.held.take()
    }

    /// Keeps this request if a hold is set on `end`: true if it was held.
    pub(super) fn hold(&self, end: &str, service: &str, method: &str, args: &[u8]) -> bool {
        let mut state = self.shared.state.lock();
        let Some(end_state) = state.ends.get_mut(end).filter(|e| e.hold_next) else {
            return false;
        };
        end_state.hold_next = false;
        end_state.held = Some(HeldCall {
            service: service.to_string(),
            method: method.to_string(),
            args: args.to_vec(),
        });
        true
    }

    /// Forgets an end for good: calls through it fail from now on.
    pub fn delete_end(&self, end: &str) {
        self.shared.state.lock().ends.remove(end);
        self.shared.changed.notify_all();
    }

    /// Registers `server` under `name`, replacing any earlier one.
    pub fn add_server(&self, name: &str, server: Server) {
        self.shared
            .state
            .lock()
            .servers
            .insert(name.to_string(), Arc::new(server));
    }

    /// Removes the server: calls in progress to it fail and their replies,
    /// even from handlers that already ran, are never delivered.
    pub fn delete_server(&self, name: &str) {
        self.shared.state.lock().servers.remove(name);
        self.shared.changed.notify_all();
    }

    /// Calls attempted through any end since the network was made.
    pub fn rpc_total(&self) -> u64 {
        self.shared.rpc_total.load(Ordering::Relaxed)
    }

    /// Bytes of requests sent and of replies delivered.
    pub fn bytes_total(&self) -> u64 {
        self.shared.bytes_total.load(Ordering::Relaxed)
    }

    /// Calls the server now registered as `name` has received (0 if none).
    pub fn server_rpc_count(&self, name: &str) -> u64 {
        self.shared
            .state
            .lock()
            .servers
            .get(name)
            .map_or(0, |server| server.rpc_count())
    }

    pub(super) fn route(&self, end: &str) -> Result<Route, NoRoute> {
        let state = self.shared.state.lock();
        let no_route = |epoch| NoRoute {
            long_delays: state.long_delays,
            epoch,
        };
        let Some(end_state) = state.ends.get(end) else {
            return Err(no_route(0));
        };
        if !end_state.enabled {
            return Err(no_route(end_state.epoch));
        }
        let Some(server_name) = &end_state.server else {
            return Err(no_route(end_state.epoch));
        };
        let Some(server) = state.servers.get(server_name) else {
            return Err(no_route(end_state.epoch));
        };
        Ok(Route {
            server_name: server_name.clone(),
            server: Arc::clone(server),
            reliable: state.reliable,
            long_reordering: state.long_reordering,
        })
    }

    /// 6.5840's `isServerDead`: the end was disabled, or the server it
    /// reached was deleted or replaced by a restarted one.
    pub(super) fn server_dead(&self, end: &str, route: &Route) -> bool {
        let state = self.shared.state.lock();
        // As labrpc's isServerDead: the end must be enabled now, whatever
        // happened to it meanwhile, and lead to the same server incarnation.
        let end_alive = state.ends.get(end).is_some_and(|e| e.enabled);
        let same_server = state
            .servers
            .get(&route.server_name)
            .is_some_and(|s| Arc::ptr_eq(s, &route.server));
        !(end_alive && same_server)
    }

    /// Sleeps for `delay` on behalf of a call through `end`. Returns false
    /// early if the end is enabled, disabled or deleted meanwhile (its epoch
    /// moves): the call then fails at once.
    pub(super) fn pause(&self, end: &str, epoch: u64, delay: Duration) -> bool {
        let deadline = Instant::now() + delay;
        let mut state = self.shared.state.lock();
        loop {
            let cut = state.ends.get(end).is_none_or(|e| e.epoch != epoch);
            if cut {
                return false;
            }
            if self
                .shared
                .changed
                .wait_until(&mut state, deadline)
                .timed_out()
            {
                return true;
            }
        }
    }
}
