//! The addresses the chaos clients use: every node the run ever started,
//! indexed by node id (so a reply's leader hint names the right one). Nodes
//! are only ever added, so how many there are tells a client whether its
//! Clerk is out of date.

use std::net::SocketAddr;

use parking_lot::RwLock;

pub struct Roster {
    addrs: RwLock<Vec<SocketAddr>>,
}

impl Roster {
    pub fn new(addrs: Vec<SocketAddr>) -> Roster {
        Roster {
            addrs: RwLock::new(addrs),
        }
    }

    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.addrs.read().clone()
    }

    /// How many nodes the run has started so far.
    pub fn len(&self) -> usize {
        self.addrs.read().len()
    }

    /// Publishes the cluster's addresses after a node was added.
    pub fn set(&self, addrs: Vec<SocketAddr>) {
        *self.addrs.write() = addrs;
    }
}
