//! A timeline of a run, drawn as one self-contained HTML page: operations as bars in lanes,
//! and what happened to the cluster (partitions, crashes, restarts, elections) on the same
//! time axis, in the manner of Porcupine's visualization.
//!
//! It lives here, in the lowest crate that draws anything, so that both `raftkv demo
//! --timeline` and the test harness (which depends on this crate; the reverse would make a
//! shipped binary depend on the test suite) use one renderer. It knows nothing of Raft or of a
//! particular store: a bar is a line of text, the answer in full, and a [`Mark`].
//!
//! - `html.rs`: the page (inline CSS and a few lines of JS, nothing fetched).
//! - `layout.rs`: the time axis and the packing of overlapping bars into sub-rows.

mod html;
mod layout;

use std::io;
use std::path::Path;

/// A lane of bars, shown under its group's heading (e.g. group `key "3"`, name `client 1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lane {
    pub group: String,
    pub name: String,
}

/// How a bar is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// An ordinary operation.
    Plain,
    /// The n-th operation (from 1) of a linearization, or of the longest linearizable prefix.
    Linearized(usize),
    /// The operation that could not be linearized.
    Failed,
    /// An operation the check left out or could not place.
    Unplaced,
}

/// One operation: a bar from its call to its return, showing `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar {
    /// The lane, as returned by [`Timeline::lane`].
    pub lane: usize,
    /// When it was called (ns on the timeline's clock).
    pub start: u64,
    /// When it returned; `None` if it never did (drawn to the end of the run).
    pub end: Option<u64>,
    /// The operation in a line: what was asked and, where it says something, what came back,
    /// e.g. `Get("k") -> "v"`.
    pub text: String,
    /// The answer in full, for the details; `None` if none came.
    pub output: Option<String>,
    pub mark: Mark,
}

/// What kind of thing happened to the cluster; chooses the colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Partition,
    Heal,
    Crash,
    Restart,
    Election,
    Note,
}

/// Something that happened to the cluster, drawn in a row of the "cluster" group and as a
/// line across every lane at its start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The row it is drawn in, e.g. `network` or `node 2`.
    pub row: String,
    pub start: u64,
    /// `Some` for a span (a partition, a server being down), `None` for an instant.
    pub end: Option<u64>,
    pub kind: EventKind,
    pub text: String,
}

/// A run to draw: a title, a few lines of explanation, lanes of bars and cluster events.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    title: String,
    notes: Vec<String>,
    lanes: Vec<Lane>,
    bars: Vec<Bar>,
    events: Vec<Event>,
}

impl Timeline {
    /// An empty timeline called `title`.
    pub fn new(title: impl Into<String>) -> Self {
        Timeline {
            title: title.into(),
            ..Timeline::default()
        }
    }

    /// A line of text shown above the chart (a verdict, an explanation).
    pub fn note(&mut self, line: impl Into<String>) {
        self.notes.push(line.into());
    }

    /// The lane `name` in `group`, made on first use; lanes are drawn in order of creation.
    pub fn lane(&mut self, group: &str, name: &str) -> usize {
        if let Some(i) = self
            .lanes
            .iter()
            .position(|l| l.group == group && l.name == name)
        {
            return i;
        }
        self.lanes.push(Lane {
            group: group.to_string(),
            name: name.to_string(),
        });
        self.lanes.len() - 1
    }

    /// Adds an operation; a bar whose lane was never made is drawn in a lane of its own.
    pub fn bar(&mut self, bar: Bar) {
        self.bars.push(bar);
    }

    /// Adds a cluster event.
    pub fn event(&mut self, event: Event) {
        self.events.push(event);
    }

    /// The whole page.
    pub fn render(&self) -> String {
        html::render(self)
    }

    /// Writes the page to `path`, making its directory if need be.
    pub fn write(&self, path: &Path) -> io::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, self.render())
    }
}
