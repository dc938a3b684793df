//! The depth-first search for a linearization of one partition (Wing & Gong, with Lowe's cache).
//!
//! Walk the event list from the front. At a call, try to linearize that operation now: if the
//! model accepts it and the (linearized set, state) pair is new, lift it out of the list, push
//! it on the undo stack and restart from the front. At a return, the operation returning there
//! should already have been linearized: the current prefix is a dead end, so pop the last
//! choice and try the next call after it. An empty list is a linearization; an empty stack at
//! a return means there is none.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::bitset::Bitset;
use super::cache::Cache;
use super::entries::{Entries, Event};
use super::{Model, Operation};

/// How often (in search steps) the clock and the stop flag are looked at.
const CHECK_EVERY: u64 = 1 << 10;

/// When to give up on a search.
pub(crate) struct Budget<'a> {
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
    Linearizable,
    Illegal(Stuck<S>),
    /// Out of time, or stopped because another partition failed.
    Aborted,
}

/// Searches for a linearization of `ops` under `M`.
pub(crate) fn search<M: Model>(
    ops: &[Operation<M::Input, M::Output>],
    budget: &Budget<'_>,
) -> Outcome<M::State> {
    let mut entries = Entries::new(ops);
    let mut linearized = Bitset::new(ops.len());
    let mut cache = Cache::new();
    let mut state = M::init();
    // Undo stack: the call node lifted and the state before it.
    let mut calls: Vec<(usize, M::State)> = Vec::new();
    let mut best: Option<Stuck<M::State>> = None;
    let mut steps: u64 = 0;

    let mut node = entries.first();
    while !entries.is_empty() {
        steps += 1;
        if steps % CHECK_EVERY == 0 && budget.exhausted() {
            return Outcome::Aborted;
        }
        match entries.event(node) {
            Event::Call { op } => {
                let operation = &ops[op];
                if let Some(next) = M::step(&state, &operation.input, operation.output.as_ref()) {
                    linearized.set(op);
                    if cache.insert(&linearized, &next) {
                        calls.push((node, std::mem::replace(&mut state, next)));
                        entries.lift(node);
                        node = entries.first();
                        continue;
                    }
                    linearized.clear(op);
                }
                node = entries.next(node);
            }
            // `End` cannot be reached while a return remains (every call precedes its own
            // return), but treating it as a dead end keeps the loop total.
            event @ (Event::Return { .. } | Event::End) => {
                if best.as_ref().is_none_or(|b| calls.len() > b.prefix.len()) {
                    let blocked = match event {
                        Event::Return { op } => op,
                        _ => usize::MAX,
                    };
                    best = Some(Stuck {
                        prefix: calls.iter().map(|&(n, _)| call_op(&entries, n)).collect(),
                        state: state.clone(),
                        blocked,
                    });
                }
                let Some((call, previous)) = calls.pop() else {
                    return best.map_or(Outcome::Aborted, Outcome::Illegal);
                };
                linearized.clear(call_op(&entries, call));
                state = previous;
                entries.unlift(call);
                node = entries.next(call);
            }
        }
    }
    Outcome::Linearizable
}

fn call_op(entries: &Entries, node: usize) -> usize {
    match entries.event(node) {
        Event::Call { op } | Event::Return { op } => op,
        Event::End => usize::MAX,
    }
}
