//! The Clerk's timing knobs, all in one place.

use std::time::Duration;

/// How patiently a Clerk talks to the cluster.
#[derive(Clone, Debug)]
pub struct ClerkConfig {
    /// How long one RPC to one server may take before the Clerk tries another.
    pub rpc_timeout: Duration,
    /// The pause after a full round of servers failed, doubled per round...
    pub backoff_min: Duration,
    /// ...up to this.
    pub backoff_max: Duration,
    /// An overall bound per operation; `None` retries until the cluster answers.
    pub deadline: Option<Duration>,
    /// A session left unused this long is replaced before its next use.
    /// Keep it below the servers' `session_ttl` (1 h by default), so a
    /// write is never refused because its idle session expired (which,
    /// after a retry, would leave its outcome unknown).
    pub session_max_idle: Duration,
}

impl Default for ClerkConfig {
    fn default() -> Self {
        ClerkConfig {
            rpc_timeout: Duration::from_secs(2),
            backoff_min: Duration::from_millis(10),
            backoff_max: Duration::from_millis(200),
            deadline: None,
            session_max_idle: Duration::from_secs(20 * 60),
        }
    }
}
