//! The table the benchmark ends with: one row per phase that ran.

use std::fmt;

use super::{mib, Options, Phase, NODES};

/// The run's settings and one figure cell per phase, in run order.
pub struct Summary {
    heading: String,
    rows: Vec<(Phase, String)>,
}

impl Summary {
    pub fn new(options: &Options) -> Summary {
        let w = &options.workload;
        Summary {
            heading: format!(
                "{NODES} nodes, {} keys × {} B ({} raw)",
                w.keys,
                w.value_bytes,
                mib(w.raw_bytes())
            ),
            rows: Vec::new(),
        }
    }

    pub fn add(&mut self, phase: Phase, figure: String) {
        self.rows.push((phase, figure));
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "\nsummary: {}", self.heading)?;
        writeln!(f, "{:<8}  figure", "phase")?;
        for (phase, figure) in &self.rows {
            let name = format!("{phase:?}").to_lowercase();
            writeln!(f, "{name:<8}  {figure}")?;
        }
        Ok(())
    }
}
