//! The one error type of the skiplist crate.

/// Why a skip list could not be built, dumped or loaded. Bad bytes end up
/// here, never in a panic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SkipListError {
    /// [`Config::max_level`](crate::Config::max_level) is outside `1..=max`.
    #[error("max_level must be within 1..={max}, got {got}")]
    InvalidMaxLevel { got: usize, max: usize },
    /// A key or value refused to serialize (its own `Serialize` failed).
    #[error("cannot encode the skip list: {0}")]
    Encode(String),
    /// The bytes are not a dump of a skip list of this key and value type:
    /// truncated, corrupt, over the size budget, or keys out of order.
    #[error("cannot decode the skip list: {0}")]
    Decode(String),
    /// A whole skip list decoded but bytes were left over, so the input was
    /// not what `dump` wrote.
    #[error("{extra} unexpected bytes after the encoded skip list")]
    TrailingBytes { extra: usize },
    /// A bulk build was handed keys out of order: the key at index `at`
    /// (0-based, among those accepted) is not greater than the one before.
    #[error("key {at} is not greater than the key before it")]
    Unsorted { at: usize },
}
