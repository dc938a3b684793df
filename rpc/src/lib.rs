//! A small RPC framework in the style of the original's mprpc (`src/rpc`).
//!
//! SKELETON: the public types are fixed; the provider and channel are pending.

mod channel;
mod error;
mod header;
mod responder;
mod service;

pub use channel::RpcChannel;
pub use error::RpcError;
pub use header::{RpcHeader, RpcResponseHeader, RpcStatus};
pub use responder::{Done, Outcome, Responder};
pub use service::Service;
