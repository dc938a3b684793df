//! What the provider dispatches to: a named service with byte-level methods.
//! The proto crate generates an implementation for every `service` in a
//! .proto file; hand-written services are possible too.

use crate::Responder;

/// A service the [`RpcProvider`](crate::RpcProvider) can serve (the original's
/// `google::protobuf::Service`).
pub trait Service: Send + Sync + 'static {
    /// The bare service name on the wire, e.g. `kvServerRpc`.
    fn name(&self) -> &str;

    /// Handles one call. `args` are the encoded arguments; the reply goes
    /// through `done`, now or later, from any thread. Runs on a worker, or
    /// on the event loop for a service registered with
    /// [`register_inline`](crate::RpcProvider::register_inline), where it
    /// must never block.
    fn call(&self, method: &[u8], args: &[u8], done: Responder);
}
