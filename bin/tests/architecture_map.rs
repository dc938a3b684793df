//! docs/ARCHITECTURE.md's side-by-side map with the C++ original stays true: every
//! `path/to/file.rs::function` it names is a `fn function` in that file, every row names at
//! least one, and every Raft method a student will look for has a row.

use std::path::{Path, PathBuf};

/// Where the map starts in docs/ARCHITECTURE.md; it runs to the end of the file.
const MAP_HEADING: &str = "## The original, side by side";

/// The C++ names that must each head a row (raft.h's methods, both halves of the two
/// leader-side sends, and the pieces of util.h, config.h, the RPC layer and the fiber
/// library the map promises).
const REQUIRED: &[&str] = &[
    "AppendEntries1",
    "applierTicker",
    "CondInstallSnapshot",
    "doElection",
    "doHeartBeat",
    "electionTimeOutTicker",
    "getApplyLogs",
    "getNewCommandIndex",
    "getPrevLogInfo",
    "GetState",
    "InstallSnapshot",
    "leaderHearBeatTicker",
    "leaderSendSnapShot",
    "leaderUpdateCommitIndex",
    "matchLog",
    "persist",
    "RequestVote",
    "UpToDate",
    "getLastLogIndex",
    "getLastLogTerm",
    "getLastLogIndexAndTerm",
    "getLogTermFromLogIndex",
    "GetRaftStateSize",
    "getSlicesIndexFromLogIndex",
    "sendRequestVote",
    "sendAppendEntries",
    "pushMsgToKvServer",
    "readPersist",
    "persistData",
    "BoostPersistRaftNode",
    "Start",
    "Snapshot",
    "init",
    "RaftRpcUtil",
    "MprpcApplication",
    "Op",
    "HeartBeatTimeout",
    "getRandomizedElectionTimeout",
    "myAssert",
    "getReleasePort",
    "ErrWrongLeader",
    "Fiber",
    "Scheduler",
    "IOManager",
    "TimerManager",
    "FdManager",
    "example/fiberExample",
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bin/ has a parent")
        .to_path_buf()
}

fn map_text() -> String {
    let doc = std::fs::read_to_string(repo_root().join("docs/ARCHITECTURE.md"))
        .expect("docs/ARCHITECTURE.md is readable");
    let start = doc
        .find(MAP_HEADING)
        .unwrap_or_else(|| panic!("docs/ARCHITECTURE.md has no {MAP_HEADING:?} section"));
    doc[start..].to_string()
}

/// The text of every `code span` in `text`.
fn code_spans(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// A `path/to/file.rs::function` reference, split; `None` for any other code span.
fn reference(span: &str) -> Option<(&str, &str)> {
    let (path, function) = span.split_once(".rs::")?;
    let path_ok = !path.is_empty()
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-/".contains(c));
    let function_ok = !function.is_empty()
        && function
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    (path_ok && function_ok).then(|| (&span[..path.len() + 3], function))
}

/// Why `path::function` does not resolve under `root`, if it does not.
fn unresolved(root: &Path, path: &str, function: &str) -> Option<String> {
    let Ok(source) = std::fs::read_to_string(root.join(path)) else {
        return Some(format!("{path}::{function}: no such file"));
    };
    let needle = format!("fn {function}");
    let defined = source.match_indices(&needle).any(|(at, _)| {
        let before = source[..at].chars().next_back();
        let after = source[at + needle.len()..].chars().next();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
            && matches!(after, Some('(') | Some('<'))
    });
    (!defined).then(|| format!("{path}::{function}: no `fn {function}` in {path}"))
}

/// The table rows of the map, without header and separator rows.
fn table_rows(map: &str) -> Vec<&str> {
    let lines: Vec<&str> = map.lines().collect();
    lines
        .iter()
        .enumerate()
        .filter(|(i, line)| {
            let is_row = line.starts_with('|') && !line.starts_with("|---");
            let is_header = lines
                .get(i + 1)
                .is_some_and(|next| next.starts_with("|---"));
            is_row && !is_header
        })
        .map(|(_, line)| *line)
        .collect()
}

#[test]
fn every_named_rust_function_exists() {
    let map = map_text();
    let root = repo_root();
    let references: Vec<(&str, &str)> =
        code_spans(&map).into_iter().filter_map(reference).collect();
    assert!(
        references.len() > 100,
        "only {} references found: is the notation still path.rs::function?",
        references.len()
    );
    let broken: Vec<String> = references
        .iter()
        .filter_map(|(path, function)| unresolved(&root, path, function))
        .collect();
    assert!(
        broken.is_empty(),
        "the map names functions that do not exist:\n{}",
        broken.join("\n")
    );
}

#[test]
fn every_row_names_a_rust_function() {
    let map = map_text();
    let rows = table_rows(&map);
    assert!(rows.len() > 60, "only {} rows", rows.len());
    let bare: Vec<&str> = rows
        .iter()
        .filter(|row| !code_spans(row).into_iter().any(|s| reference(s).is_some()))
        .copied()
        .collect();
    assert!(
        bare.is_empty(),
        "rows naming no Rust function:\n{}",
        bare.join("\n")
    );
}

#[test]
fn every_method_a_student_looks_for_has_a_row() {
    let map = map_text();
    let first_cells: Vec<&str> = table_rows(&map)
        .into_iter()
        .filter_map(|row| row.split('|').nth(1))
        .collect();
    let heads_a_row = |name: &str| {
        first_cells.iter().any(|cell| {
            code_spans(cell).into_iter().any(|span| {
                span.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '/'))
                    .any(|word| word == name)
            })
        })
    };
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|n| !heads_a_row(n))
        .collect();
    assert!(missing.is_empty(), "no row for: {missing:?}");
    // Both halves of the two sends that the original did in one function each.
    for split in ["sendAppendEntries", "leaderSendSnapShot"] {
        let halves = first_cells
            .iter()
            .filter(|c| c.contains(&format!("`{split}`")) && c.contains("half"))
            .count();
        assert_eq!(halves, 2, "{split} should have a row for each half");
    }
}

#[test]
fn the_checker_catches_a_wrong_name() {
    let root = repo_root();
    assert_eq!(
        reference("raft/src/log.rs::check_append"),
        Some(("raft/src/log.rs", "check_append"))
    );
    assert_eq!(reference("raft::Raft"), None);
    assert!(unresolved(&root, "raft/src/log.rs", "check_append").is_none());
    // A prefix of a real name is not that name.
    assert!(unresolved(&root, "raft/src/log.rs", "check_appen").is_some());
    assert!(unresolved(&root, "raft/src/log.rs", "no_such_function").is_some());
    assert!(unresolved(&root, "raft/src/no_such_file.rs", "check_append").is_some());
    let rows = table_rows("| a | b |\n|---|---|\n| `x` | `raft/src/log.rs::term` |\n");
    assert_eq!(rows, vec!["| `x` | `raft/src/log.rs::term` |"]);
}
