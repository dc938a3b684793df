//! An unbounded blocking queue (the original's `LockQueue` in util.h).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

/// A mutex-and-condvar FIFO shared between threads. Pushing never blocks;
/// popping waits for an item. Unlike the original it can be closed, so a
/// consumer blocked in [`pop`](LockQueue::pop) learns that nothing more is
/// coming instead of waiting forever.
pub struct LockQueue<T> {
    inner: Mutex<Inner<T>>,
    ready: Condvar,
}

struct Inner<T> {
    items: VecDeque<T>,
    closed: bool,
}

impl<T> Default for LockQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> LockQueue<T> {
    pub fn new() -> Self {
        Self {
            inner: Mutex::new(Inner {
                items: VecDeque::new(),
                closed: false,
            }),
            ready: Condvar::new(),
        }
    }

    /// Appends `item`. After [`close`](LockQueue::close) the item is still
    /// queued (and drained by later pops) so no message is silently lost.
    pub fn push(&self, item: T) {
        self.inner.lock().items.push_back(item);
        self.ready.notify_one();
    }

    /// Appends every item of `items`, in order, under one lock and with one
    /// wake-up. Pushing a batch one item at a time woke the consumer for
    /// the first, which then ran ahead of the producer and slept again:
    /// several wake-ups a batch where one does.
    pub fn push_all(&self, items: impl IntoIterator<Item = T>) {
        self.inner.lock().items.extend(items);
        self.ready.notify_one();
    }

    /// Blocks until an item arrives; `None` once the queue is closed and drained.
    pub fn pop(&self) -> Option<T> {
        self.pop_until(None)
    }

    /// Like [`pop`](LockQueue::pop), but gives up after `timeout`.
    pub fn pop_timeout(&self, timeout: Duration) -> Option<T> {
        // A timeout too large to add to now is no timeout.
        self.pop_until(Instant::now().checked_add(timeout))
    }

    /// Waits for an item until `deadline` (forever without one).
    fn pop_until(&self, deadline: Option<Instant>) -> Option<T> {
        let mut inner = self.inner.lock();
        loop {
            if let Some(item) = inner.items.pop_front() {
                return Some(item);
            }
            if inner.closed {
                return None;
            }
            match deadline {
                Some(deadline) => {
                    if self.ready.wait_until(&mut inner, deadline).timed_out() {
                        return inner.items.pop_front();
                    }
                }
                None => self.ready.wait(&mut inner),
            }
        }
    }

    /// Takes the front item if there is one, without waiting.
    pub fn try_pop(&self) -> Option<T> {
        self.inner.lock().items.pop_front()
    }

    pub fn len(&self) -> usize {
        self.inner.lock().items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inner.lock().items.is_empty()
    }

    /// Wakes every waiter; later pops drain what is left and then return `None`.
    pub fn close(&self) {
        self.inner.lock().closed = true;
        self.ready.notify_all();
    }

    pub fn is_closed(&self) -> bool {
        self.inner.lock().closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::thread;

    #[test]
    fn fifo_order_and_len() {
        let q = LockQueue::new();
        assert!(q.is_empty());
        for i in 0..5 {
            q.push(i);
        }
        assert_eq!(q.len(), 5);
        assert_eq!(
            (0..5).map(|_| q.pop().unwrap()).collect::<Vec<_>>(),
            vec![0, 1, 2, 3, 4]
        );
        assert_eq!(q.try_pop(), None);
    }

    #[test]
    fn push_all_keeps_order_after_single_pushes() {
        let q = LockQueue::new();
        q.push(0);
        q.push_all(1..4);
        q.push_all(std::iter::empty());
        q.push(4);
        assert_eq!(
            (0..5).map(|_| q.pop().unwrap()).collect::<Vec<_>>(),
            vec![0, 1, 2, 3, 4]
        );
        assert!(q.is_empty());
    }

    #[test]
    fn push_all_wakes_a_waiting_consumer() {
        let q = Arc::new(LockQueue::new());
        let q2 = q.clone();
        let consumer = thread::spawn(move || (q2.pop(), q2.pop()));
        q.push_all([7, 8]);
        assert_eq!(consumer.join().unwrap(), (Some(7), Some(8)));
    }

    #[test]
    fn pop_waits_for_a_push_from_another_thread() {
        let q = Arc::new(LockQueue::new());
        let q2 = q.clone();
        let consumer = thread::spawn(move || q2.pop());
        q.push(42);
        assert_eq!(consumer.join().unwrap(), Some(42));
    }

    #[test]
    fn pop_timeout_gives_up() {
        let q: LockQueue<u8> = LockQueue::new();
        let start = Instant::now();
        assert_eq!(q.pop_timeout(Duration::from_millis(30)), None);
        assert!(start.elapsed() >= Duration::from_millis(30));
        q.push(7);
        assert_eq!(q.pop_timeout(Duration::from_millis(30)), Some(7));
    }

    #[test]
    fn close_wakes_waiters_and_drains_first() {
        let q = Arc::new(LockQueue::new());
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let q = q.clone();
                thread::spawn(move || q.pop())
            })
            .collect();
        q.close();
        for w in waiters {
            assert_eq!(w.join().unwrap(), None::<u32>);
        }
        q.push(1);
        assert!(q.is_closed());
        assert_eq!(q.pop(), Some(1));
        assert_eq!(q.pop(), None);
        assert_eq!(q.pop_timeout(Duration::from_secs(5)), None);
    }

    #[test]
    fn many_producers_lose_nothing() {
        let q = Arc::new(LockQueue::new());
        let producers: Vec<_> = (0..4)
            .map(|p| {
                let q = q.clone();
                thread::spawn(move || (0..1000).for_each(|i| q.push(p * 1000 + i)))
            })
            .collect();
        let mut seen: Vec<u32> = (0..4000).map(|_| q.pop().unwrap()).collect();
        producers.into_iter().for_each(|p| p.join().unwrap());
        seen.sort_unstable();
        assert_eq!(seen, (0..4000).collect::<Vec<_>>());
    }
}
