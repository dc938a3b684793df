//! A cluster of `raft-node` processes on this machine: what `raftkv`, the
//! demo and the binary tests run (the original's raftCoreRun, which forked
//! children and left them running when it died).
//!
//! Every child asks the kernel to send it SIGTERM when this process dies, so
//! no node outlives its launcher, even one killed with -9.

use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use clerk::{ClusterConfig, NodeAddr};

/// One node of the cluster and its process, if running.
pub struct NodeProcess {
    pub id: usize,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    pub log_path: PathBuf,
    /// Where it serves `/metrics`, `/health`, `/ready`, once
    /// [`LocalCluster::enable_metrics`] was called.
    pub metrics_addr: Option<SocketAddr>,
    /// Started with `--join` (added to a running cluster).
    pub join: bool,
    child: Option<Child>,
}

impl NodeProcess {
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }
}

/// N `raft-node` processes sharing one config file.
pub struct LocalCluster {
    raft_node: PathBuf,
    config_path: PathBuf,
    extra_args: Vec<String>,
    /// Put before `raft-node` on each node's command line (e.g. `ip netns
    /// exec NS`, to run it in a network namespace of its own).
    launcher: Option<Launcher>,
    nodes: Vec<NodeProcess>,
}

/// Node id → the program and arguments that run `raft-node` for it.
pub type Launcher = Box<dyn Fn(usize) -> Vec<String> + Send>;

impl LocalCluster {
    /// Writes `config_path` for `n` nodes on free loopback ports, with data
    /// dirs and logs under `dir`. Starts nothing yet.
    pub fn create(
        n: usize,
        config_path: &Path,
        dir: &Path,
        raft_node: &Path,
        extra_args: Vec<String>,
    ) -> anyhow::Result<LocalCluster> {
        Self::create_at(
            free_loopback_addrs(n)?,
            config_path,
            dir,
            raft_node,
            extra_args,
        )
    }

    /// Like [`create`](Self::create), with the nodes at `addrs`.
    pub fn create_at(
        addrs: Vec<SocketAddr>,
        config_path: &Path,
        dir: &Path,
        raft_node: &Path,
        extra_args: Vec<String>,
    ) -> anyhow::Result<LocalCluster> {
        anyhow::ensure!(!addrs.is_empty(), "a cluster needs at least one node");
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let config = ClusterConfig {
            nodes: addrs
                .iter()
                .map(|a| NodeAddr {
                    host: a.ip().to_string(),
                    port: a.port(),
                })
                .collect(),
        };
        std::fs::write(config_path, config.render())
            .with_context(|| format!("cannot write {}", config_path.display()))?;
        let nodes = addrs
            .into_iter()
            .enumerate()
            .map(|(id, addr)| NodeProcess {
                id,
                addr,
                data_dir: dir.join(format!("node{id}")),
                log_path: dir.join(format!("node{id}.log")),
                metrics_addr: None,
                join: false,
                child: None,
            })
            .collect();
        Ok(LocalCluster {
            raft_node: raft_node.to_path_buf(),
            config_path: config_path.to_path_buf(),
            extra_args,
            launcher: None,
            nodes,
        })
    }

    /// Runs each node through `launcher` from its next start on.
    pub fn set_launcher(&mut self, launcher: Launcher) {
        self.launcher = Some(launcher);
    }

    pub fn nodes(&self) -> &[NodeProcess] {
        &self.nodes
    }

    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.nodes.iter().map(|n| n.addr).collect()
    }

    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// Gives every node a free loopback port for `--metrics-addr`, used
    /// from its next start on.
    pub fn enable_metrics(&mut self) -> anyhow::Result<()> {
        let addrs = free_loopback_addrs(self.nodes.len())?;
        for (node, addr) in self.nodes.iter_mut().zip(addrs) {
            node.metrics_addr = Some(addr);
        }
        Ok(())
    }

    /// Where node `id` serves its metrics, if enabled.
    pub fn metrics_addr(&self, id: usize) -> Option<SocketAddr> {
        self.nodes[id].metrics_addr
    }

    /// Adds node N (the next id) on a free loopback port: its lines go into
    /// the config file, and it starts with `--join`, waiting to be added to
    /// the configuration (`kvctl member add-learner`). Returns its id.
    pub fn add_joining_node(&mut self) -> anyhow::Result<usize> {
        let addr = free_loopback_addrs(1)?[0];
        self.add_joining_node_at(addr)
    }

    /// [`add_joining_node`](Self::add_joining_node) listening on `addr`
    /// (say, in a network namespace the launcher puts it in).
    pub fn add_joining_node_at(&mut self, addr: SocketAddr) -> anyhow::Result<usize> {
        let id = self.nodes.len();
        let dir = self.nodes[0]
            .data_dir
            .parent()
            .map_or_else(PathBuf::new, Path::to_path_buf);
        self.nodes.push(NodeProcess {
            id,
            addr,
            data_dir: dir.join(format!("node{id}")),
            log_path: dir.join(format!("node{id}.log")),
            metrics_addr: None,
            join: true,
            child: None,
        });
        let config = ClusterConfig {
            nodes: self
                .nodes
                .iter()
                .map(|n| NodeAddr {
                    host: n.addr.ip().to_string(),
                    port: n.addr.port(),
                })
                .collect(),
        };
        std::fs::write(&self.config_path, config.render())
            .with_context(|| format!("cannot write {}", self.config_path.display()))?;
        self.start(id)?;
        Ok(id)
    }

    pub fn start_all(&mut self) -> anyhow::Result<()> {
        (0..self.nodes.len()).try_for_each(|id| self.start(id))
    }

    /// Starts node `id` (again), appending to its log file.
    pub fn start(&mut self, id: usize) -> anyhow::Result<()> {
        let node = &mut self.nodes[id];
        if node.child.is_some() {
            return Ok(());
        }
        let log = File::options()
            .create(true)
            .append(true)
            .open(&node.log_path)
            .with_context(|| format!("cannot open {}", node.log_path.display()))?;
        let mut command = match &self.launcher {
            None => Command::new(&self.raft_node),
            Some(launcher) => {
                let prefix = launcher(id);
                let mut command = Command::new(&prefix[0]);
                command.args(&prefix[1..]).arg(&self.raft_node);
                command
            }
        };
        command
            .arg("-i")
            .arg(id.to_string())
            .arg("-f")
            .arg(&self.config_path)
            .arg("-d")
            .arg(&node.data_dir)
            .args(&self.extra_args)
            .args(
                node.metrics_addr
                    .iter()
                    .flat_map(|addr| ["--metrics-addr".to_string(), addr.to_string()]),
            )
            .args(node.join.then_some("--join"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let launcher = std::process::id();
        // SAFETY: the closure runs in the forked child before exec and only
        // makes async-signal-safe calls (prctl, getppid, _exit).
        unsafe {
            command.pre_exec(move || {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                // The launcher may have died before prctl took effect.
                if libc::getppid() as u32 != launcher {
                    libc::_exit(1);
                }
                Ok(())
            });
        }
        let child = command
            .spawn()
            .with_context(|| format!("cannot run {}", self.raft_node.display()))?;
        node.child = Some(child);
        Ok(())
    }

    /// Kills node `id` with SIGKILL, as a crash would.
    pub fn kill(&mut self, id: usize) {
        if let Some(mut child) = self.nodes[id].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes node `id` (SIGSTOP), as a long GC pause or a hung VM would.
    pub fn pause(&self, id: usize) {
        self.signal(id, libc::SIGSTOP);
    }

    /// Lets a paused node run again (SIGCONT).
    pub fn resume(&self, id: usize) {
        self.signal(id, libc::SIGCONT);
    }

    fn signal(&self, id: usize, signal: libc::c_int) {
        if let Some(child) = &self.nodes[id].child {
            // SAFETY: kill(2) on the pid of a child we have not reaped yet.
            unsafe {
                libc::kill(child.id() as libc::pid_t, signal);
            }
        }
    }

    /// Asks node `id` to stop (SIGTERM); kills it if it takes over `grace`.
    pub fn terminate(&mut self, id: usize, grace: Duration) -> Option<ExitStatus> {
        // A paused node could not act on SIGTERM.
        self.resume(id);
        self.signal(id, libc::SIGTERM);
        let mut child = self.nodes[id].child.take()?;
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        child.wait().ok()
    }

    /// Stops every node, politely first.
    pub fn stop_all(&mut self) {
        for id in 0..self.nodes.len() {
            self.terminate(id, Duration::from_secs(5));
        }
    }

    /// Nodes that exited on their own since the last call, with their status.
    pub fn reap_exited(&mut self) -> Vec<(usize, ExitStatus)> {
        let mut exited = Vec::new();
        for node in &mut self.nodes {
            if let Some(child) = &mut node.child {
                if let Ok(Some(status)) = child.try_wait() {
                    exited.push((node.id, status));
                    node.child = None;
                }
            }
        }
        exited
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// `n` distinct free ports on 127.0.0.1. Another process could take one
/// between now and the node's bind; the node then fails with a clear error.
fn free_loopback_addrs(n: usize) -> anyhow::Result<Vec<SocketAddr>> {
    let listeners = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()
        .context("cannot find free loopback ports")?;
    listeners
        .iter()
        .map(|l| l.local_addr().context("cannot read a bound port"))
        .collect()
}

/// The `raft-node` binary next to the running one (cargo puts all of a
/// workspace's binaries in the same target dir).
pub fn sibling_binary(name: &str) -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe().context("cannot locate this program")?;
    let path = me.with_file_name(name);
    anyhow::ensure!(
        path.exists(),
        "{} not found next to {} (build it: cargo build --release)",
        name,
        me.display()
    );
    Ok(path)
}
