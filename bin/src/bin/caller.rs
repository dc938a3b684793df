//! `caller -f CONFIG [-n COUNT]`: the original's callerMain, with figures.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use clerk::{Clerk, ClerkConfig, ClusterConfig};

/// Runs COUNT × Put("x", i) then Get("x") against the cluster in CONFIG
/// (from CLIENTS threads at once, each on its own key) and prints ops/s and
/// latency percentiles.
#[derive(Parser)]
#[command(name = "caller", version)]
struct Args {
    /// The cluster config file.
    #[arg(short = 'f', long = "config")]
    config: PathBuf,
    /// How many Put+Get rounds (per client).
    #[arg(short = 'n', long = "count", default_value_t = 500)]
    count: u64,
    /// How many clients run at once, each on its own key (KEY-0, KEY-1, …).
    #[arg(short = 'c', long = "clients", default_value_t = 1)]
    clients: usize,
    /// The key to write.
    #[arg(long, default_value = "x")]
    key: String,
    /// Give up on one operation after this many seconds without an answer.
    #[arg(long, default_value_t = 30)]
    deadline_secs: u64,
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(&args) {
        eprintln!("caller: error: {}", raftkv_bin::error_line(&e));
        std::process::exit(1);
    }
}

fn run(args: &Args) -> anyhow::Result<()> {
    let addrs = ClusterConfig::load(&args.config)?.resolve_all()?;
    let config = ClerkConfig {
        deadline: Some(Duration::from_secs(args.deadline_secs)),
        ..ClerkConfig::default()
    };
    let clerk = Clerk::with_config(addrs, config);
    let step = (args.count / 10).max(1);
    let report = raftkv_bin::caller::run_many(
        &clerk,
        &args.key,
        args.clients,
        args.count,
        |done, total| {
            if done % step == 0 || done == total {
                println!("{done}/{total} rounds done (client 0)");
            }
        },
    )?;
    println!(
        "{} Put+Get rounds by {} client(s) in {:.2} s: {:.0} ops/s",
        report.count,
        args.clients.max(1),
        report.elapsed.as_secs_f64(),
        report.ops_per_sec()
    );
    println!("Put: {}", report.puts);
    println!("Get: {}", report.gets);
    Ok(())
}
