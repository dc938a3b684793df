//! The chaos clients: each thread Appends unique tokens to random keys and
//! reads them back, recording when every operation began and ended.

use std::net::SocketAddr;
use std::time::Duration;

use clerk::{Clerk, ClerkConfig, ClerkError};
use rand::Rng;

use super::history::{Append, Get, History, TOKEN_END};
use super::roster::Roster;
use super::window::Window;

/// How long one operation may retry before its outcome is recorded as
/// unknown: longer than a whole-cluster restart takes.
const DEADLINE: Duration = Duration::from_secs(30);

/// One client thread's share of the work.
pub struct Client {
    pub id: usize,
    pub keys: usize,
    /// Bytes of padding in each token, to make entries and values larger.
    pub pad: usize,
    /// Percent of operations that are Gets.
    pub get_percent: u32,
}

/// A key of the chaos run.
pub fn key(k: usize) -> String {
    format!("chaos{k:03}")
}

/// A Clerk that gives up on an operation after [`DEADLINE`].
pub fn clerk(addrs: Vec<SocketAddr>) -> Clerk {
    Clerk::with_config(
        addrs,
        ClerkConfig {
            deadline: Some(DEADLINE),
            ..ClerkConfig::default()
        },
    )
}

impl Client {
    /// Works until the window is over; returns what it did, or the first error that is
    /// not a lost answer (the run is then broken, not merely faulty).
    pub fn run(&self, roster: &Roster, window: &Window) -> anyhow::Result<History> {
        let mut addrs = roster.addrs();
        let mut clerk = clerk(addrs.clone());
        let mut rng = rand::rng();
        let mut history = History::default();
        let at = || window.micros();
        let mut seq = 0u64;
        while !window.over() {
            if roster.len() != addrs.len() {
                // A node was added: a Clerk knows only the nodes it was given.
                addrs = roster.addrs();
                clerk = self::clerk(addrs.clone());
            }
            let key = rng.random_range(0..self.keys);
            if rng.random_range(0..100) < self.get_percent {
                let invoked = at();
                match clerk.get(self::key(key)) {
                    Ok(value) => {
                        history
                            .gets
                            .push(Get::new(key, invoked, at(), &value.unwrap_or_default()))
                    }
                    Err(ClerkError::DeadlineExceeded { .. }) => {}
                    Err(e) => anyhow::bail!("client {}: Get: {e}", self.id),
                }
                continue;
            }
            seq += 1;
            let token = format!("c{}.{seq}{}", self.id, ".".repeat(self.pad));
            let mut bytes = token.clone().into_bytes();
            bytes.push(TOKEN_END);
            let invoked = at();
            let acked = match clerk.append(self::key(key), &bytes) {
                Ok(()) => Some(at()),
                Err(ClerkError::DeadlineExceeded { .. } | ClerkError::SessionExpired { .. }) => {
                    None
                }
                Err(e) => anyhow::bail!("client {}: Append: {e}", self.id),
            };
            history.appends.push(Append {
                key,
                token,
                invoked,
                acked,
            });
        }
        Ok(history)
    }
}
