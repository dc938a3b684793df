//! The seeds of the simulated power losses that crashes in the harnesses
//! cause ([`raft::MemoryPersister::power_loss`]): one random base seed per
//! cluster, printed so a failing run can be replayed with
//! `RAFTKV_POWER_LOSS_SEED=<seed>`.

use std::sync::atomic::{AtomicU64, Ordering};

/// The environment variable that fixes the base seed.
pub const SEED_VAR: &str = "RAFTKV_POWER_LOSS_SEED";

/// Hands out one seed per crash, derived from the cluster's base seed.
pub struct PowerLoss {
    base: u64,
    crashes: AtomicU64,
}

impl PowerLoss {
    /// A base seed from `RAFTKV_POWER_LOSS_SEED`, else a random one.
    pub fn from_env() -> Self {
        let base = std::env::var(SEED_VAR)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(rand::random);
        eprintln!("power-loss seed {base} (replay with {SEED_VAR}={base})");
        PowerLoss {
            base,
            crashes: AtomicU64::new(0),
        }
    }

    /// The seed of the next crash.
    pub fn next_seed(&self) -> u64 {
        let n = self.crashes.fetch_add(1, Ordering::Relaxed);
        splitmix64(self.base ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }
}

/// A well-mixed 64-bit hash, so neighbouring crash numbers get unrelated seeds.
fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}
