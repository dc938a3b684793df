//! The KvServer (the original's `kvServer.cpp`). Pending: see issue 4.
