//! The SkipList (the original's `skipList.h`). Pending: see issue 4.
