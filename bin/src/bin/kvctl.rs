//! `kvctl -f CONFIG get K | put K V | append K V | status`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use clerk::{Clerk, ClerkConfig, ClusterConfig};

/// Reads, writes and inspects a raftkv cluster.
#[derive(Parser)]
#[command(name = "kvctl", version)]
struct Args {
    /// The cluster config file.
    #[arg(short = 'f', long = "config")]
    config: PathBuf,
    /// Give up after this many seconds without an answer.
    #[arg(long, default_value_t = 10)]
    timeout_secs: u64,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Prints the value of KEY (exit code 2 if it has none).
    Get { key: String },
    /// Sets KEY to VALUE.
    Put { key: String, value: String },
    /// Appends VALUE to KEY's value.
    Append { key: String, value: String },
    /// Shows every node: address, role, term, commit and applied index, log, snapshot.
    Status,
}

fn main() {
    let args = Args::parse();
    match run(&args) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("kvctl: error: {}", raftkv_bin::error_line(&e));
            std::process::exit(1);
        }
    }
}

fn run(args: &Args) -> anyhow::Result<i32> {
    let addrs = ClusterConfig::load(&args.config)?.resolve_all()?;
    let timeout = Duration::from_secs(args.timeout_secs);
    if let Cmd::Status = args.command {
        let statuses = raftkv_bin::status::query_all(&addrs, timeout.min(Duration::from_secs(2)));
        print!("{}", raftkv_bin::status::render(&statuses));
        return Ok(0);
    }
    let config = ClerkConfig {
        deadline: Some(timeout),
        ..ClerkConfig::default()
    };
    let clerk = Clerk::with_config(addrs, config);
    match &args.command {
        Cmd::Get { key } => match clerk.get(key)? {
            Some(value) => {
                println!("{}", String::from_utf8_lossy(&value));
                Ok(0)
            }
            None => {
                eprintln!("kvctl: {key}: no such key");
                Ok(2)
            }
        },
        Cmd::Put { key, value } => clerk.put(key, value).map(|_| 0).map_err(Into::into),
        Cmd::Append { key, value } => clerk.append(key, value).map(|_| 0).map_err(Into::into),
        Cmd::Status => unreachable!("handled above"),
    }
}
