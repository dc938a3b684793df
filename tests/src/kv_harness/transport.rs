//! A [`clerk::KvTransport`] over simulated client ends: one end per server
//! per clerk, so a partition can cut a clerk off from some servers
//! (6.5840's `makeClient(to)`).

use std::time::Duration;

use prost::Message;
use proto::kv::{
    CasArgs, CasReply, DeleteArgs, DeleteReply, GetArgs, GetReply, PutAppendArgs, PutAppendReply,
    ScanArgs, ScanReply,
};
use rpc::RpcError;

use crate::sim::{CallError, ClientEnd};

/// The wire name of the KV service (`service kvServerRpc` in kv.proto).
pub const KV_SERVICE: &str = "kvServerRpc";

/// One clerk's ends, end `i` leading to server `i`.
pub struct SimKvTransport {
    ends: Vec<ClientEnd>,
}

impl SimKvTransport {
    pub fn new(ends: Vec<ClientEnd>) -> Self {
        Self { ends }
    }

    fn call<A: Message, R: Message + Default>(
        &self,
        server: usize,
        method: &str,
        args: &A,
    ) -> Result<R, RpcError> {
        let end = self
            .ends
            .get(server)
            .ok_or_else(|| RpcError::Closed(format!("no server {server}")))?;
        let reply = end
            .call(KV_SERVICE, method, &args.encode_to_vec())
            .map_err(to_rpc_error)?;
        R::decode(reply.as_slice()).map_err(|e| RpcError::Decode(e.to_string()))
    }
}

/// A simulated failure seen as the production channel would report it:
/// silence is a timeout, a dead server a closed connection.
fn to_rpc_error(e: CallError) -> RpcError {
    match e {
        CallError::Remote(status, message) => RpcError::Remote { status, message },
        CallError::RequestLost | CallError::ReplyLost | CallError::TimedOut => RpcError::Timeout,
        CallError::Unreachable | CallError::ServerDied | CallError::TooLarge(_) => {
            RpcError::Closed(e.to_string())
        }
    }
}

impl clerk::KvTransport for SimKvTransport {
    fn server_count(&self) -> usize {
        self.ends.len()
    }

    // The simulated network bounds every call itself (a lost message fails
    // after a short random wait, a hung handler after 10 s), so the clerk's
    // per-call timeout is not needed here.
    fn get(&self, server: usize, args: &GetArgs, _timeout: Duration) -> Result<GetReply, RpcError> {
        self.call(server, "Get", args)
    }

    fn put_append(
        &self,
        server: usize,
        args: &PutAppendArgs,
        _timeout: Duration,
    ) -> Result<PutAppendReply, RpcError> {
        self.call(server, "PutAppend", args)
    }

    fn delete(
        &self,
        server: usize,
        args: &DeleteArgs,
        _timeout: Duration,
    ) -> Result<DeleteReply, RpcError> {
        self.call(server, "Delete", args)
    }

    fn scan(
        &self,
        server: usize,
        args: &ScanArgs,
        _timeout: Duration,
    ) -> Result<ScanReply, RpcError> {
        self.call(server, "Scan", args)
    }

    fn cas(&self, server: usize, args: &CasArgs, _timeout: Duration) -> Result<CasReply, RpcError> {
        self.call(server, "Cas", args)
    }
}
