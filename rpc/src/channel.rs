//! `RpcChannel`: the blocking client side (the original's MprpcChannel), one
//! multiplexed connection per peer shared by every thread that calls it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::link::{Failure, Link};
use crate::{ChannelConfig, RpcError};

/// A connection to one peer, shared by every thread that calls it. Cloning
/// is cheap and clones share the connection.
#[derive(Clone)]
pub struct RpcChannel {
    inner: Arc<Inner>,
}

struct Inner {
    addr: SocketAddr,
    config: ChannelConfig,
    /// The current connection, if any; replaced when found dead.
    link: Mutex<Option<Arc<Link>>>,
    next_call_id: AtomicU64,
}

impl RpcChannel {
    /// A channel to `addr` with the default config. Connects lazily, on the
    /// first call.
    pub fn new(addr: SocketAddr) -> Self {
        Self::with_config(addr, ChannelConfig::default())
    }

    /// A channel to `addr` with `config` (an invalid config falls back to
    /// the defaults, with a warning, rather than failing every call).
    pub fn with_config(addr: SocketAddr, config: ChannelConfig) -> Self {
        let config = match config.validate() {
            Ok(()) => config,
            Err(e) => {
                tracing::warn!(%addr, "{e}; using the default channel config");
                ChannelConfig::default()
            }
        };
        Self {
            inner: Arc::new(Inner {
                addr,
                config,
                link: Mutex::new(None),
                next_call_id: AtomicU64::new(1),
            }),
        }
    }

    /// The peer this channel talks to.
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// Calls `service.method` with encoded `args`; returns the encoded reply.
    /// Returns within `timeout` (plus scheduling noise) whatever the peer does.
    pub fn call(
        &self,
        service: &str,
        method: &str,
        args: &[u8],
        timeout: Duration,
    ) -> Result<Vec<u8>, RpcError> {
        let len = args.len().max(service.len() + method.len());
        if len > self.inner.config.max_frame_bytes {
            return Err(RpcError::TooLarge {
                len,
                max: self.inner.config.max_frame_bytes,
            });
        }
        let deadline = Instant::now() + timeout;
        let mut retried = false;
        loop {
            let link = self.inner.link(deadline)?;
            let call_id = self.inner.next_call_id.fetch_add(1, Ordering::Relaxed);
            match link.call(call_id, service, method, args, deadline) {
                Ok(body) => return Ok(body),
                Err(Failure::Rpc(e)) => return Err(e),
                // The request never left: a connection that went stale
                // while idle (the peer restarted). One fresh try.
                Err(Failure::NotSent(reason)) => {
                    if retried || Instant::now() >= deadline {
                        return Err(RpcError::Closed(reason));
                    }
                    retried = true;
                }
            }
        }
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

impl Inner {
    /// The live connection, connecting (again) if there is none.
    fn link(&self, deadline: Instant) -> Result<Arc<Link>, RpcError> {
        // Another caller may be connecting: wait for it, but not past our deadline.
        let mut current = self
            .link
            .try_lock_until(deadline)
            .ok_or(RpcError::Timeout)?;
        if let Some(link) = current.as_ref() {
            if !link.is_dead() {
                return Ok(link.clone());
            }
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(RpcError::Timeout);
        }
        let timeout = remaining.min(self.config.connect_timeout);
        let link = Link::open(self.addr, timeout, &self.config).map_err(|source| {
            if source.kind() == std::io::ErrorKind::TimedOut && timeout == remaining {
                RpcError::Timeout
            } else {
                RpcError::Connect {
                    addr: self.addr,
                    source,
                }
            }
        })?;
        *current = Some(link.clone());
        Ok(link)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // No call is running (each holds the channel), so nobody reads or
        // writes the socket: closing it is all there is to do.
        if let Some(link) = self.link.get_mut().take() {
            link.close();
        }
    }
}
