//! The addresses the chaos clients use: every node the run ever started,
//! indexed by node id (so a reply's leader hint names the right one), and
//! a version that changes when a node is added.

use std::net::SocketAddr;

use parking_lot::RwLock;

#[derive(Default)]
pub struct Roster {
    current: RwLock<(u64, Vec<SocketAddr>)>,
}

impl Roster {
    pub fn new(addrs: Vec<SocketAddr>) -> Roster {
        Roster {
            current: RwLock::new((1, addrs)),
        }
    }

    /// The version and the addresses.
    pub fn get(&self) -> (u64, Vec<SocketAddr>) {
        self.current.read().clone()
    }

    pub fn version(&self) -> u64 {
        self.current.read().0
    }

    /// Publishes the cluster's addresses after a node was added.
    pub fn set(&self, addrs: Vec<SocketAddr>) {
        let mut current = self.current.write();
        current.0 += 1;
        current.1 = addrs;
    }
}
