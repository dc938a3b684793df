//! The one error type a caller of an [`RpcChannel`](crate::RpcChannel) sees.

use crate::RpcStatus;

/// Why a call did not produce a reply. Never a panic: every failure of the
/// network, the peer or the bytes on the wire ends up as one of these.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// The TCP connection to the peer could not be established.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    /// No reply arrived before the call's deadline.
    #[error("call timed out")]
    Timeout,
    /// The connection closed (or broke) before the reply arrived.
    #[error("connection closed: {0}")]
    Closed(String),
    /// The peer answered with a non-OK status.
    #[error("remote error {status:?}: {message}")]
    Remote { status: RpcStatus, message: String },
    /// The reply's bytes could not be decoded.
    #[error("cannot decode reply: {0}")]
    Decode(String),
}
