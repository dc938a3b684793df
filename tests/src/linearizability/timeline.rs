//! A checked history drawn as a timeline: a lane per client per partition (for the KV model,
//! per key), bars marked with what the search made of them, and the run's faults on the same
//! clock. The drawing itself is `raftkv_bin::timeline`, shared with `raftkv demo`.

use std::collections::{BTreeSet, HashMap};

use raftkv_bin::timeline::{Bar, Event, EventKind, Mark, Timeline};

use super::{
    CheckReport, CheckResult, Fault, FaultKind, Model, OpRef, Operation, PartitionVerdict,
};

/// Draws `history` (and the `faults` injected while it was recorded) as checked in `report`.
///
/// The failing partition comes first; inside it the longest linearizable prefix is numbered in
/// its order, the operation that could not follow it is marked failed, and the rest are marked
/// unplaced. Operations the model's partitioning left out (provably irrelevant ones) are shown
/// unplaced, in their key's lanes.
pub fn draw<M: Model>(
    title: &str,
    history: &[Operation<M::Input, M::Output>],
    faults: &[Fault],
    report: &CheckReport,
) -> Timeline {
    let mut timeline = Timeline::new(title);
    note_verdict(&mut timeline, report);

    // Where each operation landed, and its mark.
    let mut placed: HashMap<OpRef, (usize, Mark)> = HashMap::new();
    for (p, partition) in report.partitions.iter().enumerate() {
        for op in &partition.ops {
            placed.insert(*op, (p, Mark::Unplaced));
        }
        for (n, op) in partition.linearized.iter().enumerate() {
            placed.insert(*op, (p, Mark::Linearized(n + 1)));
        }
        if let Some(blocked) = partition.blocked {
            placed.insert(blocked, (p, Mark::Failed));
        }
    }

    // Lanes: illegal partitions first, then the others in the checker's order, then the keys
    // of left-out operations; inside a group, clients in order.
    let rank = |p: usize| {
        let illegal = report.partitions[p].verdict == PartitionVerdict::Illegal;
        (usize::from(!illegal), p)
    };
    // An operation the partitioning left out goes to the partition of the same name (for the
    // KV model, its key) if there is one.
    let by_label: HashMap<&str, usize> = report
        .partitions
        .iter()
        .enumerate()
        .filter(|(_, p)| !p.label.is_empty())
        .map(|(i, p)| (p.label.as_str(), i))
        .collect();
    let group_of = |op: &Operation<M::Input, M::Output>| -> ((usize, usize), String) {
        let partition = placed.get(&OpRef::of(op)).map(|&(p, _)| p).or_else(|| {
            let label = M::describe_partition(std::slice::from_ref(op));
            by_label.get(label.as_str()).copied()
        });
        match partition {
            Some(p) => (rank(p), group_name(&report.partitions[p].label, p)),
            None => {
                let label = M::describe_partition(std::slice::from_ref(op));
                (
                    (2, 0),
                    format!("{} (left out by the check)", group_name(&label, 0)),
                )
            }
        }
    };
    let lanes: BTreeSet<((usize, usize), String, usize)> = history
        .iter()
        .map(|op| {
            let (rank, group) = group_of(op);
            (rank, group, op.client_id)
        })
        .collect();
    for (_, group, client) in &lanes {
        timeline.lane(group, &format!("client {client}"));
    }

    for op in history {
        let (_, group) = group_of(op);
        let lane = timeline.lane(&group, &format!("client {}", op.client_id));
        let mark = placed
            .get(&OpRef::of(op))
            .map_or(Mark::Unplaced, |&(_, mark)| mark);
        timeline.bar(Bar {
            lane,
            start: op.call,
            end: op.return_time.map(|t| t.max(op.call)),
            text: M::describe_operation(&op.input, op.output.as_ref()),
            output: op.output.as_ref().map(|o| format!("{o:?}")),
            mark,
        });
    }

    let end = history
        .iter()
        .flat_map(|op| [Some(op.call), op.return_time].into_iter().flatten())
        .chain(faults.iter().map(|f| f.at))
        .max()
        .unwrap_or(0);
    for event in fault_events(faults, end) {
        timeline.event(event);
    }
    timeline
}

fn group_name(label: &str, p: usize) -> String {
    if label.is_empty() {
        format!("partition {p}")
    } else {
        label.to_string()
    }
}

/// The verdict, the failing operation and the prefix, in words above the chart.
fn note_verdict(timeline: &mut Timeline, report: &CheckReport) {
    match &report.result {
        CheckResult::Ok => timeline.note("linearizable"),
        CheckResult::Unknown => timeline.note(
            "the check timed out without a verdict; the deepest prefix each partition \
             reached is numbered",
        ),
        CheckResult::Illegal(violation) => timeline.note(violation.to_string()),
    }
    for partition in &report.partitions {
        if let (Some(text), Some(state)) = (&partition.blocked_text, &partition.state) {
            timeline.note(format!(
                "FAILING OPERATION [{}]: {text}\n  (the longest linearizable prefix, marked #1..#{}, leaves the state {state})",
                partition.label,
                partition.linearized.len()
            ));
        }
    }
}

/// Partitions as spans until the next partition or heal; a server's crash as a span until
/// its restart; every fault also as its instant.
fn fault_events(faults: &[Fault], end: u64) -> Vec<Event> {
    let mut events = Vec::new();
    let mut partition: Option<(u64, String)> = None;
    let mut down: HashMap<usize, u64> = HashMap::new();
    let close_partition = |events: &mut Vec<Event>, open: Option<(u64, String)>, at: u64| {
        if let Some((start, text)) = open {
            events.push(Event {
                row: "network".into(),
                start,
                end: Some(at),
                kind: EventKind::Partition,
                text,
            });
        }
    };
    for fault in faults {
        let text = fault.kind.to_string();
        match &fault.kind {
            FaultKind::Partition { .. } => {
                close_partition(&mut events, partition.take(), fault.at);
                partition = Some((fault.at, text));
            }
            FaultKind::Heal => {
                close_partition(&mut events, partition.take(), fault.at);
                events.push(instant("network", fault.at, EventKind::Heal, text));
            }
            FaultKind::Crash { server } => {
                down.entry(*server).or_insert(fault.at);
            }
            FaultKind::Restart { server } => {
                if let Some(start) = down.remove(server) {
                    events.push(down_span(*server, start, fault.at));
                }
                events.push(instant(
                    &server_row(*server),
                    fault.at,
                    EventKind::Restart,
                    text,
                ));
            }
        }
    }
    close_partition(&mut events, partition, end);
    let mut still_down: Vec<_> = down.into_iter().collect();
    still_down.sort_unstable();
    for (server, start) in still_down {
        events.push(down_span(server, start, end));
    }
    events.sort_by(|a, b| (a.row.as_str(), a.start).cmp(&(b.row.as_str(), b.start)));
    events
}

fn server_row(server: usize) -> String {
    format!("server {server}")
}

fn down_span(server: usize, start: u64, end: u64) -> Event {
    Event {
        row: server_row(server),
        start,
        end: Some(end),
        kind: EventKind::Crash,
        text: format!("server {server} crashed (down)"),
    }
}

fn instant(row: &str, at: u64, kind: EventKind, text: String) -> Event {
    Event {
        row: row.to_string(),
        start: at,
        end: None,
        kind,
        text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crashes_become_spans_until_their_restart() {
        let faults = vec![
            Fault {
                at: 10,
                kind: FaultKind::Partition {
                    groups: vec![vec![0], vec![1, 2]],
                },
            },
            Fault {
                at: 20,
                kind: FaultKind::Crash { server: 1 },
            },
            Fault {
                at: 30,
                kind: FaultKind::Heal,
            },
            Fault {
                at: 40,
                kind: FaultKind::Restart { server: 1 },
            },
            Fault {
                at: 50,
                kind: FaultKind::Crash { server: 2 },
            },
        ];
        let events = fault_events(&faults, 99);
        let spans: Vec<(&str, u64, Option<u64>)> = events
            .iter()
            .map(|e| (e.row.as_str(), e.start, e.end))
            .collect();
        assert_eq!(
            spans,
            vec![
                ("network", 10, Some(30)),
                ("network", 30, None),
                ("server 1", 20, Some(40)),
                ("server 1", 40, None),
                ("server 2", 50, Some(99)),
            ]
        );
    }
}
