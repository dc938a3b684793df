//! How busy the whole machine was during a phase, from `/proc/stat`: the
//! nodes and the bench's own clients share the cores, so a rate means
//! little without the CPU it took and the time the VM's host stole.

/// The machine's CPU counters at one moment, in clock ticks summed over
/// every core (the `cpu` line of `/proc/stat`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuSample {
    busy: u64,
    steal: u64,
    total: u64,
}

/// What the machine did between two samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CpuShare {
    /// Share of all cores' time spent running something (user, system,
    /// interrupts), 0 to 1.
    pub busy: f64,
    /// Share taken by the hypervisor for other guests.
    pub steal: f64,
    /// CPU seconds used, all cores together.
    pub busy_secs: f64,
}

impl CpuSample {
    /// The counters now; `None` where `/proc/stat` cannot be read or parsed.
    pub fn now() -> Option<CpuSample> {
        parse(&std::fs::read_to_string("/proc/stat").ok()?)
    }

    /// The machine's use of its CPU from `earlier` to `self`.
    pub fn since(&self, earlier: &CpuSample) -> Option<CpuShare> {
        let total = self.total.checked_sub(earlier.total).filter(|&t| t > 0)?;
        let busy = self.busy.checked_sub(earlier.busy)?;
        let steal = self.steal.checked_sub(earlier.steal)?;
        Some(CpuShare {
            busy: busy as f64 / total as f64,
            steal: steal as f64 / total as f64,
            busy_secs: busy as f64 / USER_HZ,
        })
    }
}

/// The `cpu` line: user nice system idle iowait irq softirq steal ...
fn parse(stat: &str) -> Option<CpuSample> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|t| t.parse().ok())
        .collect::<Option<_>>()?;
    let [user, nice, system, idle, iowait, irq, softirq, steal, ..] = ticks[..] else {
        return None;
    };
    Some(CpuSample {
        busy: user + nice + system + irq + softirq,
        steal,
        total: user + nice + system + idle + iowait + irq + softirq + steal,
    })
}

/// Ticks a second in `/proc/stat`: USER_HZ, which Linux fixes at 100 for
/// user space.
const USER_HZ: f64 = 100.0;

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = "cpu  1000 0 500 8000 100 0 100 300 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n";
    const AFTER: &str = "cpu  1600 0 700 8600 100 0 200 400 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n";

    #[test]
    fn busy_and_steal_are_shares_of_all_ticks_between_two_samples() {
        let (before, after) = (parse(BEFORE).unwrap(), parse(AFTER).unwrap());
        let share = after.since(&before).unwrap();
        // 900 busy (600 user, 200 system, 100 softirq) of 1600 ticks, 100 stolen.
        assert!((share.busy - 900.0 / 1600.0).abs() < 1e-9);
        assert!((share.steal - 100.0 / 1600.0).abs() < 1e-9);
        assert!((share.busy_secs - 9.0).abs() < 1e-9);
    }

    #[test]
    fn unreadable_or_backwards_counters_give_nothing() {
        assert_eq!(parse("intr 1 2 3\n"), None);
        assert_eq!(parse("cpu  1 2 x 4 5 6 7 8\n"), None);
        assert_eq!(parse("cpu  1 2 3\n"), None);
        let (before, after) = (parse(BEFORE).unwrap(), parse(AFTER).unwrap());
        assert_eq!(before.since(&after), None);
        assert_eq!(before.since(&before), None);
    }
}
