//! An ordered map kept as a skip list: the KvServer's storage engine.
//!
//! Mirrors the original's `src/skipList/include/skipList.h`:
//!
//! | module      | holds                                                  | C++ counterpart                    |
//! |-------------|--------------------------------------------------------|------------------------------------|
//! | `list`      | [`SkipList`]: search, insert, delete, insert_or_set    | `SkipList`                         |
//! | `node`      | a tower: entry + forward links, and arena indexes      | `Node`                             |
//! | `level`     | tower heights from a seedable RNG                      | `get_random_level`                 |
//! | `iter`      | [`Iter`], [`Range`], [`IntoIter`] in key order         | (none)                             |
//! | `display`   | the level-by-level drawing                             | `display_list`                     |
//! | `dump`      | serde impls, `dump` / `load`                           | `SkipListDump`, `dump_file`, `load_file` |
//! | `codec`     | the bincode encode/decode pair                         | boost `text_oarchive`              |
//! | `config`    | [`Config`]: max level, seed                            | the constructor's `max_level`      |
//! | `error`     | [`SkipListError`]                                      | (none)                             |
//!
//! What changed and why:
//! - Nodes live in an arena (`Vec`) and link by index, not by raw `Node*`
//!   with `new`/`delete`: no `unsafe`, no leaks, and the recursive `clear`
//!   that could overflow the stack on a long list is gone.
//! - `insert` never overwrites and says so with a `bool`; `insert_or_set`
//!   overwrites in place and returns the old value (the original deleted and
//!   re-inserted). `delete` returns the removed value.
//! - Dumps go through serde + bincode instead of a boost text archive; the
//!   older `key:value` line format, which broke on keys containing `:`, is
//!   gone, and so is `load_file`'s slip of inserting each key as its own
//!   value. Corrupt bytes are an error, never a crash.
//! - No mutex inside: the KvServer holds its own lock around its state, so a
//!   second lock here would only cost time (see [`SkipList`]).
//! - No printing to stdout on every operation; `display` returns a `String`.
//! - Added: `get_mut`, ordered iteration, range scans, `Borrow`-based lookups
//!   (`search("k")` on a `SkipList<String, _>`), and a seedable RNG so tests
//!   can pin the towers' shape.
//!
//! ```
//! use skiplist::SkipList;
//!
//! let mut db: SkipList<String, String> = SkipList::new();
//! assert!(db.insert("x".into(), "1".into()));
//! assert!(!db.insert("x".into(), "2".into())); // present: not overwritten
//! assert_eq!(db.insert_or_set("x".into(), "3".into()), Some("1".into()));
//! assert_eq!(db.search("x").map(String::as_str), Some("3"));
//!
//! let bytes = db.dump()?;
//! assert_eq!(SkipList::<String, String>::load(&bytes)?, db);
//! # Ok::<(), skiplist::SkipListError>(())
//! ```

mod arena;
mod bulk;
mod byte_dump;
mod byte_iter;
mod byte_list;
mod codec;
mod config;
mod display;
mod dump;
mod error;
mod frozen;
mod iter;
mod level;
mod list;
mod node;

pub use bulk::SortedBuilder;
pub use byte_iter::Entries;
pub use byte_list::{ByteSkipList, MemoryUsage};
pub use config::{Config, MAX_LEVEL_CAP};
pub use error::SkipListError;
pub use frozen::FrozenList;
pub use iter::{IntoIter, Iter, Range};
pub use list::SkipList;
