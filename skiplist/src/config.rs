//! How tall a skip list may grow and where its coin flips come from.

use crate::SkipListError;

/// The tallest tower any configuration may ask for. With p = 1/4 a list
/// needs about log4(n) levels, so 32 already covers 2^64 entries; the cap
/// only bounds the fixed-size predecessor array kept on the stack.
pub const MAX_LEVEL_CAP: usize = 64;

/// Settings for [`SkipList::with_config`](crate::SkipList::with_config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The most levels a tower may have (the original's `_max_level`).
    /// 1 turns the list into a sorted linked list, which tests use to
    /// exercise the degenerate shape.
    pub max_level: usize,
    /// Seed for the level generator; `None` seeds from the OS. Tests pass a
    /// seed so that the towers, and therefore `display`, are reproducible.
    pub seed: Option<u64>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_level: 32,
            seed: None,
        }
    }
}

impl Config {
    /// Checks that `max_level` is within `1..=MAX_LEVEL_CAP`.
    pub fn validate(&self) -> Result<(), SkipListError> {
        if (1..=MAX_LEVEL_CAP).contains(&self.max_level) {
            Ok(())
        } else {
            Err(SkipListError::InvalidMaxLevel {
                got: self.max_level,
                max: MAX_LEVEL_CAP,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_bounds_are_enforced() {
        assert_eq!(Config::default().validate(), Ok(()));
        for bad in [0, MAX_LEVEL_CAP + 1] {
            let config = Config {
                max_level: bad,
                seed: None,
            };
            assert_eq!(
                config.validate(),
                Err(SkipListError::InvalidMaxLevel {
                    got: bad,
                    max: MAX_LEVEL_CAP
                })
            );
        }
        let one = Config {
            max_level: 1,
            seed: Some(7),
        };
        assert_eq!(one.validate(), Ok(()));
    }
}
