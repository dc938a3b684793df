//! Cross-crate integration tests of raftkv.
//!
//! - [`linearizability`]: a Porcupine-style checker that KV tests run on recorded client histories.

pub mod linearizability;
