//! Client sessions: the (client id, request id) pairs the servers deduplicate
//! by.
//!
//! A server remembers, per client id, the highest request id it applied and
//! which of the 64 below it were applied; it starts a session with the
//! first write it sees and forgets idle ones (keeping a tombstone that
//! refuses their late copies). A Clerk keeps things simple for it:
//! one request in flight per session, write ids from 1 up (Gets are not
//! deduplicated and take no id of their own), and a session the cluster has
//! forgotten is renewed: a new client id, from 1 again. One Clerk is shared
//! by many threads, so it keeps a pool of sessions and lends each call its
//! own. The original gave every client the same id (its Uuid() was not
//! unique), so a new client's first Put was dropped as a duplicate; ids here
//! are 128 random bits.

use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rand::Rng;

/// One client identity with its next request id.
#[derive(Debug)]
pub struct Session {
    pub client_id: Vec<u8>,
    next_request_id: i64,
    /// When it last went back to the pool.
    returned: Instant,
}

impl Session {
    fn new() -> Session {
        let id: u128 = rand::rng().random();
        Session {
            client_id: format!("{id:032x}").into_bytes(),
            next_request_id: 1,
            returned: Instant::now(),
        }
    }

    /// The id for the next write. Retries of one write reuse its id.
    pub fn next_request_id(&mut self) -> i64 {
        let id = self.next_request_id;
        self.next_request_id += 1;
        id
    }

    /// The id a Get carries: the next write's, left free for it (servers
    /// do not deduplicate Gets, and a session must start at id 1).
    pub fn read_request_id(&self) -> i64 {
        self.next_request_id
    }

    /// Starts over as a new session: the cluster forgot this one.
    pub fn renew(&mut self) {
        *self = Session::new();
    }
}

/// Sessions not lent out right now.
#[derive(Default)]
pub struct SessionPool {
    idle: Mutex<Vec<Session>>,
}

impl SessionPool {
    /// Lends a session; it returns to the pool when the guard drops. One
    /// idle for `max_idle` or longer is replaced by a new one: the servers
    /// have likely forgotten it, and would refuse its next write.
    pub fn lend(&self, max_idle: Duration) -> LentSession<'_> {
        let session = match self.idle.lock().pop() {
            Some(session) if session.returned.elapsed() < max_idle => session,
            _ => Session::new(),
        };
        LentSession {
            pool: self,
            session: Some(session),
        }
    }

    #[cfg(test)]
    fn idle_count(&self) -> usize {
        self.idle.lock().len()
    }
}

/// A session on loan to one call.
pub struct LentSession<'a> {
    pool: &'a SessionPool,
    session: Option<Session>,
}

impl std::ops::Deref for LentSession<'_> {
    type Target = Session;
    fn deref(&self) -> &Session {
        self.session.as_ref().expect("present until drop")
    }
}

impl std::ops::DerefMut for LentSession<'_> {
    fn deref_mut(&mut self) -> &mut Session {
        self.session.as_mut().expect("present until drop")
    }
}

impl Drop for LentSession<'_> {
    fn drop(&mut self) {
        if let Some(mut session) = self.session.take() {
            session.returned = Instant::now();
            self.pool.idle.lock().push(session);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_loans_get_distinct_ids_and_sequential_ones_reuse() {
        let pool = SessionPool::default();
        let (first_id, second_id) = {
            let mut a = pool.lend(Duration::MAX);
            let b = pool.lend(Duration::MAX);
            assert_eq!(a.next_request_id(), 1);
            assert_eq!(a.next_request_id(), 2);
            (a.client_id.clone(), b.client_id.clone())
        };
        assert_ne!(first_id, second_id);
        assert_eq!(first_id.len(), 32);
        assert_eq!(pool.idle_count(), 2);
        let mut again = pool.lend(Duration::MAX);
        let request = again.next_request_id();
        // Whichever session comes back, its request ids keep increasing.
        assert!(request == 3 || (request == 1 && again.client_id == second_id));
    }
}

#[test]
fn a_session_idle_too_long_is_replaced() {
    let pool = SessionPool::default();
    let old = {
        let mut session = pool.lend(Duration::MAX);
        session.next_request_id();
        session.client_id.clone()
    };
    assert_eq!(pool.lend(Duration::MAX).client_id, old);
    let mut fresh = pool.lend(Duration::ZERO);
    assert_ne!(fresh.client_id, old);
    assert_eq!(fresh.next_request_id(), 1);
}
