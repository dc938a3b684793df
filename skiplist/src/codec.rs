//! The one place that knows the dump format is bincode: `encode` / `decode`.
//!
//! ```text
//! dump = varint(len) ‖ (key ‖ value) × len      keys strictly ascending
//! ```
//! bincode 2 "standard" config: little-endian, varint integers, strings as
//! varint length + UTF-8 bytes. Swap the format by changing only this file.
//!
//! Size budget: bincode allocates a container as soon as it has read its
//! length, so a corrupt length of 2^60 would abort the process. A decode may
//! therefore claim at most `CLAIM_FACTOR` × the input's size in memory
//! (bincode counts 8 bytes for a u64 that took 1 byte on the wire, so the
//! factor must leave room for that), rounded up to a power-of-16 tier.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::SkipListError;

const CLAIM_FACTOR: usize = 64;

/// Serializes `value` into a fresh buffer.
pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, SkipListError> {
    bincode::serde::encode_to_vec(value, bincode::config::standard())
        .map_err(|e| SkipListError::Encode(e.to_string()))
}

/// Deserializes a whole `T` from `bytes`; leftover bytes are an error.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, SkipListError> {
    let budget = bytes.len().saturating_mul(CLAIM_FACTOR);
    let decoded = if budget <= 1 << 16 {
        decode_within::<T, { 1 << 16 }>(bytes)
    } else if budget <= 1 << 20 {
        decode_within::<T, { 1 << 20 }>(bytes)
    } else if budget <= 1 << 24 {
        decode_within::<T, { 1 << 24 }>(bytes)
    } else if budget <= 1 << 28 {
        decode_within::<T, { 1 << 28 }>(bytes)
    } else if budget <= 1 << 32 {
        decode_within::<T, { 1 << 32 }>(bytes)
    } else if budget <= 1 << 36 {
        decode_within::<T, { 1 << 36 }>(bytes)
    } else {
        decode_within::<T, { usize::MAX }>(bytes)
    };
    let (value, read) = decoded.map_err(|e| SkipListError::Decode(e.to_string()))?;
    match bytes.len() - read {
        0 => Ok(value),
        extra => Err(SkipListError::TrailingBytes { extra }),
    }
}

fn decode_within<T: DeserializeOwned, const LIMIT: usize>(
    bytes: &[u8],
) -> Result<(T, usize), bincode::error::DecodeError> {
    let config = bincode::config::standard().with_limit::<LIMIT>();
    bincode::serde::decode_from_slice(bytes, config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_trailing_bytes() {
        let value = vec![(1u64, "a:b".to_string()), (2, String::new())];
        let mut bytes = encode(&value).unwrap();
        assert_eq!(decode::<Vec<(u64, String)>>(&bytes), Ok(value));
        bytes.push(0);
        assert_eq!(
            decode::<Vec<(u64, String)>>(&bytes),
            Err(SkipListError::TrailingBytes { extra: 1 })
        );
    }

    #[test]
    fn a_huge_length_prefix_is_an_error_not_an_abort() {
        // 0xFD announces a u64 length; all ones is 2^64 - 1 bytes of string.
        let mut bytes = vec![0xFD];
        bytes.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(
            decode::<String>(&bytes),
            Err(SkipListError::Decode(_))
        ));
        // A length that fits in memory on paper but not in the input.
        let mut bytes = vec![0xFC];
        bytes.extend_from_slice(&(1u32 << 31).to_le_bytes());
        assert!(matches!(
            decode::<Vec<u8>>(&bytes),
            Err(SkipListError::Decode(_))
        ));
    }
}
