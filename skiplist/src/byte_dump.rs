//! Saving and restoring a [`ByteSkipList`] through serde: a frozen image serializes, a list deserializes in O(n).
//!
//! The format is the one `SkipList<Vec<u8>, Vec<u8>>` and a
//! `Vec<(Vec<u8>, Vec<u8>)>` already use: a sequence of `(key, value)`
//! pairs in key order. With bincode every key and value is a varint length
//! and its bytes, so a snapshot written by either type loads into the
//! other. Decoding borrows the bytes where the format allows it and pushes
//! each pair straight into a [`SortedBuilder`], so no pair is held twice.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Error as _, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, SerializeTuple};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::byte_iter::Entries;
use crate::{codec, ByteSkipList, FrozenList, SkipListError, SortedBuilder};

impl Serialize for FrozenList {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_entries(self.iter(), self.len(), serializer)
    }
}

impl Serialize for ByteSkipList {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_entries(self.iter(), self.len(), serializer)
    }
}

fn serialize_entries<S: Serializer>(
    entries: Entries<'_>,
    len: usize,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut seq = serializer.serialize_seq(Some(len))?;
    for (key, value) in entries {
        seq.serialize_element(&Pair(key, value))?;
    }
    seq.end()
}

/// One entry as a 2-tuple of byte strings.
struct Pair<'a>(&'a [u8], &'a [u8]);

impl Serialize for Pair<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut tuple = serializer.serialize_tuple(2)?;
        tuple.serialize_element(&Bytes(Cow::Borrowed(self.0)))?;
        tuple.serialize_element(&Bytes(Cow::Borrowed(self.1)))?;
        tuple.end()
    }
}

/// A byte string: written as bytes, read from bytes (borrowed when the
/// input allows) or from a sequence of `u8` (formats without a bytes type).
struct Bytes<'a>(Cow<'a, [u8]>);

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Bytes<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_bytes(BytesVisitor)
    }
}

struct BytesVisitor;

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Bytes<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a byte string")
    }

    fn visit_borrowed_bytes<E: serde::de::Error>(self, v: &'de [u8]) -> Result<Self::Value, E> {
        Ok(Bytes(Cow::Borrowed(v)))
    }

    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
        Ok(Bytes(Cow::Owned(v.to_vec())))
    }

    fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Self::Value, E> {
        Ok(Bytes(Cow::Owned(v)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(b) = seq.next_element::<u8>()? {
            bytes.push(b);
        }
        Ok(Bytes(Cow::Owned(bytes)))
    }
}

impl<'de> Deserialize<'de> for ByteSkipList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(EntriesVisitor)
    }
}

struct EntriesVisitor;

impl<'de> Visitor<'de> for EntriesVisitor {
    type Value = ByteSkipList;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence of (key, value) byte-string pairs in strictly ascending key order")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut builder = SortedBuilder::new();
        while let Some((key, value)) = seq.next_element::<(Bytes<'de>, Bytes<'de>)>()? {
            builder
                .push(&key.0, &value.0)
                .map_err(|e| A::Error::custom(e.to_string()))?;
        }
        Ok(builder.finish())
    }
}

impl FrozenList {
    /// The image as bytes (bincode), which [`ByteSkipList::load`] reads.
    pub fn dump(&self) -> Result<Vec<u8>, SkipListError> {
        codec::encode(self)
    }
}

impl ByteSkipList {
    /// A list rebuilt from [`FrozenList::dump`]'s bytes (or a
    /// `SkipList<Vec<u8>, Vec<u8>>` dump) in O(n). Empty input is an empty
    /// list; corrupt, truncated or unsorted input is an error.
    pub fn load(bytes: &[u8]) -> Result<Self, SkipListError> {
        if bytes.is_empty() {
            return Ok(Self::new());
        }
        codec::decode(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SkipList;

    fn sample() -> ByteSkipList {
        let mut list = ByteSkipList::seeded(1);
        for (k, v) in [("b", "2"), ("", "empty key"), ("a:c", ""), ("z", "26")] {
            list.insert(k.as_bytes(), v.as_bytes());
        }
        list
    }

    #[test]
    fn an_image_dumps_and_loads_back() {
        let list = sample();
        let back = ByteSkipList::load(&list.freeze().dump().unwrap()).unwrap();
        assert_eq!(back, list);
        assert_eq!(codec::encode(&list).unwrap(), list.freeze().dump().unwrap());
        assert!(ByteSkipList::load(&[]).unwrap().is_empty());
    }

    #[test]
    fn the_format_is_the_generic_lists_and_a_vec_of_pairs() {
        let list = sample();
        let pairs: Vec<(Vec<u8>, Vec<u8>)> =
            list.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
        let generic: SkipList<Vec<u8>, Vec<u8>> = pairs.iter().cloned().collect();
        let ours = list.freeze().dump().unwrap();
        assert_eq!(ours, codec::encode(&pairs).unwrap());
        assert_eq!(ours, generic.dump().unwrap());
        assert_eq!(ByteSkipList::load(&generic.dump().unwrap()).unwrap(), list);
        let theirs: SkipList<Vec<u8>, Vec<u8>> = SkipList::load(&ours).unwrap();
        assert_eq!(theirs, generic);
    }

    /// The KvServer's use: a snapshot struct written from an image on one
    /// side, read into a list on the other, byte for byte the layout of the
    /// struct it has today (`Vec<(Vec<u8>, Vec<u8>)>`).
    #[test]
    fn an_image_embeds_in_a_snapshot_struct_and_loads_as_a_list() {
        #[derive(Serialize)]
        struct Written {
            last_applied: u64,
            data: FrozenList,
            dedup: Vec<String>,
        }
        #[derive(Serialize)]
        struct Today {
            last_applied: u64,
            data: Vec<(Vec<u8>, Vec<u8>)>,
            dedup: Vec<String>,
        }
        #[derive(Deserialize)]
        struct Read {
            last_applied: u64,
            data: ByteSkipList,
            dedup: Vec<String>,
        }
        let list = sample();
        let written = Written {
            last_applied: 7,
            data: list.freeze(),
            dedup: vec!["client".into()],
        };
        let today = Today {
            last_applied: 7,
            data: list.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect(),
            dedup: vec!["client".into()],
        };
        let bytes = codec::encode(&written).unwrap();
        assert_eq!(bytes, codec::encode(&today).unwrap());
        let read: Read = codec::decode(&bytes).unwrap();
        assert_eq!((read.last_applied, read.dedup.len()), (7, 1));
        assert_eq!(read.data, list);
    }

    #[test]
    fn unsorted_truncated_or_trailing_input_is_an_error() {
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = vec![(b"b".to_vec(), vec![]), (b"a".to_vec(), vec![])];
        let unsorted = codec::encode(&pairs);
        let err = ByteSkipList::load(&unsorted.unwrap()).unwrap_err();
        assert!(
            matches!(&err, SkipListError::Decode(m) if m.contains("not greater")),
            "{err}"
        );
        let bytes = sample().freeze().dump().unwrap();
        for cut in 1..bytes.len() {
            assert!(ByteSkipList::load(&bytes[..cut]).is_err(), "prefix {cut}");
        }
        let mut longer = bytes;
        longer.push(0);
        assert_eq!(
            ByteSkipList::load(&longer),
            Err(SkipListError::TrailingBytes { extra: 1 })
        );
    }
}
