//! `RpcChannel`: the blocking client side (the original's MprpcChannel).
//! SKELETON: the public signatures are fixed; the implementation is pending.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::RpcError;

/// A connection to one peer, shared by every thread that calls it.
#[derive(Clone)]
pub struct RpcChannel {
    addr: Arc<SocketAddr>,
}

impl RpcChannel {
    /// A channel to `addr`. Connects lazily, on the first call.
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr: Arc::new(addr),
        }
    }

    /// The peer this channel talks to.
    pub fn addr(&self) -> SocketAddr {
        *self.addr
    }

    /// Calls `service.method` with encoded `args`; returns the encoded reply.
    pub fn call(
        &self,
        service: &str,
        method: &str,
        args: &[u8],
        timeout: Duration,
    ) -> Result<Vec<u8>, RpcError> {
        let _ = (service, method, args, timeout);
        unimplemented!("RpcChannel::call")
    }

    /// Calls `service.method` with a protobuf message and decodes the reply.
    pub fn call_message<A: prost::Message, R: prost::Message + Default>(
        &self,
        service: &str,
        method: &str,
        args: &A,
        timeout: Duration,
    ) -> Result<R, RpcError> {
        let body = self.call(service, method, &args.encode_to_vec(), timeout)?;
        R::decode(body.as_slice()).map_err(|e| RpcError::Decode(e.to_string()))
    }
}
