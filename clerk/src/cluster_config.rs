//! The cluster config file (the original's `test.conf`, read there by
//! MprpcConfig): one `key=value` per line, `node<i>ip` and `node<i>port` for
//! every node `i` from 0 up.
//!
//! ```text
//! # a three-node cluster on one machine
//! node0ip=127.0.0.1
//! node0port=29016
//! node1ip=127.0.0.1
//! node1port=29017
//! node2ip=127.0.0.1
//! node2port=29018
//! ```
//!
//! Unlike the original, which stopped silently at the first missing node and
//! let a repeated key overwrite an earlier one, every mistake is an error that
//! names the file and line: a repeated key, an unknown key, a node with an ip
//! but no port, a gap in the node numbers, a port that is not a number.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

/// Why a config file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {reason}")]
    Syntax {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

/// One node's address as written in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeAddr {
    pub host: String,
    pub port: u16,
}

impl NodeAddr {
    /// Resolves the host (an IP or a name) to a socket address.
    pub fn resolve(&self) -> std::io::Result<SocketAddr> {
        (self.host.as_str(), self.port)
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("{} resolves to no address", self.host),
                )
            })
    }
}

impl std::fmt::Display for NodeAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// The nodes of a cluster, indexed by node id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterConfig {
    pub nodes: Vec<NodeAddr>,
}

impl ClusterConfig {
    /// Reads and validates a config file.
    pub fn load(path: impl AsRef<Path>) -> Result<ClusterConfig, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses config text; `path` only names the source in errors.
    pub fn parse(text: &str, path: &Path) -> Result<ClusterConfig, ConfigError> {
        let syntax = |line: usize, reason: String| ConfigError::Syntax {
            path: path.to_path_buf(),
            line,
            reason,
        };
        let mut hosts: BTreeMap<usize, (usize, String)> = BTreeMap::new();
        let mut ports: BTreeMap<usize, (usize, u16)> = BTreeMap::new();
        for (number, raw) in text.lines().enumerate() {
            let line_no = number + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with("//") {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                return Err(syntax(
                    line_no,
                    format!("expected key=value, found {line:?}"),
                ));
            };
            let (key, value) = (key.trim(), value.trim());
            let (id, field) = parse_key(key).ok_or_else(|| {
                syntax(
                    line_no,
                    format!("unknown key {key:?} (expected node<N>ip or node<N>port)"),
                )
            })?;
            if value.is_empty() {
                return Err(syntax(line_no, format!("{key} has no value")));
            }
            let previous = match field {
                Field::Ip => hosts
                    .insert(id, (line_no, value.to_string()))
                    .map(|(line, _)| line),
                Field::Port => {
                    let port = value
                        .parse::<u16>()
                        .ok()
                        .filter(|p| *p != 0)
                        .ok_or_else(|| {
                            syntax(line_no, format!("{key}={value} is not a port (1-65535)"))
                        })?;
                    ports.insert(id, (line_no, port)).map(|(line, _)| line)
                }
            };
            if let Some(first) = previous {
                return Err(syntax(
                    line_no,
                    format!("{key} is given twice (first on line {first})"),
                ));
            }
        }
        let invalid = |reason: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        if hosts.is_empty() && ports.is_empty() {
            return Err(invalid(
                "no nodes (expected node0ip=… and node0port=…)".into(),
            ));
        }
        let count = hosts.len().max(ports.len());
        let mut nodes = Vec::with_capacity(count);
        for id in 0..count {
            let host = hosts.get(&id).map(|(_, h)| h.clone());
            let port = ports.get(&id).map(|(_, p)| *p);
            match (host, port) {
                (Some(host), Some(port)) => nodes.push(NodeAddr { host, port }),
                (Some(_), None) => return Err(invalid(format!("node{id}ip has no node{id}port"))),
                (None, Some(_)) => return Err(invalid(format!("node{id}port has no node{id}ip"))),
                (None, None) => {
                    return Err(invalid(format!(
                        "node{id} is missing: node ids must run from 0 without gaps"
                    )))
                }
            }
        }
        if let Some(extra) = hosts.keys().chain(ports.keys()).find(|id| **id >= count) {
            return Err(invalid(format!(
                "node{extra} is given but node ids must run from 0 without gaps"
            )));
        }
        Ok(ClusterConfig { nodes })
    }

    /// Resolves every node's address, in node-id order.
    pub fn resolve_all(&self) -> Result<Vec<SocketAddr>, ConfigError> {
        self.nodes
            .iter()
            .enumerate()
            .map(|(id, node)| {
                node.resolve().map_err(|e| ConfigError::Invalid {
                    path: PathBuf::new(),
                    reason: format!("node{id} address {node}: {e}"),
                })
            })
            .collect()
    }

    /// The file text for these nodes, in the same format [`parse`](Self::parse) reads.
    pub fn render(&self) -> String {
        let mut text = String::new();
        for (id, node) in self.nodes.iter().enumerate() {
            let _ = writeln!(text, "node{id}ip={}\nnode{id}port={}", node.host, node.port);
        }
        text
    }
}

enum Field {
    Ip,
    Port,
}

fn parse_key(key: &str) -> Option<(usize, Field)> {
    let rest = key.strip_prefix("node")?;
    let (digits, field) = if let Some(d) = rest.strip_suffix("ip") {
        (d, Field::Ip)
    } else {
        (rest.strip_suffix("port")?, Field::Port)
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((digits.parse().ok()?, field))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ClusterConfig, ConfigError> {
        ClusterConfig::parse(text, Path::new("test.conf"))
    }

    #[test]
    fn reads_the_original_format() {
        let config = parse(
            "node0ip=127.0.1.1\nnode0port=29016\n# comment\n\nnode1ip=127.0.1.1\nnode1port=29017\n",
        )
        .unwrap();
        assert_eq!(config.nodes.len(), 2);
        assert_eq!(config.nodes[1].to_string(), "127.0.1.1:29017");
        assert_eq!(parse(&config.render()).unwrap(), config);
    }

    #[test]
    fn a_repeated_key_names_both_lines() {
        let err = parse("node0ip=a\nnode0port=1\nnode0port=2\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "test.conf:3: node0port is given twice (first on line 2)"
        );
    }

    #[test]
    fn mistakes_are_errors_not_silence() {
        let cases = [
            ("", "no nodes"),
            ("node0ip=a\n", "node0ip has no node0port"),
            (
                "node0ip=a\nnode0port=1\nnode2ip=b\nnode2port=2\n",
                "node1 is missing",
            ),
            ("node0ip=a\nnode0port=http\n", "is not a port"),
            ("node0ip=a\nnode0port=0\n", "is not a port"),
            ("node0ip=a\nnode0port=70000\n", "is not a port"),
            ("nodeXip=a\n", "unknown key"),
            ("hello\n", "expected key=value"),
            ("node0ip=\n", "has no value"),
        ];
        for (text, expected) in cases {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(expected), "{text:?} gave {err:?}");
        }
    }

    #[test]
    fn missing_file_is_a_read_error() {
        let err = ClusterConfig::load("/nonexistent/raftkv.conf").unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }), "{err}");
    }

    #[test]
    fn resolves_ip_literals() {
        let config = parse("node0ip=127.0.0.1\nnode0port=4000\n").unwrap();
        assert_eq!(
            config.resolve_all().unwrap(),
            vec!["127.0.0.1:4000".parse().unwrap()]
        );
    }
}
