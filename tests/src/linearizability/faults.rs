//! The faults a test injected while a history was recorded: partitions, crashes, restarts.

use std::fmt;

/// What happened to the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// The servers were split into groups that talk only within themselves.
    Partition { groups: Vec<Vec<usize>> },
    /// Every partition healed: all servers talk to each other again.
    Heal,
    /// A server stopped (crash, or a shutdown the test ordered).
    Crash { server: usize },
    /// A crashed server started again from what it had persisted.
    Restart { server: usize },
}

/// One fault, at a time on the history's clock (ns since the recorder was made).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub at: u64,
    pub kind: FaultKind,
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultKind::Partition { groups } => {
                write!(f, "partition")?;
                for group in groups {
                    write!(f, " {group:?}")?;
                }
                Ok(())
            }
            FaultKind::Heal => write!(f, "partitions healed"),
            FaultKind::Crash { server } => write!(f, "crash server {server}"),
            FaultKind::Restart { server } => write!(f, "restart server {server}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_read_as_what_happened() {
        let partition = FaultKind::Partition {
            groups: vec![vec![0, 1], vec![2]],
        };
        assert_eq!(partition.to_string(), "partition [0, 1] [2]");
        assert_eq!(FaultKind::Crash { server: 2 }.to_string(), "crash server 2");
    }
}
