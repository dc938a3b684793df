//! What a Clerk call can fail with. Retryable conditions (wrong leader, a
//! timeout, a dead connection) never appear here: the Clerk retries them.
//! What retrying cannot fix (a request too large) is returned at once.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ClerkError {
    /// The cluster config could not be read or used.
    #[error(transparent)]
    Config(#[from] crate::ConfigError),
    /// The operation's overall deadline passed before any server answered it.
    /// A Put or Append may still apply later; it will apply at most once.
    #[error("no answer from the cluster within {deadline:?} ({attempts} attempts; last problem: {last_problem})")]
    DeadlineExceeded {
        deadline: Duration,
        attempts: u64,
        last_problem: String,
    },
    /// The request was refused for its size and not applied (the server's
    /// `ErrTooLarge`, or a request too large for one RPC frame, which is not
    /// sent). Returned at once: retrying cannot help.
    #[error("request too large: {0}")]
    TooLarge(String),
    /// The Clerk was built with no servers.
    #[error("the clerk has no servers to talk to")]
    NoServers,
}
