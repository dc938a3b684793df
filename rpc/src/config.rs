//! Every knob of the provider and the channel, with its default and its check.

use std::time::Duration;

use crate::frame::DEFAULT_MAX_FRAME_BYTES;
use crate::ConfigError;

/// Long enough to catch a reply or request that is on its way on a
/// quiet machine (a loopback round trip with everyone awake is 10–20 µs),
/// short enough that a miss costs little.
const DEFAULT_SPIN: Duration = Duration::from_micros(50);

/// How an [`RpcProvider`](crate::RpcProvider) serves.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// Worker threads that run handlers (except those of services
    /// registered inline, which run on the event loop). Handlers that block
    /// (persisting, waiting for Raft to commit) each hold one meanwhile.
    pub workers: usize,
    /// Cap on a frame's declared header length and on its args size.
    pub max_frame_bytes: usize,
    /// Connections beyond this are accepted and closed at once.
    pub max_connections: usize,
    /// A connection with this many calls being handled is not read from
    /// until some complete.
    pub max_in_flight_per_connection: usize,
    /// A connection with this many reply bytes its peer has not taken is
    /// not read from until they drain.
    pub max_unsent_bytes_per_connection: usize,
    /// A connection with nothing in flight and no traffic for this long is closed.
    pub idle_timeout: Duration,
    /// How long shutdown waits for in-flight calls before closing anyway.
    pub shutdown_grace: Duration,
    /// How long the loop polls for the next request, and an idle worker for
    /// the next job, before sleeping (zero: never; see the `spin` module).
    pub spin: Duration,
}

impl Default for ProviderConfig {
    fn default() -> Self {
        Self {
            workers: 16,
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            max_connections: 1024,
            max_in_flight_per_connection: 1024,
            max_unsent_bytes_per_connection: 8 << 20,
            idle_timeout: Duration::from_secs(600),
            shutdown_grace: Duration::from_secs(5),
            spin: DEFAULT_SPIN,
        }
    }
}

impl ProviderConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        positive("workers", self.workers)?;
        positive("max_frame_bytes", self.max_frame_bytes)?;
        positive("max_connections", self.max_connections)?;
        positive(
            "max_in_flight_per_connection",
            self.max_in_flight_per_connection,
        )?;
        positive(
            "max_unsent_bytes_per_connection",
            self.max_unsent_bytes_per_connection,
        )?;
        if self.idle_timeout.is_zero() {
            return Err(ConfigError("idle_timeout must be positive".into()));
        }
        Ok(())
    }
}

/// How an [`RpcChannel`](crate::RpcChannel) talks to its peer.
#[derive(Debug, Clone)]
pub struct ChannelConfig {
    /// Upper bound on establishing the TCP connection; a call's own deadline
    /// bounds it further.
    pub connect_timeout: Duration,
    /// Cap on a reply's declared header length and body size.
    pub max_frame_bytes: usize,
    /// How long a caller polls for its reply before sleeping (zero: never).
    pub spin: Duration,
}

impl Default for ChannelConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(1),
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            spin: DEFAULT_SPIN,
        }
    }
}

impl ChannelConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.connect_timeout.is_zero() {
            return Err(ConfigError("connect_timeout must be positive".into()));
        }
        positive("max_frame_bytes", self.max_frame_bytes)
    }
}

fn positive(name: &str, value: usize) -> Result<(), ConfigError> {
    if value == 0 {
        Err(ConfigError(format!("{name} must be positive")))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_zeroes_are_not() {
        assert!(ProviderConfig::default().validate().is_ok());
        assert!(ChannelConfig::default().validate().is_ok());
        let bad = ProviderConfig {
            workers: 0,
            ..Default::default()
        };
        assert!(bad.validate().is_err());
        let bad = ChannelConfig {
            connect_timeout: Duration::ZERO,
            ..Default::default()
        };
        assert!(bad.validate().is_err());
    }
}
