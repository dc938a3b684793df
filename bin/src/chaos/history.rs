//! What the chaos clients did, and the check that it is what one correct
//! store could have done.
//!
//! Every write is an Append of a token no other write uses, so a key's
//! final value is the order in which its writes took effect. Against that
//! order, per key:
//! - every acknowledged Append is in it, and no token is in it twice or
//!   without having been sent (nothing lost, nothing applied twice);
//! - it respects real time: an Append acknowledged before another began
//!   comes first;
//! - every Get returned a prefix of it, holding every Append acknowledged
//!   before the Get began and none begun after it ended, and a Get that
//!   began after another ended saw at least as much.
//!
//! Times are microseconds since the run began. An Append whose outcome the
//! client never learned has no `acked` time: it may or may not be there.
//!
//! A Get keeps a digest of what it read, not the value: values only grow,
//! so a long run with padded tokens read gigabytes in all (a 600 s run with
//! `--pad 2000` was killed for memory at 23 GB after 175 s).

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hasher};

/// One Append: which key, its token, when it began and when it was
/// acknowledged (`None`: the client gave up, outcome unknown).
#[derive(Clone, Debug)]
pub struct Append {
    pub key: usize,
    pub token: String,
    pub invoked: u64,
    pub acked: Option<u64>,
}

/// One Get that was answered.
#[derive(Clone, Debug)]
pub struct Get {
    pub key: usize,
    pub invoked: u64,
    pub returned: u64,
    /// What it read, or why that is not a list of tokens.
    pub read: Result<Digest, String>,
}

impl Get {
    /// A Get of `key` that read `value`.
    pub fn new(key: usize, invoked: u64, returned: u64, value: &[u8]) -> Get {
        Get {
            key,
            invoked,
            returned,
            read: tokens(value).map(|tokens| {
                let mut digester = Digester::new();
                tokens.iter().for_each(|token| digester.add(token));
                digester.digest()
            }),
        }
    }
}

/// A value read: how many tokens it held, and a 64-bit hash of its bytes
/// (two values that differ are taken for equal once in 2^64).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Digest {
    pub tokens: usize,
    hash: u64,
}

/// Digests a list of tokens one token at a time, so the digest of a read
/// and those of a final value's prefixes are made the same way.
struct Digester {
    hasher: DefaultHasher,
    tokens: usize,
}

impl Digester {
    fn new() -> Digester {
        Digester {
            hasher: DefaultHasher::new(),
            tokens: 0,
        }
    }

    fn add(&mut self, token: &str) {
        self.hasher.write(token.as_bytes());
        self.hasher.write_u8(TOKEN_END);
        self.tokens += 1;
    }

    /// The digest of the tokens added so far.
    fn digest(&self) -> Digest {
        Digest {
            tokens: self.tokens,
            hash: self.hasher.finish(),
        }
    }
}

/// The digests of every prefix of a list of tokens, from one pass.
struct Prefixes(Vec<Digest>);

impl Prefixes {
    fn of(tokens: &[&str]) -> Prefixes {
        let mut digester = Digester::new();
        let mut digests = Vec::with_capacity(tokens.len() + 1);
        digests.push(digester.digest());
        for token in tokens {
            digester.add(token);
            digests.push(digester.digest());
        }
        Prefixes(digests)
    }

    /// Whether `read` is how the value begins.
    fn begins(&self, read: &Digest) -> bool {
        self.0.get(read.tokens) == Some(read)
    }
}

/// Everything the clients did.
#[derive(Default, Debug)]
pub struct History {
    pub appends: Vec<Append>,
    pub gets: Vec<Get>,
}

/// Ends every token, so a value splits back into its tokens.
pub const TOKEN_END: u8 = b';';

/// The tokens a value holds, in order.
pub fn tokens(value: &[u8]) -> Result<Vec<&str>, String> {
    if value.is_empty() {
        return Ok(Vec::new());
    }
    let Some(body) = value.strip_suffix(&[TOKEN_END]) else {
        return Err(format!(
            "a value that does not end a token: ...{:?}",
            tail(value)
        ));
    };
    body.split(|&b| b == TOKEN_END)
        .map(|t| std::str::from_utf8(t).map_err(|_| format!("a token that is not text: {t:?}")))
        .collect()
}

fn tail(value: &[u8]) -> String {
    let from = value.len().saturating_sub(40);
    String::from_utf8_lossy(&value[from..]).into_owned()
}

/// Checks the history against each key's final value (`finals[key]`).
/// Returns every violation found, in words; empty means none.
pub fn check(history: &History, finals: &[Vec<u8>]) -> Vec<String> {
    let mut problems = Vec::new();
    for (key, value) in finals.iter().enumerate() {
        let appends: Vec<&Append> = history.appends.iter().filter(|a| a.key == key).collect();
        let gets: Vec<&Get> = history.gets.iter().filter(|g| g.key == key).collect();
        match tokens(value) {
            Ok(order) => check_key(key, &order, &appends, &gets, &mut problems),
            Err(e) => problems.push(format!("key {key}: final value: {e}")),
        }
    }
    problems
}

fn check_key(
    key: usize,
    order: &[&str],
    appends: &[&Append],
    gets: &[&Get],
    problems: &mut Vec<String>,
) {
    let by_token: HashMap<&str, &Append> = appends.iter().map(|a| (a.token.as_str(), *a)).collect();
    let mut seen = HashMap::new();
    let mut placed = Vec::with_capacity(order.len());
    for (at, token) in order.iter().enumerate() {
        if let Some(first) = seen.insert(*token, at) {
            problems.push(format!(
                "key {key}: {token} applied twice (at {first} and {at})"
            ));
        }
        match by_token.get(token) {
            Some(append) => placed.push(*append),
            None => {
                problems.push(format!("key {key}: {token} in the value but never sent"));
                return;
            }
        }
    }
    for append in appends {
        if append.acked.is_some() && !seen.contains_key(append.token.as_str()) {
            problems.push(format!(
                "key {key}: {} acknowledged at {} µs but lost",
                append.token,
                append.acked.unwrap_or_default()
            ));
        }
    }
    // first_ack_from[i]: the earliest acknowledgement among placed[i..].
    let mut first_ack_from = vec![u64::MAX; placed.len() + 1];
    for i in (0..placed.len()).rev() {
        first_ack_from[i] = first_ack_from[i + 1].min(placed[i].acked.unwrap_or(u64::MAX));
    }
    for (i, append) in placed.iter().enumerate() {
        if first_ack_from[i + 1] < append.invoked {
            problems.push(format!(
                "key {key}: {} took effect after a later Append that was acknowledged \
                 before it began",
                append.token
            ));
        }
    }
    // last_invoke_through[l]: the latest start among placed[..l].
    let mut last_invoke_through = vec![0u64; placed.len() + 1];
    for (i, append) in placed.iter().enumerate() {
        last_invoke_through[i + 1] = last_invoke_through[i].max(append.invoked);
    }
    let prefixes = Prefixes::of(order);
    let mut seen_lens = Vec::with_capacity(gets.len());
    for get in gets {
        let read = match &get.read {
            Ok(read) => read,
            Err(e) => {
                problems.push(format!("key {key}: Get at {} µs: {e}", get.invoked));
                continue;
            }
        };
        let len = read.tokens;
        if !prefixes.begins(read) {
            problems.push(format!(
                "key {key}: Get at {} µs read {len} tokens that are not how the value begins",
                get.invoked
            ));
            continue;
        }
        if first_ack_from[len] < get.invoked {
            problems.push(format!(
                "key {key}: stale Get at {} µs: it missed an Append acknowledged before it began",
                get.invoked
            ));
        }
        if last_invoke_through[len] > get.returned {
            problems.push(format!(
                "key {key}: Get at {} µs saw an Append begun after it returned",
                get.invoked
            ));
        }
        seen_lens.push((get.invoked, get.returned, len));
    }
    check_reads_in_real_time(key, &mut seen_lens, problems);
}

/// A Get that began after another returned must see at least as much.
fn check_reads_in_real_time(
    key: usize,
    reads: &mut [(u64, u64, usize)],
    problems: &mut Vec<String>,
) {
    let mut by_return: Vec<(u64, usize)> = reads.iter().map(|&(_, r, l)| (r, l)).collect();
    by_return.sort_unstable();
    reads.sort_unstable();
    let (mut next, mut most) = (0, 0);
    for &(invoked, _, len) in reads.iter() {
        while next < by_return.len() && by_return[next].0 < invoked {
            most = most.max(by_return[next].1);
            next += 1;
        }
        if len < most {
            problems.push(format!(
                "key {key}: Get at {invoked} µs saw {len} tokens, an earlier Get had seen {most}"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn append(token: &str, invoked: u64, acked: Option<u64>) -> Append {
        Append {
            key: 0,
            token: token.into(),
            invoked,
            acked,
        }
    }

    fn get(invoked: u64, returned: u64, value: &str) -> Get {
        Get::new(0, invoked, returned, value.as_bytes())
    }

    fn problems(appends: Vec<Append>, gets: Vec<Get>, last: &str) -> Vec<String> {
        check(&History { appends, gets }, &[last.as_bytes().to_vec()])
    }

    fn two_appends() -> Vec<Append> {
        vec![append("a", 0, Some(10)), append("b", 20, Some(30))]
    }

    #[test]
    fn a_correct_history_passes() {
        let appends = vec![
            append("a", 0, Some(10)),
            append("b", 5, Some(40)),
            append("c", 6, None),
        ];
        let gets = vec![get(11, 12, "a;"), get(13, 50, "a;b;"), get(60, 61, "a;b;")];
        assert_eq!(problems(appends, gets, "a;b;"), Vec::<String>::new());
    }

    #[test]
    fn a_lost_a_doubled_and_a_phantom_write_are_found() {
        assert!(problems(two_appends(), vec![], "a;")[0].contains("lost"));
        assert!(problems(two_appends(), vec![], "a;b;a;")[0].contains("twice"));
        assert!(problems(two_appends(), vec![], "a;b;z;")[0].contains("never sent"));
    }

    #[test]
    fn writes_out_of_real_time_order_are_found() {
        let found = problems(two_appends(), vec![], "b;a;");
        assert!(found[0].contains("after a later Append"), "{found:?}");
    }

    #[test]
    fn stale_reads_and_reads_from_the_future_are_found() {
        let stale = problems(two_appends(), vec![get(35, 36, "a;")], "a;b;");
        assert!(stale[0].contains("stale"), "{stale:?}");
        let future = problems(two_appends(), vec![get(12, 15, "a;b;")], "a;b;");
        assert!(future[0].contains("begun after"), "{future:?}");
        for read in ["b;", "a;c;", "ab;", "a;b;b;"] {
            let found = problems(two_appends(), vec![get(35, 36, read)], "a;b;");
            assert!(
                found[0].contains("not how the value begins"),
                "{read}: {found:?}"
            );
        }
        let ab_c = vec![append("ab", 0, Some(10)), append("c", 20, Some(30))];
        let resplit = problems(ab_c, vec![get(35, 36, "a;bc;")], "ab;c;");
        assert!(
            resplit[0].contains("not how the value begins"),
            "{resplit:?}"
        );
        let malformed = problems(two_appends(), vec![get(35, 36, "a;b")], "a;b;");
        assert!(
            malformed[0].contains("does not end a token"),
            "{malformed:?}"
        );
    }

    #[test]
    fn a_read_seeing_less_than_an_earlier_read_is_found() {
        // b is in flight for both reads; the later one may not un-see it.
        let appends = vec![append("a", 0, Some(10)), append("b", 20, None)];
        let gets = vec![get(21, 22, "a;b;"), get(23, 24, "a;")];
        let found = problems(appends, gets, "a;b;");
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("earlier Get had seen 2"), "{found:?}");
    }
}
