//! Ctrl-C and SIGTERM for the tools that run a cluster (`scale-bench`,
//! `chaos`): the first sets a flag their loops check, so they stop the
//! nodes and clean up on their normal path; a second exits at once (the
//! nodes still get SIGTERM from the kernel when their launcher dies).

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::Context;
use signal_hook::consts::{SIGINT, SIGTERM};

/// A flag that Ctrl-C or SIGTERM sets.
pub fn flag() -> anyhow::Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        // Order matters: the exit is armed before the flag can be set.
        signal_hook::flag::register_conditional_shutdown(signal, 130, flag.clone())
            .context("cannot install signal handlers")?;
        signal_hook::flag::register(signal, flag.clone())
            .context("cannot install signal handlers")?;
    }
    Ok(flag)
}
