//! The Raft node (the original's `src/raftCore`). Pending: see issue 3.
