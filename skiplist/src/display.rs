//! A level-by-level drawing of the towers, for teaching (the original's `display_list`).

use std::fmt::{Display, Write};

use crate::{ByteSkipList, SkipList};

impl<K: Display, V: Display> SkipList<K, V> {
    /// Draws the list top level first, one line per level, each entry
    /// `key:value` in a column as wide as its label so the towers line up:
    ///
    /// ```text
    /// level 1: head --------> 3:c -> nil
    /// level 0: head -> 1:a -> 3:c -> nil
    /// ```
    ///
    /// It prints every entry: meant for small lists in lessons and tests.
    pub fn display(&self) -> String {
        let labels: Vec<(String, usize)> = self
            .iter_towers()
            .map(|(key, value, height)| (format!("{key}:{value}"), height))
            .collect();
        draw(&labels, self.level())
    }
}

impl ByteSkipList {
    /// Draws the list like [`SkipList::display`], keys and values shown
    /// as ASCII with other bytes escaped (`\xff`).
    pub fn display(&self) -> String {
        let labels: Vec<(String, usize)> = self
            .towers()
            .map(|(key, value, height)| {
                let label = format!("{}:{}", key.escape_ascii(), value.escape_ascii());
                (label, height)
            })
            .collect();
        draw(&labels, self.level())
    }
}

/// One line per level, top first; a tower's label where it reaches the
/// level, dashes where it does not, so the columns line up.
fn draw(labels: &[(String, usize)], level: usize) -> String {
    let mut out = String::new();
    for lvl in (0..level.max(1)).rev() {
        // Writing into a String cannot fail.
        let _ = write!(out, "level {lvl}: head ");
        for (label, height) in labels {
            if *height > lvl {
                let _ = write!(out, "-> {label} ");
            } else {
                out.extend(std::iter::repeat_n('-', label.len() + 4));
            }
        }
        out.push_str("-> nil\n");
    }
    out
}

impl<K, V> SkipList<K, V> {
    /// Every entry with its tower's height, in key order.
    fn iter_towers(&self) -> impl Iterator<Item = (&K, &V, usize)> {
        let mut next = self.first();
        std::iter::from_fn(move || {
            let node = self.node(next?);
            next = node.next.get(0);
            Some((&node.key, &node.value, node.next.height()))
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::{ByteSkipList, Config, SkipList};

    #[test]
    fn draws_towers_top_down_in_aligned_columns() {
        let mut list = SkipList::seeded(0);
        list.insert_with_height(3, "c", 2);
        list.insert_with_height(1, "a", 1);
        list.insert_with_height(10, "j", 3);
        let expected = "\
level 2: head ---------------> 10:j -> nil
level 1: head --------> 3:c -> 10:j -> nil
level 0: head -> 1:a -> 3:c -> 10:j -> nil
";
        assert_eq!(list.display(), expected);
    }

    #[test]
    fn an_empty_list_draws_one_level() {
        let list: SkipList<u8, u8> = SkipList::new();
        assert_eq!(list.display(), "level 0: head -> nil\n");
    }

    #[test]
    fn a_byte_list_draws_the_same_way_with_bytes_escaped() {
        let config = Config {
            max_level: 1,
            seed: Some(3),
        };
        let mut flat = ByteSkipList::with_config(config).unwrap();
        flat.insert(b"b", b"2");
        flat.insert(b"a\xff", b"1");
        assert_eq!(flat.display(), "level 0: head -> a\\xff:1 -> b:2 -> nil\n");
        let mut tall = ByteSkipList::seeded(4);
        for k in 0..40u8 {
            tall.insert(&[b'a' + k % 26, k], b"");
        }
        let drawing = tall.display();
        assert_eq!(drawing.lines().count(), tall.level());
        let bottom = drawing.lines().last().unwrap();
        assert_eq!(bottom.matches("-> ").count(), 41, "{bottom}");
    }

    #[test]
    fn keys_with_colons_are_just_text() {
        let mut list = SkipList::seeded(1);
        list.insert_with_height("a:b".to_string(), "c".to_string(), 1);
        assert_eq!(list.display(), "level 0: head -> a:b:c -> nil\n");
    }
}
