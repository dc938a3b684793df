//! A key's value as the KV model holds it: a persistent string that grows by shared pieces.
//!
//! The search keeps the state before every linearized operation (to undo it) and every
//! state it explored (to prune), so with flat strings a client appending to one key
//! thousands of times made the checker copy, hash and hold a quadratic number of bytes: a
//! one-client history of 17k operations took over 5 s and most of it in page faults. Here an
//! Append is a new piece pointing at the value it extends, so it costs the suffix's length;
//! the hash is a polynomial one, so it extends in the same time, and equal texts hash alike
//! whichever pieces they are made of.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// The base of the rolling hash (odd, so multiplying by it loses no bits mod 2^64).
const BASE: u64 = 0x100_0000_01b3;

/// How many pieces a value may have before an append copies it into one, if that copy is not
/// too soon after the last (see [`Value::append`]).
const FLATTEN_DEPTH: usize = 64;

/// An immutable string; clones share it, appends share it.
#[derive(Clone)]
pub struct Value(Arc<Piece>);

/// The newest part of a value and the value it was appended to.
struct Piece {
    text: String,
    earlier: Option<Value>,
    /// Bytes in the whole value.
    len: usize,
    /// Pieces in the whole value, and bytes in its oldest one.
    depth: usize,
    base_len: usize,
    /// The polynomial hash of the whole value.
    hash: u64,
}

impl Value {
    /// A value of one piece.
    pub fn new(text: impl Into<String>) -> Value {
        let text = text.into();
        Value(Arc::new(Piece {
            len: text.len(),
            depth: 1,
            base_len: text.len(),
            hash: rolling_hash(0, text.as_bytes()),
            text,
            earlier: None,
        }))
    }

    /// This value followed by `suffix`, sharing this one.
    ///
    /// Comparing a value walks its pieces, so a long chain of short appends is copied into
    /// one piece now and then: once it has [`FLATTEN_DEPTH`] pieces and a quarter of its
    /// oldest one's bytes were added since. The second condition keeps the copies to a few
    /// times the value's final length in all, however small the appends.
    pub fn append(&self, suffix: &str) -> Value {
        if suffix.is_empty() {
            // The same text: an empty piece would only lengthen the chain.
            return self.clone();
        }
        let piece = &self.0;
        if piece.depth >= FLATTEN_DEPTH && piece.len - piece.base_len >= piece.base_len / 4 {
            return Value::new(self.to_text() + suffix);
        }
        let shifted = self
            .0
            .hash
            .wrapping_mul(BASE.wrapping_pow(suffix.len() as u32));
        Value(Arc::new(Piece {
            text: suffix.to_string(),
            earlier: Some(self.clone()),
            len: self.0.len + suffix.len(),
            depth: self.0.depth + 1,
            base_len: self.0.base_len,
            hash: shifted.wrapping_add(rolling_hash(0, suffix.as_bytes())),
        }))
    }

    /// Bytes in the whole value.
    pub fn len(&self) -> usize {
        self.0.len
    }

    /// Bytes this value added to the one it extends: what holding it costs when that one is
    /// held anyway.
    pub fn own_bytes(&self) -> usize {
        self.0.text.len() + std::mem::size_of::<Piece>()
    }

    /// Whether the text is `text`.
    pub fn is(&self, text: &str) -> bool {
        if self.len() != text.len() {
            return false;
        }
        let mut rest = text.as_bytes();
        for piece in self.pieces_newest_first() {
            let (front, back) = rest.split_at(rest.len() - piece.len());
            if back != piece.as_bytes() {
                return false;
            }
            rest = front;
        }
        true
    }

    /// The whole text in one string.
    pub fn to_text(&self) -> String {
        let mut pieces: Vec<&str> = self.pieces_newest_first().collect();
        pieces.reverse();
        pieces.concat()
    }

    fn pieces_newest_first(&self) -> impl Iterator<Item = &str> {
        let mut next = Some(self);
        std::iter::from_fn(move || {
            let value = next?;
            next = value.0.earlier.as_ref();
            Some(value.0.text.as_str())
        })
    }

    /// Compares texts of equal length from their ends, piece against piece, stopping early
    /// where both reach the same shared piece.
    fn same_text(&self, other: &Value) -> bool {
        let (mut a, mut b) = (Some(self), Some(other));
        let (mut x, mut y): (&[u8], &[u8]) = (&[], &[]);
        loop {
            if x.is_empty() && y.is_empty() {
                match (a, b) {
                    (Some(va), Some(vb)) if Arc::ptr_eq(&va.0, &vb.0) => return true,
                    (None, None) => return true,
                    _ => {}
                }
            }
            if x.is_empty() {
                // Equal lengths, equal amounts compared: the other side has only "" left.
                let Some(value) = a else { return true };
                x = value.0.text.as_bytes();
                a = value.0.earlier.as_ref();
                continue;
            }
            if y.is_empty() {
                let Some(value) = b else { return true };
                y = value.0.text.as_bytes();
                b = value.0.earlier.as_ref();
                continue;
            }
            let n = x.len().min(y.len());
            let (x_front, x_back) = x.split_at(x.len() - n);
            let (y_front, y_back) = y.split_at(y.len() - n);
            if x_back != y_back {
                return false;
            }
            (x, y) = (x_front, y_front);
        }
    }
}

/// Extends the polynomial hash `hash` of some text by `bytes`.
fn rolling_hash(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |h, &b| {
        h.wrapping_mul(BASE).wrapping_add(u64::from(b) + 1)
    })
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
            || (self.0.len == other.0.len && self.0.hash == other.0.hash && self.same_text(other))
    }
}

impl Eq for Value {}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.0.len);
        state.write_u64(self.0.hash);
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.to_text())
    }
}

impl Drop for Piece {
    /// Unlinks the chain a piece at a time: dropping a value of 100k appends recursively
    /// would overflow the stack.
    fn drop(&mut self) {
        let mut earlier = self.earlier.take();
        while let Some(value) = earlier {
            earlier = match Arc::try_unwrap(value.0) {
                Ok(mut piece) => piece.earlier.take(),
                Err(_) => None,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::hash_map::DefaultHasher;

    fn hash_of(value: &Value) -> u64 {
        let mut hasher = DefaultHasher::new();
        value.hash(&mut hasher);
        hasher.finish()
    }

    #[test]
    fn appends_read_as_one_string() {
        let value = Value::new("ab").append("").append("cd").append("é");
        assert_eq!(value.to_text(), "abcdé");
        assert_eq!(value.len(), "abcdé".len());
        assert!(value.is("abcdé"));
        assert!(!value.is("abcde"));
        assert!(!value.is("abcdéé"));
        assert!(Value::new("").is(""));
        assert_eq!(format!("{value:?}"), "\"abcdé\"");
    }

    #[test]
    fn equal_texts_are_equal_and_hash_alike_whatever_their_pieces() {
        let one = Value::new("abcdef");
        let three = Value::new("ab").append("cde").append("f");
        let other_split = Value::new("").append("abcd").append("ef");
        let empty_pieces = Value::new("abc")
            .append("")
            .append("def")
            .append("")
            .append("");
        for value in [&three, &other_split, &empty_pieces] {
            assert_eq!(&one, value);
            assert_eq!(hash_of(&one), hash_of(value));
        }
        assert_ne!(one, Value::new("abcdeg"));
        assert_ne!(one, Value::new("abcde"));
        assert_ne!(Value::new("a").append("b"), Value::new("b").append("a"));
    }

    #[test]
    fn values_sharing_a_prefix_compare_by_what_differs() {
        let base = Value::new("x".repeat(1000));
        assert_eq!(base.append("y"), base.append("y"));
        assert_ne!(base.append("y"), base.append("z"));
        assert_ne!(base.append("yz"), Value::new("x").append("y").append("z"));
    }

    #[test]
    fn many_short_appends_are_copied_into_few_pieces() {
        let mut value = Value::new("");
        let mut text = String::new();
        for i in 0..10_000 {
            let suffix = format!("x {i} y");
            value = value.append(&suffix);
            text.push_str(&suffix);
            assert!(value.0.depth <= FLATTEN_DEPTH.max(value.0.base_len / 4));
        }
        assert!(value.is(&text));
        assert_eq!(value, Value::new(text.as_str()));
    }

    #[test]
    fn a_long_chain_drops_without_overflowing_the_stack() {
        let mut value = Value::new("");
        for _ in 0..1_000_000 {
            value = value.append("x");
        }
        let kept = value.clone();
        drop(value);
        assert_eq!(kept.len(), 1_000_000);
        drop(kept);
    }
}
