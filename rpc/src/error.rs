//! The errors of this crate: what a caller of an [`RpcChannel`](crate::RpcChannel)
//! sees, why a byte stream is not a valid frame, and why a config is refused.

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
    /// The request is over the frame limit; it was not sent, since the peer
    /// would close the connection every other caller shares.
    #[error("request of {len} bytes exceeds the frame limit of {max} bytes")]
    TooLarge { len: usize, max: usize },
}

/// Why bytes received on a connection cannot be a frame. The stream has lost
/// its framing, so the connection that carried them is closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The header length prefix is not a varint32 (too long or over 2^32).
    #[error("malformed varint32 header length")]
    BadVarint,
    /// The declared header length is over the limit.
    #[error("declared header length {len} exceeds the limit of {max} bytes")]
    HeaderTooLarge { len: usize, max: usize },
    /// The declared args/body size is over the limit.
    #[error("declared body size {len} exceeds the limit of {max} bytes")]
    BodyTooLarge { len: usize, max: usize },
    /// The header bytes are not a valid protobuf header.
    #[error("undecodable frame header: {0}")]
    BadHeader(String),
}

/// A [`ProviderConfig`](crate::ProviderConfig) or
/// [`ChannelConfig`](crate::ChannelConfig) that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid rpc config: {0}")]
pub struct ConfigError(pub String);
