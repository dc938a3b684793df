//! The history as a doubly-linked list of call and return events in time order.
//!
//! Linearizing an operation lifts its call and return out of the list; backtracking puts them
//! back. Removed nodes keep their own links, so re-insertion in reverse order of removal is
//! O(1) (Knuth's dancing links). Nodes live in one `Vec` and link by index.

use super::Operation;

/// What a list node stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    /// Operation `op` was called.
    Call { op: usize },
    /// Operation `op` returned (or, for an unanswered one, the end of time).
    Return { op: usize },
    /// The end of the list.
    End,
}

#[derive(Debug, Clone, Copy)]
struct Node {
    prev: usize,
    next: usize,
    event: Event,
    /// For a call, the node of its return.
    partner: usize,
}

/// The call/return events of one partition, linked in time order between two sentinels.
pub(crate) struct Entries {
    nodes: Vec<Node>,
}

const HEAD: usize = 0;

impl Entries {
    /// Lays out the events of `ops` in time order. At equal times calls come first, so two
    /// operations that touch at an instant count as concurrent: the lenient reading, since
    /// clocks cannot tell which came first.
    pub(crate) fn new<I, O>(ops: &[Operation<I, O>]) -> Self {
        // (time, 0 = call / 1 = return, op index): sorting gives the list order.
        let mut events: Vec<(u64, u8, usize)> = Vec::with_capacity(2 * ops.len());
        for (i, op) in ops.iter().enumerate() {
            events.push((op.call, 0, i));
            events.push((op.return_point(), 1, i));
        }
        events.sort_unstable();

        let len = events.len() + 2;
        let tail = len - 1;
        let mut nodes = Vec::with_capacity(len);
        let mut return_node = vec![0; ops.len()];
        nodes.push(Node {
            prev: HEAD,
            next: 1,
            event: Event::End,
            partner: HEAD,
        });
        for (pos, &(_, kind, op)) in events.iter().enumerate() {
            let index = pos + 1;
            let event = if kind == 0 {
                Event::Call { op }
            } else {
                return_node[op] = index;
                Event::Return { op }
            };
            nodes.push(Node {
                prev: index - 1,
                next: index + 1,
                event,
                partner: HEAD,
            });
        }
        nodes.push(Node {
            prev: tail - 1,
            next: tail,
            event: Event::End,
            partner: HEAD,
        });
        for node in nodes.iter_mut() {
            if let Event::Call { op } = node.event {
                node.partner = return_node[op];
            }
        }
        Entries { nodes }
    }

    /// The first event still in the list (the end sentinel if none).
    pub(crate) fn first(&self) -> usize {
        self.nodes[HEAD].next
    }

    /// True once every operation has been lifted out.
    pub(crate) fn is_empty(&self) -> bool {
        self.nodes[self.first()].event == Event::End
    }

    pub(crate) fn event(&self, node: usize) -> Event {
        self.nodes[node].event
    }

    pub(crate) fn next(&self, node: usize) -> usize {
        self.nodes[node].next
    }

    /// Removes a call node and its return node from the list.
    pub(crate) fn lift(&mut self, call: usize) {
        let ret = self.nodes[call].partner;
        self.unlink(call);
        self.unlink(ret);
    }

    /// Undoes the matching `lift`; must be called in reverse order of the lifts.
    pub(crate) fn unlift(&mut self, call: usize) {
        let ret = self.nodes[call].partner;
        self.relink(ret);
        self.relink(call);
    }

    fn unlink(&mut self, node: usize) {
        let Node { prev, next, .. } = self.nodes[node];
        self.nodes[prev].next = next;
        self.nodes[next].prev = prev;
    }

    fn relink(&mut self, node: usize) {
        let Node { prev, next, .. } = self.nodes[node];
        self.nodes[prev].next = node;
        self.nodes[next].prev = node;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(entries: &Entries) -> Vec<Event> {
        let mut out = Vec::new();
        let mut node = entries.first();
        while entries.event(node) != Event::End {
            out.push(entries.event(node));
            node = entries.next(node);
        }
        out
    }

    #[test]
    fn events_are_in_time_order_with_calls_first_on_ties_and_unanswered_last() {
        let ops = vec![
            Operation::<(), ()>::completed(0, (), 5, (), 10),
            Operation::completed(1, (), 10, (), 12),
            Operation::unanswered(2, (), 0),
        ];
        let entries = Entries::new(&ops);
        use Event::*;
        assert_eq!(
            walk(&entries),
            vec![
                Call { op: 2 },
                Call { op: 0 },
                Call { op: 1 },
                Return { op: 0 },
                Return { op: 1 },
                Return { op: 2 },
            ]
        );
    }

    #[test]
    fn lift_and_unlift_restore_the_list() {
        let ops = vec![
            Operation::<(), ()>::completed(0, (), 0, (), 10),
            Operation::completed(1, (), 1, (), 5),
        ];
        let mut entries = Entries::new(&ops);
        let before = walk(&entries);
        let first = entries.first();
        entries.lift(first);
        assert_eq!(
            walk(&entries),
            vec![Event::Call { op: 1 }, Event::Return { op: 1 }]
        );
        let second = entries.first();
        entries.lift(second);
        assert!(entries.is_empty());
        entries.unlift(second);
        entries.unlift(first);
        assert_eq!(walk(&entries), before);
    }
}
