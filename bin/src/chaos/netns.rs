//! Real network partitions for the chaos soak (`--partitions`; Linux, root,
//! iproute2): each node runs in a network namespace of its own, joined to
//! the others and to the clients by a bridge, and a partition is a
//! blackhole route on each side towards the other. Packets of a connection
//! already open vanish (TCP retransmits until the cut heals or it times
//! out); a new connection across the cut fails at once, as it would with a
//! router answering "unreachable". The clients stay in the host's
//! namespace and can still reach every node, so a leader cut off from its
//! peers keeps hearing from clients. With `--replace` too, namespaces for
//! the nodes that may join later are made at the start.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Command;

use anyhow::Context;

/// The port every node listens on, in its own namespace.
const PORT: u16 = 7000;

/// The namespaces, their links and the bridge; removed on drop.
pub struct Net {
    tag: String,
    /// Namespaces made: node ids `0..nodes` each have one.
    nodes: usize,
    /// The third byte of the 10.77.x.0/24 subnet, unique per run.
    subnet: u8,
}

impl Net {
    /// Makes `nodes` namespaces on a fresh bridge (at most 250).
    pub fn create(nodes: usize) -> anyhow::Result<Net> {
        anyhow::ensure!(nodes <= 250, "at most 250 namespaces on one /24");
        let pid = std::process::id();
        let net = Net {
            tag: format!("ck{}", pid % 100_000),
            nodes,
            subnet: (pid % 250) as u8 + 1,
        };
        let bridge = net.bridge();
        ip(&["link", "add", "name", &bridge, "type", "bridge"])
            .context("cannot make a bridge (--partitions needs root and iproute2)")?;
        ip(&[
            "addr",
            "add",
            &format!("{}/24", net.ip(None)),
            "dev",
            &bridge,
        ])?;
        ip(&["link", "set", &bridge, "up"])?;
        for n in 0..nodes {
            let (ns, host, inner) = (net.ns(n), net.host_end(n), net.node_end(n));
            ip(&["netns", "add", &ns])?;
            ip(&["link", "add", &host, "type", "veth", "peer", "name", &inner])?;
            ip(&["link", "set", &inner, "netns", &ns])?;
            ip(&["link", "set", &host, "master", &bridge, "up"])?;
            let addr = format!("{}/24", net.ip(Some(n)));
            in_ns(&ns, "ip", &["addr", "add", &addr, "dev", &inner])?;
            in_ns(&ns, "ip", &["link", "set", &inner, "up"])?;
            in_ns(&ns, "ip", &["link", "set", "lo", "up"])?;
        }
        Ok(net)
    }

    /// Where node `n` listens.
    pub fn addr(&self, n: usize) -> SocketAddr {
        SocketAddr::new(self.ip(Some(n)), PORT)
    }

    /// How many nodes have a namespace.
    pub fn capacity(&self) -> usize {
        self.nodes
    }

    /// The command prefix that runs a program in node `n`'s namespace.
    pub fn launcher(&self, n: usize) -> Vec<String> {
        ["ip", "netns", "exec", &self.ns(n)]
            .map(String::from)
            .to_vec()
    }

    /// Cuts every link between a node of `side` and one of the other nodes
    /// `0..in_use` (namespaces not in use yet need no cut).
    pub fn partition(&self, side: &[usize], in_use: usize) -> anyhow::Result<()> {
        for a in side.iter().copied() {
            for b in (0..in_use.min(self.nodes)).filter(|b| !side.contains(b)) {
                self.drop_to(a, b)?;
                self.drop_to(b, a)?;
            }
        }
        Ok(())
    }

    /// Removes every cut among nodes `0..in_use`.
    pub fn heal(&self, in_use: usize) -> anyhow::Result<()> {
        (0..in_use.min(self.nodes))
            .try_for_each(|n| in_ns(&self.ns(n), "ip", &["route", "flush", "type", "blackhole"]))
    }

    fn drop_to(&self, from: usize, to: usize) -> anyhow::Result<()> {
        let dst = format!("{}/32", self.ip(Some(to)));
        in_ns(&self.ns(from), "ip", &["route", "add", "blackhole", &dst])
    }

    /// The bridge's address (`None`) or node `n`'s.
    fn ip(&self, n: Option<usize>) -> IpAddr {
        let host = n.map_or(1, |n| n as u8 + 2);
        IpAddr::V4(Ipv4Addr::new(10, 77, self.subnet, host))
    }

    fn bridge(&self) -> String {
        format!("{}br", self.tag)
    }

    fn ns(&self, n: usize) -> String {
        format!("{}n{n}", self.tag)
    }

    fn host_end(&self, n: usize) -> String {
        format!("{}h{n}", self.tag)
    }

    fn node_end(&self, n: usize) -> String {
        format!("{}v{n}", self.tag)
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        // Deleting a namespace deletes its end of the veth, and with it
        // the host's end.
        for n in 0..self.nodes {
            let _ = ip(&["netns", "del", &self.ns(n)]);
        }
        let _ = ip(&["link", "del", &self.bridge()]);
    }
}

fn ip(args: &[&str]) -> anyhow::Result<()> {
    run("ip", args)
}

fn in_ns(ns: &str, program: &str, args: &[&str]) -> anyhow::Result<()> {
    let mut all = vec!["netns", "exec", ns, program];
    all.extend_from_slice(args);
    run("ip", &all)
}

fn run(program: &str, args: &[&str]) -> anyhow::Result<()> {
    let output = Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("cannot run {program}"))?;
    anyhow::ensure!(
        output.status.success(),
        "{program} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(())
}
