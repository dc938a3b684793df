//! A simulated network in the spirit of 6.5840's `labrpc`: services register
//! on named servers, callers hold named ends, and the network decides per
//! call whether to deliver, delay, drop or reorder.
//!
//! The network carries encoded bytes to any `rpc::Service`, so the Raft
//! suite registers `RaftRpcServer` and the KV suite `KvServerRpcServer` the
//! same way production registers them with the RPC provider.

mod end;
mod held;
mod network;
mod raft_peer;
mod server;

pub use end::{CallError, ClientEnd};
pub use held::HeldCall;
pub use network::Network;
pub use raft_peer::{raft_peers_over, SimRaftPeer, RAFT_SERVICE};
pub use server::Server;

#[cfg(test)]
mod tests;
