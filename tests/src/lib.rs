//! Cross-crate integration tests of raftkv. Pending.
