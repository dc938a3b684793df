//! How a Clerk reaches the servers: a small trait so tests can put a
//! simulated network where production has one RPC channel per server.

use std::time::Duration;

use proto::kv::{
    CasArgs, CasReply, DeleteArgs, DeleteReply, GetArgs, GetReply, KvServerRpcClient,
    PutAppendArgs, PutAppendReply, ScanArgs, ScanReply,
};
use rpc::{RpcError, RpcStatus};

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

    /// `Delete`. A transport written before it existed answers
    /// UnknownMethod, which the Clerk does not retry.
    fn delete(
        &self,
        _server: usize,
        _args: &DeleteArgs,
        _timeout: Duration,
    ) -> Result<DeleteReply, RpcError> {
        Err(not_offered("Delete"))
    }

    /// `Scan` (see [`delete`](Self::delete) for the default).
    fn scan(
        &self,
        _server: usize,
        _args: &ScanArgs,
        _timeout: Duration,
    ) -> Result<ScanReply, RpcError> {
        Err(not_offered("Scan"))
    }

    /// `Cas` (see [`delete`](Self::delete) for the default).
    fn cas(
        &self,
        _server: usize,
        _args: &CasArgs,
        _timeout: Duration,
    ) -> Result<CasReply, RpcError> {
        Err(not_offered("Cas"))
    }
}

/// What a transport without `method` answers.
fn not_offered(method: &str) -> RpcError {
    RpcError::Remote {
        status: RpcStatus::UnknownMethod,
        message: format!("this transport does not offer {method}"),
    }
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

    fn delete(
        &self,
        server: usize,
        args: &DeleteArgs,
        timeout: Duration,
    ) -> Result<DeleteReply, RpcError> {
        self[server].delete(args, timeout)
    }

    fn scan(
        &self,
        server: usize,
        args: &ScanArgs,
        timeout: Duration,
    ) -> Result<ScanReply, RpcError> {
        self[server].scan(args, timeout)
    }

    fn cas(&self, server: usize, args: &CasArgs, timeout: Duration) -> Result<CasReply, RpcError> {
        self[server].cas(args, timeout)
    }
}
