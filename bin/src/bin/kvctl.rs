//! `kvctl -f CONFIG get K | put K V | append K V | status | member … |
//! transfer-leader ID`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use clerk::{Clerk, ClerkConfig, ClusterConfig};
use raftkv_bin::member;

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
    /// Shows every node: address, role, term, commit and applied index, log,
    /// snapshot; then the voters and learners.
    Status,
    /// Lists or changes the cluster's members (one change at a time).
    Member {
        #[command(subcommand)]
        command: MemberCmd,
    },
    /// Hands leadership to voter ID; exits 0 once ID leads.
    TransferLeader { id: u64 },
}

#[derive(Subcommand)]
enum MemberCmd {
    /// One line per member: ID ADDRESS voter|learner.
    List,
    /// Adds node ID, listening on HOST:PORT, as a learner (it receives the
    /// log but does not vote); exits 0 once it is in the configuration.
    AddLearner { id: u64, address: String },
    /// Makes learner ID a voter; refused while it lags behind the leader.
    Promote { id: u64 },
    /// Removes member ID (the leader too); exits 0 once the removal is committed.
    Remove { id: u64 },
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
    match &args.command {
        Cmd::Status => {
            let statuses =
                raftkv_bin::status::query_all(&addrs, timeout.min(Duration::from_secs(2)));
            print!("{}", raftkv_bin::status::render(&statuses));
            print!("{}", raftkv_bin::status::render_members(&statuses));
            return Ok(0);
        }
        Cmd::Member { command } => {
            let change = match command {
                MemberCmd::List => {
                    print!("{}", member::list(&addrs, timeout)?);
                    return Ok(0);
                }
                MemberCmd::AddLearner { id, address } => member::Change::AddLearner {
                    id: *id,
                    address: address.clone(),
                },
                MemberCmd::Promote { id } => member::Change::Promote { id: *id },
                MemberCmd::Remove { id } => member::Change::Remove { id: *id },
            };
            member::change(&addrs, &change, timeout)?;
            return Ok(0);
        }
        Cmd::TransferLeader { id } => {
            member::transfer(&addrs, *id, timeout)?;
            return Ok(0);
        }
        _ => {}
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
        Cmd::Status | Cmd::Member { .. } | Cmd::TransferLeader { .. } => {
            unreachable!("handled above")
        }
    }
}
