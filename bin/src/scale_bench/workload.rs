//! The benchmark's data (keys `key{i:010}`, values of random bytes) and the
//! Ctrl-C flag that every loop of it checks.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rand::{Rng, RngCore};

/// N keys of V random bytes each.
#[derive(Clone, Copy, Debug)]
pub struct Workload {
    pub keys: u64,
    pub value_bytes: usize,
}

impl Workload {
    /// Key number `i`; fixed width, so every key has the same length.
    pub fn key(i: u64) -> String {
        format!("key{i:010}")
    }

    /// The bytes a store of these keys and values holds at the very least.
    pub fn raw_bytes(&self) -> u64 {
        self.keys * (Self::key(0).len() + self.value_bytes) as u64
    }

    /// A fresh value of V random bytes.
    pub fn value(&self, rng: &mut impl RngCore) -> Vec<u8> {
        let mut value = vec![0; self.value_bytes];
        rng.fill_bytes(&mut value);
        value
    }

    /// A key that the load wrote.
    pub fn random_key(&self, rng: &mut impl Rng) -> String {
        Self::key(rng.random_range(0..self.keys))
    }
}

/// Set by Ctrl-C or SIGTERM: the benchmark stops at the next check and
/// leaves through its normal error path, which stops the nodes and removes
/// its directory. A second Ctrl-C exits at once (the nodes still get
/// SIGTERM from the kernel when their launcher dies).
#[derive(Clone)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    pub fn on_ctrl_c() -> anyhow::Result<Stop> {
        Ok(Stop(crate::interrupt::flag()?))
    }

    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Err once the user asked the benchmark to stop.
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(!self.is_set(), "interrupted");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Workload;

    #[test]
    fn keys_have_one_width_and_raw_bytes_count_keys_and_values() {
        assert_eq!(Workload::key(7), "key0000000007");
        assert_eq!(Workload::key(9_999_999_999).len(), 13);
        let w = Workload {
            keys: 1000,
            value_bytes: 100,
        };
        assert_eq!(w.raw_bytes(), 1000 * 113);
        assert_eq!(w.value(&mut rand::rng()).len(), 100);
    }
}
