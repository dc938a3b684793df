//! `kvctl -f CONFIG get K | put K V | append K V | del K | scan [START [END]] |
//! cas K EXPECTED NEW | status | member … | transfer-leader ID`.
//!
//! Exit codes: 0 done; 1 an error (one line on stderr); 2 `get` or `del` of
//! a key that has no value; 3 `cas` that did not swap (the value it found
//! on stdout, if any).

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use clerk::{CasOutcome, Clerk, ClerkConfig, ClusterConfig};
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
    /// Deletes KEY (exit code 2 if it had no value).
    Del { key: String },
    /// Prints "KEY<TAB>VALUE" for each key in [START, END) in byte order
    /// (no END: to the last key; no START: from the first).
    Scan {
        start: Option<String>,
        end: Option<String>,
        /// Print at most N keys (0: all); a note on stderr names the next one.
        #[arg(long, default_value_t = 0)]
        limit: usize,
    },
    /// Sets KEY to NEW if it holds EXPECTED: `cas KEY EXPECTED NEW`, or
    /// `cas --expect-absent KEY NEW` to set it only if it has no value.
    /// Exit code 3 if it did not swap; the value found is printed.
    Cas {
        key: String,
        /// EXPECTED NEW, or just NEW with --expect-absent.
        #[arg(num_args = 1..=2, required = true)]
        values: Vec<String>,
        /// Swap only if KEY has no value (then EXPECTED is left out).
        #[arg(long)]
        expect_absent: bool,
    },
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

/// The exit code of `get` or `del` of a key with no value.
const EXIT_NO_KEY: i32 = 2;
/// The exit code of a `cas` that did not swap.
const EXIT_NOT_SWAPPED: i32 = 3;
/// Keys per Scan page when no smaller `--limit` is asked for.
const SCAN_PAGE: usize = 1000;

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
                Ok(EXIT_NO_KEY)
            }
        },
        Cmd::Put { key, value } => clerk.put(key, value).map(|_| 0).map_err(Into::into),
        Cmd::Append { key, value } => clerk.append(key, value).map(|_| 0).map_err(Into::into),
        Cmd::Del { key } => {
            if clerk.delete(key)? {
                Ok(0)
            } else {
                eprintln!("kvctl: {key}: no such key");
                Ok(EXIT_NO_KEY)
            }
        }
        Cmd::Scan { start, end, limit } => scan(
            &clerk,
            start.as_deref().unwrap_or(""),
            end.as_deref().unwrap_or(""),
            *limit,
        ),
        Cmd::Cas {
            key,
            values,
            expect_absent,
        } => cas(&clerk, key, values, *expect_absent),
        Cmd::Status | Cmd::Member { .. } | Cmd::TransferLeader { .. } => {
            unreachable!("handled above")
        }
    }
}

/// Prints the keys of [start, end), at most `limit` of them (0: all).
fn scan(clerk: &Clerk, start: &str, end: &str, limit: usize) -> anyhow::Result<i32> {
    let page_size = if limit == 0 {
        SCAN_PAGE
    } else {
        limit.min(SCAN_PAGE)
    };
    let mut out = std::io::stdout().lock();
    let mut printed = 0;
    let mut next = Some(start.as_bytes().to_vec());
    while let Some(from) = next.take() {
        if limit != 0 && printed == limit {
            eprintln!(
                "kvctl: stopped after {limit} keys; the next is {:?}",
                String::from_utf8_lossy(&from)
            );
            break;
        }
        let want = if limit == 0 {
            page_size
        } else {
            page_size.min(limit - printed)
        };
        let page = clerk.scan_page(&from, end.as_bytes(), u32::try_from(want)?)?;
        for (key, value) in &page.items {
            writeln!(
                out,
                "{}\t{}",
                String::from_utf8_lossy(key),
                String::from_utf8_lossy(value)
            )?;
        }
        printed += page.items.len();
        next = page.next_key;
    }
    Ok(0)
}

/// `cas KEY EXPECTED NEW` or `cas --expect-absent KEY NEW`.
fn cas(clerk: &Clerk, key: &str, values: &[String], expect_absent: bool) -> anyhow::Result<i32> {
    let (expected, new) = match (expect_absent, values) {
        (false, [expected, new]) => (Some(expected.as_bytes()), new),
        (true, [new]) => (None, new),
        (false, _) => anyhow::bail!("cas needs KEY EXPECTED NEW (or --expect-absent KEY NEW)"),
        (true, _) => anyhow::bail!("with --expect-absent, cas takes KEY NEW (no EXPECTED)"),
    };
    match clerk.cas(key, expected, new)? {
        CasOutcome::Swapped => Ok(0),
        CasOutcome::NotSwapped {
            current: Some(current),
        } => {
            println!("{}", String::from_utf8_lossy(&current));
            eprintln!("kvctl: {key}: not swapped; it holds the value printed");
            Ok(EXIT_NOT_SWAPPED)
        }
        CasOutcome::NotSwapped { current: None } => {
            eprintln!("kvctl: {key}: not swapped; it has no value");
            Ok(EXIT_NOT_SWAPPED)
        }
    }
}
