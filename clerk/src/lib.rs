//! The Clerk (the original's `raftClerk/clerk.cpp`). Pending: see issue 4.
