//! A simulated server: the services one node offers, and a count of the
//! calls it received.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rpc::{Responder, RpcStatus, Service};

/// A bundle of services under one network name (6.5840's `labrpc.Server`).
#[derive(Default)]
pub struct Server {
    services: HashMap<String, Arc<dyn Service>>,
    rpc_count: AtomicU64,
}

impl Server {
    pub fn new() -> Self {
        Self::default()
    }

    /// Offers `service` under its wire name (`Service::name`).
    pub fn add_service(&mut self, service: Arc<dyn Service>) {
        self.services.insert(service.name().to_string(), service);
    }

    /// Calls this server has received.
    pub fn rpc_count(&self) -> u64 {
        self.rpc_count.load(Ordering::Relaxed)
    }

    /// Hands one call to its service; an unknown service answers through
    /// `done` like the real provider does.
    pub(super) fn dispatch(&self, service: &str, method: &str, args: &[u8], done: Responder) {
        self.rpc_count.fetch_add(1, Ordering::Relaxed);
        match self.services.get(service) {
            Some(service) => service.call(method.as_bytes(), args, done),
            None => done.fail(
                RpcStatus::UnknownService,
                format!("no service {service:?} here"),
            ),
        }
    }
}
