//! The crash a test simulates with [`MemoryPersister::power_loss`]: what a
//! disk may hold after the power fails, given what was and was not synced.

use std::sync::Arc;

use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{Inner, MemoryPersister, Op};
use crate::persister::HardState;

impl MemoryPersister {
    /// What a crashed server's successor starts from after a power loss:
    /// everything synced, and of the writes since the last sync whatever
    /// the disk happened to write, chosen by `seed`. Half the time nothing
    /// unsynced survives; otherwise the log keeps a prefix of its unsynced
    /// writes, the last one possibly torn (a prefix of its entries), and the
    /// hard state independently keeps one of its unsynced versions (the two
    /// files are written in no particular order). The log keeps a prefix
    /// because recovery drops everything after the first unsynced hole.
    pub fn power_loss(&self, seed: u64) -> MemoryPersister {
        let mut rng = StdRng::seed_from_u64(seed);
        let inner = self.inner.lock();
        let mut durable = inner.durable.clone();
        if rng.random_bool(0.5) {
            let log_ops: Vec<&Op> = inner
                .pending
                .iter()
                .filter(|op| !matches!(op, Op::HardState(_)))
                .collect();
            let whole = rng.random_range(0..=log_ops.len());
            for op in &log_ops[..whole] {
                durable.apply((*op).clone());
            }
            if let Some(Op::Append(entries)) = log_ops.get(whole) {
                let torn = rng.random_range(0..entries.len().max(1));
                durable.apply(Op::Append(entries[..torn].to_vec()));
            }
            let states: Vec<HardState> = inner
                .pending
                .iter()
                .filter_map(|op| match op {
                    Op::HardState(hs) => Some(*hs),
                    _ => None,
                })
                .collect();
            let kept = rng.random_range(0..=states.len());
            if kept > 0 {
                durable.hard_state = states[kept - 1];
            }
        }
        MemoryPersister {
            inner: Arc::new(Mutex::new(Inner::restarted(durable))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::e;
    use crate::persister::{HardState, Persister};
    use crate::MemoryPersister;
    use proto::raft::LogEntry;

    #[test]
    fn power_loss_keeps_every_synced_append_and_may_lose_unsynced_ones() {
        let all: Vec<LogEntry> = (1..=6).map(|i| e(i, 1)).collect();
        let (mut lost, mut kept, mut torn) = (0, 0, 0);
        for seed in 0..200 {
            let mut p = MemoryPersister::new();
            p.append(&all[..2]).unwrap();
            p.sync().unwrap();
            p.append(&all[2..3]).unwrap();
            p.append(&all[3..6]).unwrap();
            let got = p.power_loss(seed).recover().unwrap().entries;
            assert!(got.len() >= 2, "seed {seed}: a synced append was lost");
            assert_eq!(got[..], all[..got.len()], "seed {seed}: not a prefix");
            match got.len() {
                2 => lost += 1,
                6 => kept += 1,
                4 | 5 => torn += 1,
                _ => {}
            }
        }
        // The model can lose an unsynced append, keep it, or tear one.
        assert!(lost > 0 && kept > 0 && torn > 0, "{lost} {kept} {torn}");
    }

    #[test]
    fn power_loss_of_a_synced_state_loses_nothing() {
        let mut p = MemoryPersister::new();
        let hs = HardState {
            current_term: 4,
            voted_for: Some(2),
        };
        p.save_hard_state(hs).unwrap();
        p.append(&[e(1, 4)]).unwrap();
        p.sync().unwrap();
        for seed in 0..20 {
            let r = p.power_loss(seed).recover().unwrap();
            assert_eq!((r.hard_state, r.entries), (hs, vec![e(1, 4)]));
        }
    }
}
