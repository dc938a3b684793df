//! One Scan page: the entries of a key range in key order, cut to the
//! client's limit and to what one reply frame carries. A read: it is taken
//! from the state as of one applied index, so a page is one consistent view.

use std::ops::Bound;

use skiplist::ByteSkipList;

use crate::config::{DEFAULT_SCAN_LIMIT, MAX_SCAN_REPLY_BYTES, SCAN_PAGE_BYTES};

/// What a Scan asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanQuery {
    /// The first key the page may hold.
    pub start: Vec<u8>,
    /// The page holds keys below this; empty: to the end of the store.
    pub end: Vec<u8>,
    /// At most this many items; 0: [`DEFAULT_SCAN_LIMIT`].
    pub limit: u32,
}

/// One page of a Scan.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Page {
    /// Key and value of each entry, in ascending key order.
    pub items: Vec<(Vec<u8>, Vec<u8>)>,
    /// Where the next page starts; `None` when the range is done.
    pub next_key: Option<Vec<u8>>,
    /// The page's first entry alone would not fit one reply frame: `items`
    /// is empty and `next_key` names it (ErrTooLarge).
    pub too_large: bool,
}

/// What a ScanReply spends besides its items and NextKey (`Err`,
/// `LeaderId`), over-counted.
const REPLY_BASE_BYTES: usize = 64;

/// The encoded size of a protobuf bytes field of `len` bytes, over-counted
/// by a few bytes (the longest varint).
fn field_bytes(len: usize) -> usize {
    1 + 10 + len
}

/// The encoded size of one `KeyValue` in the reply's repeated field.
fn item_bytes(key: &[u8], value: &[u8]) -> usize {
    field_bytes(field_bytes(key.len()) + field_bytes(value.len()))
}

/// The page of `data` that `query` asks for.
pub fn page(data: &ByteSkipList, query: &ScanQuery) -> Page {
    let limit = match query.limit {
        0 => DEFAULT_SCAN_LIMIT,
        n => usize::try_from(n).unwrap_or(usize::MAX),
    };
    let end = if query.end.is_empty() {
        Bound::Unbounded
    } else {
        Bound::Excluded(&query.end[..])
    };
    let mut page = Page::default();
    let mut bytes = REPLY_BASE_BYTES;
    for (key, value) in data.range(Bound::Included(&query.start[..]), end) {
        let size = item_bytes(key, value);
        // The first item goes in whatever its size (if it fits a frame at
        // all, checked below): a page must make progress.
        if page.items.len() >= limit || (!page.items.is_empty() && bytes + size > SCAN_PAGE_BYTES) {
            page.next_key = Some(key.to_vec());
            break;
        }
        bytes += size;
        page.items.push((key.to_vec(), value.to_vec()));
    }
    // The NextKey counts too: give back items until the reply fits a frame.
    let reply_bytes = |page: &Page, bytes: usize| {
        bytes + page.next_key.as_ref().map_or(0, |k| field_bytes(k.len()))
    };
    while reply_bytes(&page, bytes) > MAX_SCAN_REPLY_BYTES {
        let Some((key, value)) = page.items.pop() else {
            break;
        };
        bytes -= item_bytes(&key, &value);
        page.next_key = Some(key);
        if page.items.is_empty() {
            page.too_large = true;
        }
    }
    page
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MAX_STORED_VALUE_BYTES;

    fn store(keys: &[&str]) -> ByteSkipList {
        let mut data = ByteSkipList::new();
        for key in keys {
            data.insert_or_set(key.as_bytes(), format!("v-{key}").as_bytes());
        }
        data
    }

    fn query(start: &str, end: &str, limit: u32) -> ScanQuery {
        ScanQuery {
            start: start.into(),
            end: end.into(),
            limit,
        }
    }

    fn keys(page: &Page) -> Vec<String> {
        page.items
            .iter()
            .map(|(k, _)| String::from_utf8_lossy(k).into_owned())
            .collect()
    }

    #[test]
    fn a_page_holds_the_range_in_order_up_to_the_limit() {
        let data = store(&["d", "a", "c", "b", "e"]);
        let all = page(&data, &query("", "", 0));
        assert_eq!(keys(&all), ["a", "b", "c", "d", "e"]);
        assert_eq!(all.items[1].1, b"v-b");
        assert_eq!(all.next_key, None);

        let first = page(&data, &query("b", "e", 2));
        assert_eq!(keys(&first), ["b", "c"]);
        assert_eq!(first.next_key.as_deref(), Some(&b"d"[..]));
        let second = page(&data, &query("d", "e", 2));
        assert_eq!(keys(&second), ["d"]);
        assert_eq!(second.next_key, None, "the end is exclusive");
        // Exactly the limit, and nothing after: done, no empty extra page.
        assert_eq!(page(&data, &query("c", "", 3)).next_key, None);
        // Between keys, inverted, and past the end.
        assert_eq!(keys(&page(&data, &query("bb", "cc", 0))), ["c"]);
        assert_eq!(page(&data, &query("d", "b", 0)), Page::default());
        assert_eq!(page(&data, &query("z", "", 0)), Page::default());
    }

    #[test]
    fn limit_zero_is_the_server_default() {
        let mut data = ByteSkipList::new();
        for i in 0..DEFAULT_SCAN_LIMIT + 5 {
            data.insert_or_set(format!("k{i:05}").as_bytes(), b"v");
        }
        let page = page(&data, &query("", "", 0));
        assert_eq!(page.items.len(), DEFAULT_SCAN_LIMIT);
        assert_eq!(
            page.next_key,
            Some(format!("k{DEFAULT_SCAN_LIMIT:05}").into_bytes())
        );
    }

    #[test]
    fn a_page_stops_at_its_byte_budget_but_always_makes_progress() {
        let mut data = ByteSkipList::new();
        let big = vec![b'x'; 1 << 20];
        for i in 0..10 {
            data.insert_or_set(format!("k{i}").as_bytes(), &big);
        }
        let first = page(&data, &query("", "", 100));
        assert_eq!(first.items.len(), 3, "4 MiB hold three 1 MiB values");
        assert_eq!(first.next_key.as_deref(), Some(&b"k3"[..]));
        assert!(!first.too_large);
        // One value larger than the budget still comes, alone.
        data.insert_or_set(b"k3", &vec![b'y'; 5 << 20]);
        let alone = page(&data, &query("k3", "", 100));
        assert_eq!(keys(&alone), ["k3"]);
        assert_eq!(alone.next_key.as_deref(), Some(&b"k4"[..]));
    }

    #[test]
    fn an_item_no_frame_can_carry_is_too_large_and_named() {
        let mut data = ByteSkipList::new();
        data.insert_or_set(b"a", b"small");
        let long_key = vec![b'k'; 64 << 10];
        data.insert_or_set(&long_key, &vec![b'v'; MAX_STORED_VALUE_BYTES]);
        let first = page(&data, &query("", "", 0));
        assert_eq!(keys(&first), ["a"]);
        assert_eq!(first.next_key.as_ref(), Some(&long_key));
        assert!(!first.too_large);
        let stuck = page(&data, &query("k", "", 0));
        assert!(stuck.too_large);
        assert!(stuck.items.is_empty());
        assert_eq!(stuck.next_key.as_ref(), Some(&long_key));
    }
}
