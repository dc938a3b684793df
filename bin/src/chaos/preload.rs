//! The bulk of the store: keys Put before the faults begin, so snapshots
//! are large and stream in chunks to restarted nodes, and read back at the
//! end to check that every one survived the faults byte for byte. Each
//! value is drawn from the run's seed and its key's number, so it can be
//! made again for the check instead of being kept.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

use super::clients;

/// Client threads for the preload and its check.
const THREADS: usize = 8;

/// `keys` × `bytes`, from `seed`.
#[derive(Clone, Copy)]
pub struct Preload {
    pub keys: usize,
    pub bytes: usize,
    pub seed: u64,
}

impl Preload {
    fn key(i: usize) -> String {
        format!("preload{i:08}")
    }

    fn value(&self, i: usize) -> Vec<u8> {
        let mut value = vec![0u8; self.bytes];
        StdRng::seed_from_u64(self.seed ^ (i as u64).rotate_left(32)).fill_bytes(&mut value);
        value
    }

    /// Puts every key.
    pub fn load(&self, addrs: &[SocketAddr]) -> anyhow::Result<()> {
        let started = Instant::now();
        let failures = self.each(addrs, |clerk, i| {
            clerk
                .put(Self::key(i), self.value(i))
                .map_err(|e| format!("Put({}): {e}", Self::key(i)))
        });
        if let Some(first) = failures.first() {
            anyhow::bail!("the preload failed: {first}");
        }
        println!(
            "chaos: preloaded {} keys × {} B in {:.1} s",
            self.keys,
            self.bytes,
            started.elapsed().as_secs_f64()
        );
        Ok(())
    }

    /// Reads every key back; each one missing or changed is a problem.
    pub fn verify(&self, addrs: &[SocketAddr]) -> Vec<String> {
        self.each(addrs, |clerk, i| match clerk.get(Self::key(i)) {
            Ok(Some(value)) if value == self.value(i) => Ok(()),
            Ok(Some(value)) => Err(format!(
                "preloaded {} changed: {} bytes, not the {} written",
                Self::key(i),
                value.len(),
                self.bytes
            )),
            Ok(None) => Err(format!("preloaded {} lost", Self::key(i))),
            Err(e) => Err(format!("preloaded {} unreadable: {e}", Self::key(i))),
        })
    }

    /// Runs `op` on every key from [`THREADS`] threads; returns the errors.
    fn each(
        &self,
        addrs: &[SocketAddr],
        op: impl Fn(&clerk::Clerk, usize) -> Result<(), String> + Sync,
    ) -> Vec<String> {
        let failures = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for t in 0..THREADS.min(self.keys) {
                let (failures, op) = (&failures, &op);
                scope.spawn(move || {
                    let clerk = clients::clerk(addrs.to_vec());
                    for i in (t..self.keys).step_by(THREADS) {
                        if let Err(e) = op(&clerk, i) {
                            failures.lock().unwrap_or_else(|p| p.into_inner()).push(e);
                        }
                    }
                });
            }
        });
        failures.into_inner().unwrap_or_else(|p| p.into_inner())
    }
}
