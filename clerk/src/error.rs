//! What a Clerk call can fail with. Retryable conditions (wrong leader, a
//! timeout, a dead connection) never appear here: the Clerk retries them.
//! What no retry can fix is returned at once.

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
    /// The cluster no longer knew the write's client session (it expired,
    /// was evicted under load, or the request fell below what is
    /// remembered) when a retry reached it. An earlier attempt may have
    /// applied the write, or not: its outcome is unknown. Nothing was applied
    /// by the refused attempt. (A first attempt refused this way is resent
    /// under a new session, never reported.)
    #[error("the cluster no longer knows this client session (after {attempts} attempts): the write's outcome is unknown")]
    SessionExpired { attempts: u64 },
    /// The cluster refused the request in a way no retry can fix: a reply
    /// Err other than the retryable ones (e.g. ErrTooLarge, or one this
    /// Clerk does not know), or an RPC-level refusal (bad request, unknown
    /// method, over the frame limit). If `attempts` > 1, an earlier attempt
    /// may have applied a write.
    #[error("the cluster refused the request: {reason} (after {attempts} attempts)")]
    Rejected { reason: String, attempts: u64 },
    /// The request was refused for its size and not applied (the server's
    /// `ErrTooLarge`, or a request too large for one RPC frame, which is not
    /// sent). Returned at once: retrying cannot help.
    #[error("request too large: {0}")]
    TooLarge(String),
    /// The Clerk was built with no servers.
    #[error("the clerk has no servers to talk to")]
    NoServers,
}
