//! The other end of `/metrics`, for tests and tools: a blocking HTTP GET,
//! and a strict reader of the Prometheus text format (version 0.0.4) that
//! refuses anything a Prometheus server would, and a little more.
//!
//! Checked: every line is a `# HELP`, a `# TYPE`, another comment, or a
//! sample `name{label="value",…} value [timestamp]`; names and label names
//! are valid; label values are properly escaped; each family is declared
//! once, its TYPE before its samples, its samples together; every sample
//! belongs to a declared family (a histogram's `_bucket`, `_sum`, `_count`);
//! no series appears twice; counters are not negative; a histogram's
//! buckets ascend by `le`, never decrease, and end in `+Inf` equal to its
//! `_count`.

use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// One sample line.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A metric family: its declaration and samples, in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Family {
    pub name: String,
    pub kind: String,
    pub help: Option<String>,
    pub samples: Vec<Sample>,
}

/// A parsed scrape.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scrape {
    pub families: Vec<Family>,
}

impl Scrape {
    /// The family called `name`.
    pub fn family(&self, name: &str) -> Option<&Family> {
        self.families.iter().find(|f| f.name == name)
    }

    /// The sum of the samples called `name` whose labels include all of
    /// `labels`; `None` if there is none.
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let matching: Vec<f64> = self
            .families
            .iter()
            .flat_map(|f| &f.samples)
            .filter(|s| s.name == name)
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
            .collect();
        (!matching.is_empty()).then(|| matching.iter().sum())
    }
}

/// What is wrong with a scrape, and on which line (1-based).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct ParseError {
    pub line: usize,
    pub reason: String,
}

const KINDS: [&str; 5] = ["counter", "gauge", "histogram", "summary", "untyped"];

/// Parses `text` strictly (see the module docs).
pub fn parse(text: &str) -> Result<Scrape, ParseError> {
    if !text.is_empty() && !text.ends_with('\n') {
        return Err(ParseError {
            line: text.lines().count(),
            reason: "the last line has no newline".into(),
        });
    }
    let mut scrape = Scrape::default();
    let mut helps: BTreeMap<String, String> = BTreeMap::new();
    let mut series_seen = HashSet::new();
    let mut closed: HashSet<String> = HashSet::new();
    for (i, line) in text.lines().enumerate() {
        let fail = |reason: String| ParseError {
            line: i + 1,
            reason,
        };
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            check_name(name).map_err(fail)?;
            if helps
                .insert(name.to_string(), unescape_help(help))
                .is_some()
            {
                return Err(fail(format!("a second HELP for {name}")));
            }
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest
                .split_once(' ')
                .ok_or_else(|| fail("TYPE without a type".into()))?;
            check_name(name).map_err(fail)?;
            if !KINDS.contains(&kind) {
                return Err(fail(format!("unknown type {kind:?}")));
            }
            if closed.contains(name) || scrape.family(name).is_some() {
                return Err(fail(format!("a second TYPE for {name}")));
            }
            if let Some(open) = scrape.families.last() {
                closed.insert(open.name.clone());
            }
            scrape.families.push(Family {
                name: name.to_string(),
                kind: kind.to_string(),
                help: None,
                samples: Vec::new(),
            });
        } else if line.starts_with('#') || line.trim().is_empty() {
            continue;
        } else {
            let sample = parse_sample(line).map_err(fail)?;
            let family = scrape
                .families
                .last_mut()
                .filter(|f| belongs(&sample.name, f))
                .ok_or_else(|| {
                    fail(format!(
                        "sample {} outside its family (undeclared, or not with the rest of it)",
                        sample.name
                    ))
                })?;
            if family.kind == "counter" && (sample.value.is_nan() || sample.value < 0.0) {
                return Err(fail(format!("counter {} is {}", sample.name, sample.value)));
            }
            if !series_seen.insert((sample.name.clone(), sample.labels.clone())) {
                return Err(fail(format!("series {} twice", sample.name)));
            }
            family.samples.push(sample);
        }
    }
    for family in &mut scrape.families {
        family.help = helps.remove(&family.name);
        if family.kind == "histogram" {
            check_histogram(family).map_err(|reason| ParseError { line: 0, reason })?;
        }
    }
    if let Some(name) = helps.keys().next() {
        return Err(ParseError {
            line: 0,
            reason: format!("HELP for {name}, which has no TYPE"),
        });
    }
    Ok(scrape)
}

/// Whether a sample called `name` is part of `family`.
fn belongs(name: &str, family: &Family) -> bool {
    match family.kind.as_str() {
        "histogram" => ["_bucket", "_sum", "_count"]
            .iter()
            .any(|suffix| name.strip_suffix(suffix) == Some(&family.name)),
        "summary" => {
            name == family.name
                || ["_sum", "_count"]
                    .iter()
                    .any(|suffix| name.strip_suffix(suffix) == Some(&family.name))
        }
        _ => name == family.name,
    }
}

fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
        Ok(())
    } else {
        Err(format!("invalid metric name {name:?}"))
    }
}

fn check_label_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(())
    } else {
        Err(format!("invalid label name {name:?}"))
    }
}

fn unescape_help(help: &str) -> String {
    help.replace("\\n", "\n").replace("\\\\", "\\")
}

fn parse_value(text: &str) -> Result<f64, String> {
    match text {
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => text
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| format!("invalid value {text:?}")),
    }
}

/// `name{labels} value [timestamp]`.
fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or("a sample without a value")?;
    let name = &line[..name_end];
    check_name(name)?;
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(after) = rest.strip_prefix('{') {
        rest = parse_labels(after, &mut labels)?;
    }
    let rest = rest.strip_prefix(' ').ok_or("no space before the value")?;
    let mut fields = rest.split(' ');
    let value = parse_value(fields.next().unwrap_or(""))?;
    if let Some(timestamp) = fields.next() {
        timestamp
            .parse::<i64>()
            .map_err(|_| format!("invalid timestamp {timestamp:?}"))?;
    }
    if fields.next().is_some() {
        return Err("extra fields after the timestamp".into());
    }
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// Reads `label="value",…}` into `labels`; returns what follows the `}`.
fn parse_labels<'a>(
    mut text: &'a str,
    labels: &mut BTreeMap<String, String>,
) -> Result<&'a str, String> {
    loop {
        if let Some(rest) = text.strip_prefix('}') {
            return Ok(rest);
        }
        let (name, after) = text.split_once("=\"").ok_or("a label without =\"")?;
        check_label_name(name)?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err("an unterminated label value".into()),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    _ => return Err("an invalid escape in a label value".into()),
                },
                Some((_, c)) => value.push(c),
            }
        };
        if labels.insert(name.to_string(), value).is_some() {
            return Err(format!("label {name} twice"));
        }
        text = &after[end + 1..];
        if let Some(rest) = text.strip_prefix(',') {
            text = rest;
        } else if !text.starts_with('}') {
            return Err("labels must be separated by commas".into());
        }
    }
}

/// A histogram's series: buckets ascending and cumulative, ending in +Inf
/// equal to `_count`, with a `_sum`.
fn check_histogram(family: &Family) -> Result<(), String> {
    let name = &family.name;
    let mut series: BTreeMap<Vec<(String, String)>, Vec<&Sample>> = BTreeMap::new();
    for sample in &family.samples {
        let key = sample
            .labels
            .iter()
            .filter(|(k, _)| *k != "le")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        series.entry(key).or_default().push(sample);
    }
    for (labels, samples) in series {
        let mut last: Option<(f64, f64)> = None;
        let (mut sum, mut count) = (None, None);
        for s in samples {
            if s.name.ends_with("_bucket") {
                let le = s
                    .labels
                    .get("le")
                    .ok_or_else(|| format!("{name}: a bucket without le"))
                    .and_then(|le| parse_value(le))?;
                if let Some((last_le, last_n)) = last {
                    if le <= last_le || s.value < last_n {
                        return Err(format!("{name}{labels:?}: buckets out of order at le={le}"));
                    }
                }
                last = Some((le, s.value));
            } else if s.name.ends_with("_sum") {
                sum = Some(s.value);
            } else {
                count = Some(s.value);
            }
        }
        let (Some(_), Some(count)) = (sum, count) else {
            return Err(format!("{name}{labels:?}: no _sum or no _count"));
        };
        match last {
            Some((le, n)) if le == f64::INFINITY && n == count => {}
            _ => {
                return Err(format!(
                    "{name}{labels:?}: the last bucket is not +Inf = _count"
                ))
            }
        }
    }
    Ok(())
}

/// `GET path` from `addr` with a bare HTTP/1.1 request: the status code and
/// the body. Errors for no answer or one that is not HTTP.
pub fn get(addr: SocketAddr, path: &str, timeout: Duration) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let response = String::from_utf8_lossy(&response);
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| bad("no end of the HTTP header"))?;
    let code = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| bad("no HTTP status code"))?;
    Ok((code, body.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "\
# HELP up_total Things, with a \\\\ backslash
# TYPE up_total counter
up_total{peer=\"1\",rpc=\"a\\\"b\"} 3
up_total{peer=\"2\",rpc=\"x\"} 0
# TYPE t gauge
t -1
# TYPE lat histogram
lat_bucket{op=\"get\",le=\"0.1\"} 1
lat_bucket{op=\"get\",le=\"+Inf\"} 2
lat_sum{op=\"get\"} 3.5
lat_count{op=\"get\"} 2
";

    #[test]
    fn a_well_formed_scrape_parses() {
        let s = parse(GOOD).unwrap();
        assert_eq!(s.families.len(), 3);
        assert_eq!(s.sum("up_total", &[]), Some(3.0));
        assert_eq!(s.sum("up_total", &[("rpc", "a\"b")]), Some(3.0));
        assert_eq!(s.sum("t", &[]), Some(-1.0));
        assert_eq!(s.sum("lat_count", &[("op", "get")]), Some(2.0));
        assert_eq!(s.sum("nothing", &[]), None);
        assert_eq!(
            s.family("up_total").unwrap().help.as_deref(),
            Some("Things, with a \\ backslash")
        );
    }

    #[test]
    fn every_kind_of_damage_is_refused() {
        let damaged = [
            GOOD.trim_end_matches('\n').to_string(),
            GOOD.replace("# TYPE t gauge\n", ""),
            GOOD.replace("t -1", "t minus one"),
            GOOD.replace("peer=\"1\"", "peer=1"),
            GOOD.replace("peer=\"1\"", "1peer=\"1\""),
            GOOD.replace(
                "up_total{peer=\"2\",rpc=\"x\"}",
                "up_total{peer=\"1\",rpc=\"a\\\"b\"}",
            ),
            GOOD.replace("rpc=\"x\"} 0", "rpc=\"x\"} -2"),
            GOOD.replace("le=\"+Inf\"} 2", "le=\"+Inf\"} 0"),
            GOOD.replace("lat_count{op=\"get\"} 2", "lat_count{op=\"get\"} 5"),
            GOOD.replace("lat_sum{op=\"get\"} 3.5\n", ""),
            GOOD.replace("# TYPE lat histogram", "# TYPE lat counter"),
            GOOD.replace("gauge", "gauges"),
            GOOD.to_string() + "up_total{peer=\"3\"} 1\n",
            GOOD.to_string() + "# TYPE t gauge\n",
            GOOD.replace("a\\\"b", "a\\qb"),
            GOOD.replace("t -1", "t -1 12 extra"),
        ];
        for (i, text) in damaged.iter().enumerate() {
            assert!(parse(text).is_err(), "damage {i} was accepted:\n{text}");
        }
    }
}
