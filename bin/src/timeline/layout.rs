//! The geometry of a timeline: where on the axis a time falls, the ticks, and sub-rows for
//! bars that overlap in one lane.

/// The time range drawn, in ns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Axis {
    pub(super) from: u64,
    pub(super) to: u64,
}

impl Axis {
    /// The smallest range holding every time given; never empty.
    pub(super) fn around(times: impl IntoIterator<Item = u64>) -> Self {
        let (mut from, mut to) = (u64::MAX, 0);
        for t in times {
            from = from.min(t);
            to = to.max(t);
        }
        if from > to {
            (from, to) = (0, 0);
        }
        Axis {
            from,
            to: to.max(from + 1),
        }
    }

    /// Where `t` falls, in percent of the width.
    pub(super) fn percent(&self, t: u64) -> f64 {
        let t = t.clamp(self.from, self.to);
        (t - self.from) as f64 * 100.0 / (self.to - self.from) as f64
    }

    /// About ten round instants to label (1, 2 or 5 times a power of ten ns apart).
    pub(super) fn ticks(&self) -> Vec<u64> {
        let span = self.to - self.from;
        let mut step: u64 = 1;
        'grow: loop {
            for factor in [1, 2, 5] {
                let candidate = step.saturating_mul(factor);
                if span / candidate <= 10 {
                    step = candidate;
                    break 'grow;
                }
            }
            step = step.saturating_mul(10);
        }
        let first = self.from.div_ceil(step) * step;
        (0..)
            .map(|k| first + k * step)
            .take_while(|&t| t <= self.to)
            .collect()
    }
}

/// Milliseconds with as many decimals as a tick needs, e.g. `1.25 ms`.
pub(super) fn millis(ns: u64) -> String {
    let ms = ns as f64 / 1e6;
    let text = format!("{ms:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text} ms")
}

/// Gives each interval the lowest sub-row where it overlaps nothing (touching is not
/// overlapping); returns the sub-row of each (in input order) and how many there are.
pub(super) fn pack(intervals: &[(u64, u64)]) -> (Vec<usize>, usize) {
    let mut order: Vec<usize> = (0..intervals.len()).collect();
    order.sort_by_key(|&i| intervals[i]);
    let mut row_end: Vec<u64> = Vec::new();
    let mut rows = vec![0; intervals.len()];
    for i in order {
        let (start, end) = intervals[i];
        let row = match row_end.iter().position(|&e| e <= start) {
            Some(row) => row,
            None => {
                row_end.push(0);
                row_end.len() - 1
            }
        };
        row_end[row] = end;
        rows[i] = row;
    }
    (rows, row_end.len().max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_map_to_percent_of_the_range() {
        let axis = Axis::around([1_000, 3_000, 2_000]);
        assert_eq!(axis.percent(1_000), 0.0);
        assert_eq!(axis.percent(2_000), 50.0);
        assert_eq!(axis.percent(9_000), 100.0);
        assert_eq!(Axis::around([]), Axis { from: 0, to: 1 });
    }

    #[test]
    fn ticks_are_round_and_about_ten() {
        let ticks = Axis {
            from: 3_000_000,
            to: 97_000_000,
        }
        .ticks();
        assert_eq!(ticks.first(), Some(&10_000_000));
        assert_eq!(ticks.last(), Some(&90_000_000));
        assert_eq!(ticks.len(), 9);
        assert_eq!(millis(1_250_000), "1.25 ms");
        assert_eq!(millis(2_000_000), "2 ms");
    }

    #[test]
    fn overlapping_bars_get_their_own_rows() {
        let (rows, count) = pack(&[(0, 10), (5, 20), (10, 12), (21, 30), (20, 25)]);
        assert_eq!(rows, vec![0, 1, 0, 1, 0]);
        assert_eq!(count, 2);
    }
}
