//! The Clerk: the blocking client of raftkv (the original's `src/raftClerk`:
//! clerk.cpp and raftServerRpcUtil.cpp).
//!
//! - [`Clerk`] (`clerk.rs`): `get`, `put`, `append`, `delete`, `cas`,
//!   `scan`; finds the leader, retries. [`Scan`] (`scan.rs`): a Scan's pages
//!   as an iterator.
//! - [`ClusterConfig`] (`cluster_config.rs`): the original's `test.conf` format.
//! - [`KvTransport`] (`transport.rs`): how requests reach servers; TCP in
//!   production, a simulated network in tests.
//! - `session.rs`: the client ids and request ids servers deduplicate by.
//! - `round.rs`: which server a request tries next.
//! - [`ClerkConfig`] (`config.rs`), [`ClerkError`] (`error.rs`).
//!
//! What changed from the original, and why:
//! - Client ids are 128 random bits. The original's were not unique, so a new
//!   client's first Put could be dropped as a duplicate of another client's.
//! - One Clerk serves many threads: each call borrows its own session, so no
//!   client id ever has two requests in flight (which would defeat dedup).
//! - The leader's hint in `ErrWrongLeader` is followed instead of walking the
//!   servers one by one, but to one server at most twice a round, and every
//!   server is tried before the round ends (`round.rs`): removed or cut-off
//!   servers still name the leader they last knew, and two of them could
//!   otherwise send a request between them for ever. A fruitless round of servers pauses with exponential backoff
//!   instead of spinning.
//! - A dead server is an error value from the RPC channel, not SIGPIPE killing
//!   the client; an optional deadline turns "cluster unreachable" into an
//!   error instead of blocking forever.
//! - Get of a missing key is `None`, not an empty string.
//! - Delete, compare-and-swap and Scan (not in the original). Delete and
//!   Cas are writes, retried like Put under the same request id, so they
//!   apply once and a retry is told what the first attempt decided.
//! - Only wrong leader, timeouts and transport failures are retried; what no
//!   retry can fix (ErrTooLarge, an Err this Clerk does not know, an RPC
//!   refusal) is returned at once as [`ClerkError::Rejected`]. A write whose
//!   session the cluster forgot (ErrSessionExpired) is resent under a new
//!   session if that was its first attempt, and otherwise returned as
//!   [`ClerkError::SessionExpired`] (outcome unknown).

mod clerk;
mod cluster_config;
mod config;
mod error;
mod round;
mod scan;
mod session;
mod transport;

pub use clerk::{CasOutcome, Clerk};
pub use cluster_config::{ClusterConfig, ConfigError, NodeAddr};
pub use config::ClerkConfig;
pub use error::ClerkError;
pub use scan::{Scan, ScanPage};
pub use transport::KvTransport;
