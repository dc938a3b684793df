//! What `raftkv demo --timeline FILE` draws: the demo's writes and reads, the leader as the
//! nodes report it (so the election after the kill shows), the kill and the restart, all on
//! one clock.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::status;
use crate::timeline::{Bar, Event, EventKind, Mark, Timeline};

/// How often the leader watch asks every node for its status.
const WATCH_EVERY: Duration = Duration::from_millis(100);

/// The lane group of the demo's one client.
const CLIENT: &str = "the demo's Clerk";

/// The demo's run as it happens: operations and events stamped against one origin.
pub struct DemoRecord {
    origin: Instant,
    timeline: Timeline,
    /// Nodes down since (ns), to draw their downtime as a span.
    down: Vec<(usize, u64)>,
}

impl Default for DemoRecord {
    fn default() -> Self {
        Self::new()
    }
}

impl DemoRecord {
    /// An empty record whose clock starts now.
    pub fn new() -> Self {
        DemoRecord {
            origin: Instant::now(),
            timeline: Timeline::new("raftkv demo: writes, the leader killed, failover, restart"),
            down: Vec::new(),
        }
    }

    fn at(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.origin).as_nanos()).unwrap_or(u64::MAX)
    }

    /// One acknowledged (or failed) operation of the demo's Clerk, in lane `lane`.
    pub fn op(
        &mut self,
        lane: &str,
        started: Instant,
        text: String,
        output: Result<String, String>,
    ) {
        let end = Instant::now();
        let lane = self.timeline.lane(CLIENT, lane);
        let (output, mark) = match output {
            Ok(out) => (out, Mark::Plain),
            Err(e) => (format!("error: {e}"), Mark::Failed),
        };
        let start = self.at(started);
        let end = self.at(end);
        self.timeline.bar(Bar {
            lane,
            start,
            end: Some(end),
            text,
            output: Some(output),
            mark,
        });
    }

    /// Something that happened to the cluster just now.
    pub fn event(&mut self, row: &str, kind: EventKind, text: impl Into<String>) {
        let start = self.at(Instant::now());
        self.timeline.event(Event {
            row: row.to_string(),
            start,
            end: None,
            kind,
            text: text.into(),
        });
    }

    /// Node `id` was just killed; `how` says how.
    pub fn killed(&mut self, id: usize, how: &str) {
        let now = self.at(Instant::now());
        self.down.push((id, now));
        self.event(&node_row(id), EventKind::Crash, how);
    }

    /// Node `id` was just started again.
    pub fn restarted(&mut self, id: usize, how: &str) {
        let now = self.at(Instant::now());
        if let Some(i) = self.down.iter().position(|(node, _)| *node == id) {
            let (_, since) = self.down.remove(i);
            self.timeline.event(Event {
                row: node_row(id),
                start: since,
                end: Some(now),
                kind: EventKind::Crash,
                text: format!("node{id} down"),
            });
        }
        self.event(&node_row(id), EventKind::Restart, how);
    }

    /// A line above the chart.
    pub fn note(&mut self, line: impl Into<String>) {
        self.timeline.note(line);
    }

    /// Draws who led when, from the watch's observations, and writes the page to `path`.
    pub fn write(mut self, leaders: &[Observed], path: &Path) -> std::io::Result<()> {
        let end = self.at(Instant::now());
        for (i, seen) in leaders.iter().enumerate() {
            let start = self.at(seen.at);
            let until = leaders.get(i + 1).map_or(end, |next| self.at(next.at));
            let (kind, text) = match seen.leader {
                Some((leader, term)) => {
                    self.timeline.event(Event {
                        row: "leader".to_string(),
                        start,
                        end: None,
                        kind: EventKind::Election,
                        text: format!("election: node{leader} leads term {term}"),
                    });
                    (
                        EventKind::Election,
                        format!("node{leader} leads (term {term})"),
                    )
                }
                // Before the first election there is nothing to show.
                None if i == 0 => continue,
                None => (EventKind::Note, "no leader".to_string()),
            };
            self.timeline.event(Event {
                row: "leader".to_string(),
                start,
                end: Some(until),
                kind,
                text,
            });
        }
        for (id, since) in std::mem::take(&mut self.down) {
            self.timeline.event(Event {
                row: node_row(id),
                start: since,
                end: Some(end),
                kind: EventKind::Crash,
                text: format!("node{id} down"),
            });
        }
        self.timeline.write(path)
    }
}

fn node_row(id: usize) -> String {
    format!("node{id}")
}

/// What the leader watch saw at one instant: a change of leader (or of its term), or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observed {
    pub at: Instant,
    /// The leader and its term, `None` while no node says it leads.
    pub leader: Option<(usize, u64)>,
}

/// A thread asking every node for its status every [`WATCH_EVERY`], keeping each change of
/// leader: an election shows as the moment a new leader is first seen.
pub struct LeaderWatch {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Vec<Observed>>,
}

impl LeaderWatch {
    /// Starts watching the nodes at `addrs`.
    pub fn start(addrs: Vec<SocketAddr>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let handle = thread::spawn(move || {
            let mut seen: Vec<Observed> = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                let statuses = status::query_all(&addrs, WATCH_EVERY * 3);
                let leader = status::leader(&statuses).map(|id| {
                    let term = statuses[id].status.as_ref().map_or(0, |s| s.term);
                    (id, term)
                });
                if seen.last().is_none_or(|last| last.leader != leader) {
                    seen.push(Observed {
                        at: Instant::now(),
                        leader,
                    });
                }
                thread::sleep(WATCH_EVERY);
            }
            seen
        });
        LeaderWatch { stop, handle }
    }

    /// Stops the watch; what it saw, oldest first.
    pub fn stop(self) -> Vec<Observed> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap_or_default()
    }
}
