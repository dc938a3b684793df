//! The depth-first search for a linearization of one partition (Wing & Gong, with Lowe's cache).
//!
//! Walk the event list from the front. At a call, try to linearize that operation now: if the
//! model accepts it and the (linearized set, state) pair is new, lift it out of the list, push
//! it on the undo stack and restart from the front. At a return, the operation returning there
//! should already have been linearized: the current prefix is a dead end, so pop the last
//! choice and try the next call after it. An empty list is a linearization; an empty stack at
//! a return means there is none.
//!
//! One refinement of our own, which changes the order of the search but not its verdict:
//! on each restart, a read-only operation (see [`Model::is_read_only`]) whose output fits the
//! current state is taken at once and is not a choice point: when what follows it fails, the
//! state before it fails too.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::bitset::Bitset;
use super::cache::Cache;
use super::entries::{Entries, Event};
use super::{Model, Operation};

/// How often (in search steps, a power of two) the clock and the stop flag are looked at.
const CHECK_EVERY: u64 = 1 << 10;

/// When to give up on a search, and how much memory its memo may take.
pub(crate) struct Budget<'a> {
    /// Bytes the memo of one partition may hold before it stops growing.
    pub(crate) cache_bytes: usize,
    /// Past this instant the answer is "unknown".
    pub(crate) deadline: Option<Instant>,
    /// Raised when another partition already settled the verdict.
    pub(crate) stop: &'a AtomicBool,
}

impl Budget<'_> {
    fn exhausted(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || self.deadline.is_some_and(|d| Instant::now() >= d)
    }
}

/// Where the search got furthest before every path failed.
#[derive(Debug)]
pub(crate) struct Stuck<S> {
    /// The longest linearizable prefix found, as operation indices in linearized order.
    pub(crate) prefix: Vec<usize>,
    /// The model state after that prefix.
    pub(crate) state: S,
    /// The operation whose return was reached without it being linearizable after the prefix.
    pub(crate) blocked: usize,
}

/// The verdict on one partition.
#[derive(Debug)]
pub(crate) enum Outcome<S> {
    /// Every operation fits; the order found, as operation indices.
    Linearizable(Vec<usize>),
    Illegal(Stuck<S>),
    /// Out of time, or stopped because another partition failed; the deepest prefix that had
    /// reached a dead end by then (empty if none had).
    Aborted(Vec<usize>),
}

/// One linearized operation on the undo stack.
struct Choice<S> {
    /// Its call node, lifted out of the list.
    node: usize,
    op: usize,
    /// The state before it.
    before: S,
    /// Taken as a free read, not as a choice among alternatives.
    forced: bool,
}

/// The search over one partition: the event list, the path taken, and what it has seen.
struct Search<'h, M: Model> {
    ops: &'h [Operation<M::Input, M::Output>],
    entries: Entries,
    linearized: Bitset,
    cache: Cache<M::State>,
    state: M::State,
    path: Vec<Choice<M::State>>,
    best: Option<Stuck<M::State>>,
}

/// Searches for a linearization of `ops` under `M`.
pub(crate) fn search<M: Model>(
    ops: &[Operation<M::Input, M::Output>],
    budget: &Budget<'_>,
) -> Outcome<M::State> {
    let mut search = Search::<M> {
        ops,
        entries: Entries::new(ops),
        linearized: Bitset::new(ops.len()),
        cache: Cache::new(budget.cache_bytes),
        state: M::init(),
        path: Vec::new(),
        best: None,
    };
    let mut steps: u64 = 0;
    let mut node = search.entries.first();
    let mut fresh = true;
    while !search.entries.is_empty() {
        steps += 1;
        if steps & (CHECK_EVERY - 1) == 0 && budget.exhausted() {
            return search.abort();
        }
        if fresh {
            fresh = false;
            if let Some((read, next)) = search.free_read() {
                if search.take(read, next, true) {
                    node = search.entries.first();
                    fresh = true;
                    continue;
                }
                // Seen before, and everything from there failed; so does this state.
                match search.backtrack() {
                    Some(resume) => node = resume,
                    None => return search.give_up(),
                }
                continue;
            }
        }
        match search.entries.event(node) {
            Event::Call { op } => {
                let operation = &ops[op];
                let next = M::step(&search.state, &operation.input, operation.output.as_ref());
                if let Some(next) = next {
                    if search.take(node, next, false) {
                        node = search.entries.first();
                        fresh = true;
                        continue;
                    }
                }
                node = search.entries.next(node);
            }
            // `End` cannot be reached while a return remains (every call precedes its own
            // return), but treating it as a dead end keeps the loop total.
            event @ (Event::Return { .. } | Event::End) => {
                search.remember_dead_end(event);
                match search.backtrack() {
                    Some(resume) => node = resume,
                    None => return search.give_up(),
                }
            }
        }
    }
    Outcome::Linearizable(search.path.iter().map(|c| c.op).collect())
}

impl<M: Model> Search<'_, M> {
    /// A read-only call, among those that may go next, whose output fits the current state.
    fn free_read(&self) -> Option<(usize, M::State)> {
        let mut node = self.entries.first();
        while let Event::Call { op } = self.entries.event(node) {
            let operation = &self.ops[op];
            if M::is_read_only(&operation.input) {
                if let Some(next) =
                    M::step(&self.state, &operation.input, operation.output.as_ref())
                {
                    return Some((node, next));
                }
            }
            node = self.entries.next(node);
        }
        None
    }

    /// Linearizes the call at `node`, reaching `next`, unless that (set, state) pair was
    /// explored before; true if taken.
    fn take(&mut self, node: usize, next: M::State, forced: bool) -> bool {
        let Event::Call { op } = self.entries.event(node) else {
            return false;
        };
        self.linearized.set(op);
        if !self
            .cache
            .insert(&self.linearized, &next, M::state_bytes(&next))
        {
            self.linearized.clear(op);
            return false;
        }
        let before = std::mem::replace(&mut self.state, next);
        self.path.push(Choice {
            node,
            op,
            before,
            forced,
        });
        self.entries.lift(node);
        true
    }

    /// Undoes choices up to and including the last real one; where to resume the scan, or
    /// `None` when no choice is left.
    fn backtrack(&mut self) -> Option<usize> {
        while let Some(choice) = self.path.pop() {
            self.linearized.clear(choice.op);
            self.state = choice.before;
            self.entries.unlift(choice.node);
            if !choice.forced {
                return Some(self.entries.next(choice.node));
            }
        }
        None
    }

    /// Keeps the deepest dead end, to explain a violation.
    fn remember_dead_end(&mut self, event: Event) {
        if self
            .best
            .as_ref()
            .is_none_or(|b| self.path.len() > b.prefix.len())
        {
            let blocked = match event {
                Event::Return { op } | Event::Call { op } => op,
                Event::End => usize::MAX,
            };
            self.best = Some(Stuck {
                prefix: self.path.iter().map(|c| c.op).collect(),
                state: self.state.clone(),
                blocked,
            });
        }
    }

    fn give_up(self) -> Outcome<M::State> {
        match self.best {
            Some(best) => Outcome::Illegal(best),
            None => Outcome::Aborted(Vec::new()),
        }
    }

    fn abort(self) -> Outcome<M::State> {
        Outcome::Aborted(self.best.map(|b| b.prefix).unwrap_or_default())
    }
}
