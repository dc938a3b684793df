//! The one place this crate touches bincode, so the format can be swapped.
//!
//! bincode is unmaintained (3.0.0 is a tombstone that refuses to compile);
//! we pin 2.0.1 and use only its serde API, through these two functions.

use serde::{de::DeserializeOwned, Serialize};

/// Encodes a value for the log or a snapshot.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    bincode::serde::encode_to_vec(value, bincode::config::standard())
        .expect("encoding plain data into a Vec cannot fail")
}

/// Encodes a value onto the end of a stream (snapshots are written as a
/// sequence of values, never as one buffer).
pub fn encode_into<T: Serialize>(value: &T, out: &mut impl std::io::Write) -> std::io::Result<()> {
    bincode::serde::encode_into_std_write(value, out, bincode::config::standard())
        .map(|_| ())
        .map_err(std::io::Error::other)
}

/// Decodes the next value of a stream written by [`encode_into`].
pub fn decode_from<T: DeserializeOwned>(input: &mut impl std::io::Read) -> Result<T, String> {
    bincode::serde::decode_from_std_read(input, bincode::config::standard())
        .map_err(|e| e.to_string())
}

/// Decodes what [`encode`] produced; `Err` on bytes it did not produce.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let (value, read) = bincode::serde::decode_from_slice(bytes, bincode::config::standard())
        .map_err(|e| e.to_string())?;
    if read != bytes.len() {
        return Err(format!("{} trailing bytes", bytes.len() - read));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::{Op, OpKind};

    #[test]
    fn ops_round_trip_and_garbage_is_an_error() {
        let op = Op {
            kind: OpKind::Append,
            key: b"k".to_vec(),
            value: b"v".to_vec(),
            client_id: b"c".to_vec(),
            request_id: 7,
        };
        assert_eq!(decode::<Op>(&encode(&op)).unwrap(), op);
        assert!(decode::<Op>(&[0xff, 0xff, 0xff]).is_err());
        let mut long = encode(&op);
        long.push(0);
        assert!(decode::<Op>(&long).is_err());
    }

    #[test]
    fn new_kinds_leave_the_tags_of_logged_entries_alone() {
        // Entries written before Delete and Cas existed must decode alike.
        let tags: Vec<Vec<u8>> = [OpKind::Get, OpKind::Put, OpKind::Append, OpKind::Delete]
            .iter()
            .map(encode)
            .collect();
        assert_eq!(tags, [[0], [1], [2], [3]]);
        let cas = OpKind::Cas {
            expected: Some(b"e".to_vec()),
        };
        assert_eq!(encode(&cas), [4, 1, 1, b'e']);
        assert_eq!(decode::<OpKind>(&encode(&cas)).unwrap(), cas);
    }

    /// `Op` as it was declared before its byte fields went through
    /// `serde_bytes`: the layout of every log entry written until then.
    #[derive(serde::Serialize)]
    enum PlainKind {
        #[allow(dead_code)]
        Get,
        Put,
        #[allow(dead_code)]
        Append,
        #[allow(dead_code)]
        Delete,
        Cas {
            expected: Option<Vec<u8>>,
        },
    }

    #[derive(serde::Serialize)]
    struct PlainOp {
        kind: PlainKind,
        key: Vec<u8>,
        value: Vec<u8>,
        client_id: Vec<u8>,
        request_id: i64,
    }

    #[test]
    fn byte_fields_encode_as_they_did_as_sequences_of_u8() {
        let value = vec![7u8; 300]; // a length of two varint bytes
        for (kind, plain) in [
            (OpKind::Put, PlainKind::Put),
            (
                OpKind::Cas { expected: None },
                PlainKind::Cas { expected: None },
            ),
            (
                OpKind::Cas {
                    expected: Some(value.clone()),
                },
                PlainKind::Cas {
                    expected: Some(value.clone()),
                },
            ),
        ] {
            let op = Op {
                kind,
                key: b"key".to_vec(),
                value: value.clone(),
                client_id: Vec::new(),
                request_id: -3,
            };
            let old = encode(&PlainOp {
                kind: plain,
                key: op.key.clone(),
                value: op.value.clone(),
                client_id: Vec::new(),
                request_id: -3,
            });
            assert_eq!(encode(&op), old);
            assert_eq!(decode::<Op>(&old).unwrap(), op);
        }
    }
}
