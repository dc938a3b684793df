//! The nemesis: one fault at a time against the cluster's processes — a
//! node killed with -9 and restarted, a node frozen with SIGSTOP and
//! thawed, every node killed and restarted at once, and (if asked) a member
//! replaced by a new node the way README's "Replacing a machine" says, the
//! network cut between a minority and the rest (with `netns.rs`) —
//! with healthy spells between, until the run's time is up.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::Rng;

use super::netns::Net;
use super::roster::Roster;
use super::window::Window;
use crate::local_cluster::LocalCluster;
use crate::member::{self, Change};

/// How long one membership change may take (kvctl retries within it).
const CHANGE_TIMEOUT: Duration = Duration::from_secs(60);

/// One fault.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Killed with -9, down for a while, restarted.
    Kill(usize),
    /// Frozen with SIGSTOP for a while, then SIGCONT.
    Pause(usize),
    /// Every node killed with -9 and restarted.
    RestartAll,
    /// A new node added as a learner, promoted, and this member removed.
    Replace(usize),
    /// The network cut between these nodes (a minority) and the others
    /// for a while; the clients still reach every node.
    Partition(Vec<usize>),
}

/// The nemesis and what it knows: the cluster and its current members.
struct Nemesis<'a> {
    cluster: &'a mut LocalCluster,
    roster: &'a Roster,
    net: Option<&'a Net>,
    members: Vec<usize>,
    rng: &'a mut StdRng,
    window: &'a Window,
    say: &'a dyn Fn(String),
}

/// Injects faults until the window is over; logs each with `say`. Returns the members
/// at the end, the number of faults, and the nodes that exited by
/// themselves meanwhile (a crash the nemesis did not cause), which it
/// restarted.
pub fn run(
    cluster: &mut LocalCluster,
    roster: &Roster,
    net: Option<&Net>,
    rng: &mut StdRng,
    window: &Window,
    replace: bool,
    say: &dyn Fn(String),
) -> anyhow::Result<(Vec<usize>, usize, Vec<String>)> {
    let members = (0..cluster.nodes().len()).collect();
    let mut nemesis = Nemesis {
        cluster,
        roster,
        net,
        members,
        rng,
        window,
        say,
    };
    let mut faults = 0;
    let mut crashes = Vec::new();
    while !window.over() {
        std::thread::sleep(nemesis.millis(500..3000));
        if window.over() {
            break;
        }
        let fault = nemesis.pick(replace);
        faults += 1;
        nemesis.inject(fault)?;
        for (n, status) in nemesis.cluster.reap_exited() {
            let line = format!("node{n} exited by itself ({status}); see its log");
            nemesis.log(&line);
            crashes.push(line);
            nemesis.cluster.start(n)?;
        }
    }
    Ok((nemesis.members, faults, crashes))
}

impl Nemesis<'_> {
    fn log(&self, what: &str) {
        (self.say)(format!("{:7.1} s  {what}", self.window.secs()));
    }

    fn millis(&mut self, range: std::ops::Range<u64>) -> Duration {
        Duration::from_millis(self.rng.random_range(range))
    }

    fn pick(&mut self, replace: bool) -> Fault {
        let node = self.members[self.rng.random_range(0..self.members.len())];
        let cuts = if self.net.is_some() { 4 } else { 0 };
        match self.rng.random_range(0..12 + cuts) {
            0..=4 => Fault::Kill(node),
            5..=8 => Fault::Pause(node),
            9 => Fault::RestartAll,
            10 | 11 if replace && self.can_add() => Fault::Replace(node),
            10 | 11 => Fault::Kill(node),
            _ => Fault::Partition(self.minority()),
        }
    }

    /// Whether a new node has somewhere to run: any loopback port, or a
    /// namespace not used yet.
    fn can_add(&self) -> bool {
        self.net
            .is_none_or(|net| self.cluster.nodes().len() < net.capacity())
    }

    /// One to (members − 1) / 2 members, picked at random.
    fn minority(&mut self) -> Vec<usize> {
        let most = (self.members.len() - 1) / 2;
        let size = self.rng.random_range(1..=most.max(1));
        let mut side = self.members.clone();
        while side.len() > size {
            side.swap_remove(self.rng.random_range(0..side.len()));
        }
        side
    }

    fn inject(&mut self, fault: Fault) -> anyhow::Result<()> {
        match fault {
            Fault::Kill(n) => {
                let down = self.millis(0..3000);
                self.log(&format!("kill -9 node{n}, down {down:?}"));
                self.cluster.kill(n);
                std::thread::sleep(down);
                self.cluster.start(n)?;
            }
            Fault::Pause(n) => {
                let frozen = self.millis(200..4000);
                self.log(&format!("SIGSTOP node{n} for {frozen:?}"));
                self.cluster.pause(n);
                std::thread::sleep(frozen);
                self.cluster.resume(n);
            }
            Fault::RestartAll => {
                self.log("kill -9 every node, restart");
                for &n in &self.members {
                    self.cluster.kill(n);
                }
                std::thread::sleep(self.millis(0..1000));
                for &n in &self.members {
                    self.cluster.start(n)?;
                }
            }
            Fault::Replace(old) => self.replace(old)?,
            Fault::Partition(side) => {
                let Some(net) = self.net else {
                    return Ok(());
                };
                let cut = self.millis(500..6000);
                self.log(&format!("cut {side:?} off from the others for {cut:?}"));
                let in_use = self.cluster.nodes().len();
                net.partition(&side, in_use)?;
                std::thread::sleep(cut);
                net.heal(in_use)?;
            }
        }
        Ok(())
    }

    /// README's procedure: add a learner, start it with `--join`, promote
    /// it once it has caught up, remove the old member, which then stops.
    fn replace(&mut self, old: usize) -> anyhow::Result<()> {
        let new = match self.net {
            Some(net) => self
                .cluster
                .add_joining_node_at(net.addr(self.cluster.nodes().len()))?,
            None => self.cluster.add_joining_node()?,
        };
        let address = self.cluster.nodes()[new].addr.to_string();
        self.log(&format!("replace node{old} by node{new} ({address})"));
        self.roster.set(self.cluster.addrs());
        let reachable = self.member_addrs();
        member::change(
            &reachable,
            &Change::AddLearner {
                id: new as u64,
                address,
            },
            CHANGE_TIMEOUT,
        )?;
        // Refused while the learner lags; kvctl's user retries, so do we,
        // each attempt within what is left of the one deadline.
        let deadline = Instant::now() + CHANGE_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match member::change(&reachable, &Change::Promote { id: new as u64 }, left) {
                Ok(()) => break,
                Err(e) if Instant::now() < deadline => {
                    tracing::debug!("promote node{new}: {e}");
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => return Err(e.context(format!("node{new} was never promoted"))),
            }
        }
        self.members.push(new);
        member::change(
            &self.member_addrs(),
            &Change::Remove { id: old as u64 },
            CHANGE_TIMEOUT,
        )?;
        self.members.retain(|&m| m != old);
        self.log(&format!("node{new} is a voter, node{old} removed"));
        // It stops by itself once it learns of its removal; a node that
        // never hears of it would linger, so it goes either way.
        self.cluster.terminate(old, Duration::from_secs(5));
        Ok(())
    }

    fn member_addrs(&self) -> Vec<SocketAddr> {
        let nodes = self.cluster.nodes();
        self.members.iter().map(|&m| nodes[m].addr).collect()
    }
}
