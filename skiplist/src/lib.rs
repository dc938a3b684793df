//! An ordered map kept as a skip list: the KvServer's storage engine.
//!
//! Mirrors the original's `src/skipList/include/skipList.h`, in two forms:
//! [`SkipList<K, V>`](SkipList), generic and close to the original, and
//! [`ByteSkipList`], the same algorithm over byte keys and values in a
//! compact chunked arena, which the KvServer stores its data in.
//!
//! | module       | holds                                                    | C++ counterpart                    |
//! |--------------|----------------------------------------------------------|------------------------------------|
//! | `list`       | [`SkipList`]: search, insert, delete, insert_or_set      | `SkipList`                         |
//! | `node`       | a tower: entry + forward links, and arena indexes        | `Node`                             |
//! | `level`      | tower heights from a seedable RNG                        | `get_random_level`                 |
//! | `iter`       | [`Iter`], [`Range`], [`IntoIter`] in key order           | (none)                             |
//! | `display`    | the level-by-level drawing, of either list               | `display_list`                     |
//! | `dump`       | serde impls, `dump` / `load`                             | `SkipListDump`, `dump_file`, `load_file` |
//! | `codec`      | the bincode encode/decode pair                           | boost `text_oarchive`              |
//! | `config`     | [`Config`]: max level, seed                              | the constructor's `max_level`      |
//! | `error`      | [`SkipListError`]                                        | (none)                             |
//! | `byte_list`  | [`ByteSkipList`]: the same operations plus `append`, `freeze` | `SkipList<std::string, std::string>` |
//! | `arena`      | its layout: tower words and entry blobs in `Arc`'d chunks, compaction | `Node` with `forward`   |
//! | `frozen`     | [`FrozenList`]: a read-only image for background snapshots | (none)                           |
//! | `byte_iter`  | [`Entries`]: key-order walks of either                   | (none)                             |
//! | `bulk`       | [`SortedBuilder`]: O(n) build from sorted pairs          | `load_file`                        |
//! | `byte_dump`  | serde for both, in `SkipList`'s format                   | `dump_file`, `load_file`           |
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
//! Why a second, byte-only list. The original's node is a key, a value and
//! a `forward` array of `level + 1` pointers, each allocated on its own:
//!
//! ```text
//! original Node (64-bit, std::string K and V)     ByteSkipList, same entry
//! ┌──────────────┐  ┌─► key bytes (heap)           tower chunk: [blob chunk][h<<24|offset][next 0]...
//! │ key  string  │──┘                                                  │    12 bytes for h = 1
//! │ value string │────► value bytes (heap)                             ▼
//! │ forward ─────│────► Node*[level+1] (heap)       blob chunk:  [tower id][klen][vlen][key][value]
//! │ node_level   │                                                     6 bytes + the data, no allocation
//! └──────────────┘
//! ```
//! Three or four allocations per entry (the node, its `forward` array, the
//! value, and a key too long for the string's inline buffer), each with
//! malloc's own header and rounding: more than 100 bytes around a 112-byte
//! entry, part of why issue 9 found a node's RSS at 5× its data. Our
//! generic `SkipList<Vec<u8>, Vec<u8>>` still allocates a key and a value
//! per entry and costs 1.8× the raw bytes in heap, 2× in RSS.
//!
//! The byte list keeps every entry as one blob in 256 KiB chunks and every
//! tower as `u32` words in 16 KiB chunks, so 12-byte keys with 100-byte
//! values take 1.18× their raw size, and growth never reallocates more than
//! one chunk (no `Vec` doubling). A blob an image may read is never
//! changed: an overwrite writes a new blob and compaction reclaims the old. That is what makes
//! [`ByteSkipList::freeze`] cheap: the image shares every chunk, and the
//! live list copies a 16 KiB tower chunk the first time it rewires a tower
//! in it, never the entries. The picture of the layout is in `arena.rs`.
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
//!
//! ```
//! use skiplist::ByteSkipList;
//!
//! let mut db = ByteSkipList::new();
//! db.insert_or_set(b"x", b"1");
//! db.append(b"x", b"23");
//! let image = db.freeze(); // O(chunks); Send + 'static
//! db.delete(b"x");
//! let writer = std::thread::spawn(move || image.dump());
//! let restored = ByteSkipList::load(&writer.join().unwrap()?)?;
//! assert_eq!(restored.search(b"x"), Some(&b"123"[..]));
//! assert_eq!(db.search(b"x"), None);
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
