//! A test client: a Clerk on its own simulated ends, whose operations are
//! recorded for the linearizability checker when the test asks for it
//! (6.5840's `Get`/`Put`/`Append` helpers in kvraft/test_test.go).

use clerk::{CasOutcome, Clerk, ClerkError};

use crate::linearizability::{KvInput, KvOutput, KvRecorder};

/// One client of a [`KvCluster`](super::KvCluster).
pub struct KvClient {
    id: usize,
    clerk: Clerk,
    ends: Vec<String>,
    recorder: Option<KvRecorder>,
}

impl KvClient {
    pub(super) fn new(
        id: usize,
        clerk: Clerk,
        ends: Vec<String>,
        recorder: Option<KvRecorder>,
    ) -> Self {
        Self {
            id,
            clerk,
            ends,
            recorder,
        }
    }

    /// The client's number in its cluster (its id in recorded histories).
    pub fn id(&self) -> usize {
        self.id
    }

    /// The Clerk itself, for tests that look at its errors (the helpers
    /// here panic on any).
    pub fn clerk(&self) -> &Clerk {
        &self.clerk
    }

    pub(super) fn end_names(&self) -> &[String] {
        &self.ends
    }

    /// The value of `key` ("" if it has none). The Clerk retries until the
    /// cluster answers; the test's time bound catches a cluster that never does.
    pub fn get(&self, key: &str) -> String {
        let op = self.begin(KvInput::get(key));
        let value = match self.clerk.get(key) {
            Ok(value) => String::from_utf8(value.unwrap_or_default())
                .unwrap_or_else(|e| panic!("Get({key:?}) returned non-UTF-8 bytes: {e}")),
            Err(e) => panic!("Get({key:?}) failed: {e}"),
        };
        self.end(op, KvOutput::value(value.clone()));
        value
    }

    pub fn put(&self, key: &str, value: &str) {
        let op = self.begin(KvInput::put(key, value));
        if let Err(e) = self.clerk.put(key, value) {
            panic!("Put({key:?}, {value:?}) failed: {e}");
        }
        self.end(op, KvOutput::default());
    }

    pub fn append(&self, key: &str, value: &str) {
        let op = self.begin(KvInput::append(key, value));
        if let Err(e) = self.clerk.append(key, value) {
            panic!("Append({key:?}, {value:?}) failed: {e}");
        }
        self.end(op, KvOutput::default());
    }

    /// Deletes `key`; whether it existed.
    pub fn delete(&self, key: &str) -> bool {
        let op = self.begin(KvInput::delete(key));
        let existed = self
            .clerk
            .delete(key)
            .unwrap_or_else(|e| panic!("Delete({key:?}) failed: {e}"));
        self.end(op, KvOutput::deleted(existed));
        existed
    }

    /// Sets `key` to `value` if it holds `expected` (`None`: if it has no
    /// value); whether it swapped, and if not what it found.
    pub fn cas(&self, key: &str, expected: Option<&str>, value: &str) -> CasOutcome {
        let op = self.begin(KvInput::cas(key, expected, value));
        let outcome = self
            .clerk
            .cas(key, expected.map(str::as_bytes), value)
            .unwrap_or_else(|e| panic!("Cas({key:?}, {expected:?}, {value:?}) failed: {e}"));
        let output = match &outcome {
            CasOutcome::Swapped => KvOutput::swapped(),
            CasOutcome::NotSwapped { current } => {
                KvOutput::not_swapped(current.as_deref().map(utf8).as_deref())
            }
        };
        self.end(op, output);
        outcome
    }

    /// One Scan page of at most `limit` keys from `start`, below `end` ("":
    /// to the end): the entries and where the next page starts. Recorded as
    /// one operation: a page is one linearizable read.
    pub fn scan_page(
        &self,
        start: &str,
        end: &str,
        limit: u32,
    ) -> (Vec<(String, String)>, Option<String>) {
        let op = self.begin(KvInput::scan(start, end));
        let page = self
            .clerk
            .scan_page(start.as_bytes(), end.as_bytes(), limit)
            .unwrap_or_else(|e| panic!("Scan({start:?}, {end:?}) failed: {e}"));
        let items: Vec<(String, String)> =
            page.items.iter().map(|(k, v)| (utf8(k), utf8(v))).collect();
        let next = page.next_key.as_deref().map(utf8);
        let borrowed: Vec<(&str, &str)> = items
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.end(op, KvOutput::page(&borrowed, next.as_deref()));
        (items, next)
    }

    /// Every entry in [`start`, `end`), page by page (each page recorded).
    pub fn scan(&self, start: &str, end: &str, limit: u32) -> Vec<(String, String)> {
        let mut all = Vec::new();
        let mut from = Some(start.to_string());
        while let Some(page_start) = from {
            let (items, next) = self.scan_page(&page_start, end, limit);
            all.extend(items);
            from = next;
        }
        all
    }

    /// Appends, giving up when the Clerk's deadline passes: then the append's
    /// outcome is unknown (it stays unanswered in a recorded history), and
    /// it may take effect later, at most once.
    pub fn try_append(&self, key: &str, value: &str) -> Result<(), ClerkError> {
        let op = self.begin(KvInput::append(key, value));
        self.clerk.append(key, value)?;
        self.end(op, KvOutput::default());
        Ok(())
    }

    /// Asserts that `key` reads as `expected`.
    pub fn check(&self, key: &str, expected: &str) {
        let got = self.get(key);
        assert_eq!(got, expected, "Get({key:?}) returned the wrong value");
    }

    fn begin(&self, input: KvInput) -> Option<crate::linearizability::OpId> {
        self.recorder.as_ref().map(|r| r.begin(self.id, input))
    }

    fn end(&self, op: Option<crate::linearizability::OpId>, output: KvOutput) {
        if let (Some(recorder), Some(op)) = (&self.recorder, op) {
            recorder.end(op, output);
        }
    }
}

/// Test values are text.
fn utf8(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec())
        .unwrap_or_else(|e| panic!("the store returned non-UTF-8 bytes: {e}"))
}
