//! How a Clerk reaches the servers: a small trait so tests can put a
//! simulated network where production has one RPC channel per server.

use std::time::Duration;

use proto::kv::{GetArgs, GetReply, KvServerRpcClient, PutAppendArgs, PutAppendReply};
use rpc::RpcError;

/// The cluster's `kvServerRpc` endpoints, addressed by node id.
pub trait KvTransport: Send + Sync + 'static {
    /// How many servers there are; ids run from 0.
    fn server_count(&self) -> usize;

    fn get(&self, server: usize, args: &GetArgs, timeout: Duration) -> Result<GetReply, RpcError>;

    fn put_append(
        &self,
        server: usize,
        args: &PutAppendArgs,
        timeout: Duration,
    ) -> Result<PutAppendReply, RpcError>;
}

/// Production transport: one generated stub (one shared TCP connection) per server.
impl KvTransport for Vec<KvServerRpcClient> {
    fn server_count(&self) -> usize {
        self.len()
    }

    fn get(&self, server: usize, args: &GetArgs, timeout: Duration) -> Result<GetReply, RpcError> {
        self[server].get(args, timeout)
    }

    fn put_append(
        &self,
        server: usize,
        args: &PutAppendArgs,
        timeout: Duration,
    ) -> Result<PutAppendReply, RpcError> {
        self[server].put_append(args, timeout)
    }
}
