//! The coin flips that decide how tall a new tower is (the original's `get_random_level`).

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Draws tower heights: height h with probability (3/4)·(1/4)^(h-1), capped
/// at `max`.
///
/// p = 1/4 (as in LevelDB and Redis) rather than the original's 1/2: lookups
/// cost about the same, and towers carry two thirds as many links on
/// average (4/3 per node instead of 2).
#[derive(Debug, Clone)]
pub(crate) struct LevelGenerator {
    rng: SmallRng,
    max: usize,
}

impl LevelGenerator {
    pub(crate) fn new(max: usize, seed: Option<u64>) -> Self {
        let rng = match seed {
            Some(seed) => SmallRng::seed_from_u64(seed),
            None => SmallRng::from_os_rng(),
        };
        LevelGenerator { rng, max }
    }

    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// One 64-bit draw serves every flip: each pair of trailing zero bits is
    /// one "heads" with probability 1/4, so the height is 1 + pairs.
    pub(crate) fn next_height(&mut self) -> usize {
        let bits: u64 = self.rng.random();
        let height = 1 + (bits.trailing_zeros() / 2) as usize;
        height.min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heights_stay_in_bounds_and_follow_p_one_quarter() {
        let mut levels = LevelGenerator::new(32, Some(1));
        let draws = 100_000;
        let mut counts = [0usize; 34];
        for _ in 0..draws {
            let h = levels.next_height();
            assert!((1..=32).contains(&h), "height {h} out of bounds");
            counts[h] += 1;
        }
        // Expect 3/4 at height 1 and 3/16 at height 2; allow wide margins.
        let share1 = counts[1] as f64 / draws as f64;
        let share2 = counts[2] as f64 / draws as f64;
        assert!((0.72..0.78).contains(&share1), "height-1 share {share1}");
        assert!((0.16..0.21).contains(&share2), "height-2 share {share2}");
    }

    #[test]
    fn cap_is_respected_and_seed_is_reproducible() {
        let mut capped = LevelGenerator::new(1, Some(3));
        assert!((0..1000).all(|_| capped.next_height() == 1));
        let mut a = LevelGenerator::new(32, Some(9));
        let mut b = LevelGenerator::new(32, Some(9));
        let xs: Vec<usize> = (0..100).map(|_| a.next_height()).collect();
        let ys: Vec<usize> = (0..100).map(|_| b.next_height()).collect();
        assert_eq!(xs, ys);
    }
}
