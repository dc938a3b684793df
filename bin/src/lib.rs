//! The raftkv binaries. Pending: see issue 5.
