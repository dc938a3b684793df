//! What each session's latest Delete or Cas decided, kept so that a retry
//! of it is told the same, not decided again against a store that moved on.
//!
//! Only the latest per session is kept: a client with one write in flight
//! per session (the Clerk) retries nothing older, and memory stays at one
//! small record per session. A failed Cas keeps the value it found, so at
//! worst a session holds one value (a Swapped or Deleted record is a few
//! bytes). A retry older than the kept one is refused (ErrSessionExpired):
//! its answer is gone, and nothing is applied.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// What a Delete or Cas decided when it applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    /// A Delete: whether the key existed (and is now gone).
    Deleted { existed: bool },
    /// A Cas that set the key.
    Swapped,
    /// A Cas that changed nothing, and what it found (`None`: no key).
    NotSwapped { current: Option<Vec<u8>> },
}

/// The latest decision of each session, by client id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Replies {
    by_client: HashMap<Vec<u8>, (i64, Decision)>,
}

/// One kept reply as a snapshot stores it: client id, request id, decision.
pub type ReplyImage = (Vec<u8>, i64, Decision);

impl Replies {
    /// Keeps `decision` as the answer to `request_id` of `client`, in place
    /// of any older one.
    pub(super) fn remember(&mut self, client: &[u8], request_id: i64, decision: Decision) {
        match self.by_client.get_mut(client) {
            Some(kept) => *kept = (request_id, decision),
            None => {
                self.by_client
                    .insert(client.to_vec(), (request_id, decision));
            }
        }
    }

    /// The decision kept for exactly this request, if it is the latest.
    pub(super) fn recall(&self, client: &[u8], request_id: i64) -> Option<&Decision> {
        match self.by_client.get(client) {
            Some((id, decision)) if *id == request_id => Some(decision),
            _ => None,
        }
    }

    /// Drops what `client` kept (its session was forgotten).
    pub(super) fn forget(&mut self, client: &[u8]) {
        self.by_client.remove(client);
    }

    pub(super) fn image(&self) -> Vec<ReplyImage> {
        let mut image: Vec<ReplyImage> = self
            .by_client
            .iter()
            .map(|(client, (id, decision))| (client.clone(), *id, decision.clone()))
            .collect();
        // A stable order: equal states give equal snapshots.
        image.sort_by(|a, b| a.0.cmp(&b.0));
        image
    }

    pub(super) fn insert_image(&mut self, (client, id, decision): ReplyImage) -> bool {
        self.by_client.insert(client, (id, decision)).is_none()
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.by_client.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_latest_decision_of_a_client_is_kept() {
        let mut replies = Replies::default();
        replies.remember(b"c", 3, Decision::Swapped);
        replies.remember(b"d", 3, Decision::Deleted { existed: false });
        assert_eq!(replies.recall(b"c", 3), Some(&Decision::Swapped));
        replies.remember(b"c", 5, Decision::NotSwapped { current: None });
        assert_eq!(replies.recall(b"c", 3), None, "replaced");
        assert_eq!(
            replies.recall(b"c", 5),
            Some(&Decision::NotSwapped { current: None })
        );
        assert_eq!(replies.len(), 2);
        replies.forget(b"c");
        assert_eq!(replies.recall(b"c", 5), None);
        assert_eq!(
            replies.image(),
            vec![(b"d".to_vec(), 3, Decision::Deleted { existed: false })]
        );
    }
}
