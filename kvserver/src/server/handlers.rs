//! The `kvServerRpc` handlers: each checks sizes, builds the operation, and
//! hands it to the write path (the log) or the read path (ReadIndex).
//!
//! `raft-node` runs them on its RPC event loop (`register_inline`), so they
//! must never block: short locks only, no disk, no waiting for a commit
//! (the request's `done` is parked and answered by whoever settles it).

use proto::kv::{
    CasArgs, CasReply, DeleteArgs, DeleteReply, GetArgs, GetReply, KvServerRpc, PutAppendArgs,
    PutAppendReply, ScanArgs, ScanReply,
};
use proto::KvErr;
use rpc::{Done, RpcStatus};

use super::KvServer;
use crate::metrics::RequestKind;
use crate::op::{Op, OpKind};
use crate::read_waiters::Query;
use crate::scan::ScanQuery;
use crate::waiters::Reply;

impl KvServerRpc for KvServer {
    fn put_append(&self, args: PutAppendArgs, done: Done<PutAppendReply>) {
        let Some(kind) = OpKind::from_wire(&args.op) else {
            done.fail(
                RpcStatus::BadRequest,
                format!(
                    "Op must be \"Put\" or \"Append\", not {:?}",
                    String::from_utf8_lossy(&args.op)
                ),
            );
            return;
        };
        let timer = self.inner.metrics.start(match kind {
            OpKind::Append => RequestKind::Append,
            _ => RequestKind::Put,
        });
        let reply = Reply::put_append(done, timer);
        // Refused before Raft sees it: the Clerk returns this at once.
        if !self.inner.fits(&args.key, &args.value) {
            reply.failed(KvErr::TooLarge, -1);
            return;
        }
        let op = Op {
            kind,
            key: args.key,
            value: args.value,
            client_id: args.client_id,
            request_id: args.request_id,
        };
        self.write(op, reply);
    }

    fn get(&self, args: GetArgs, done: Done<GetReply>) {
        let reply = Reply::get(done, self.inner.metrics.start(RequestKind::Get));
        if !self.inner.fits(&args.key, &[]) {
            reply.failed(KvErr::TooLarge, -1);
            return;
        }
        let query = Query::Get(args.key.clone());
        let op = Op {
            kind: OpKind::Get,
            key: args.key,
            value: Vec::new(),
            client_id: args.client_id,
            request_id: args.request_id,
        };
        self.read(op, query, reply);
    }

    fn delete(&self, args: DeleteArgs, done: Done<DeleteReply>) {
        let reply = Reply::delete(done, self.inner.metrics.start(RequestKind::Delete));
        if !self.inner.fits(&args.key, &[]) {
            reply.failed(KvErr::TooLarge, -1);
            return;
        }
        let op = Op {
            kind: OpKind::Delete,
            key: args.key,
            value: Vec::new(),
            client_id: args.client_id,
            request_id: args.request_id,
        };
        self.write(op, reply);
    }

    fn scan(&self, args: ScanArgs, done: Done<ScanReply>) {
        let reply = Reply::scan(done, self.inner.metrics.start(RequestKind::Scan));
        if !self.inner.fits(&args.start_key, &[]) || !self.inner.fits(&args.end_key, &[]) {
            reply.failed(KvErr::TooLarge, -1);
            return;
        }
        let op = Op {
            kind: OpKind::Get,
            key: args.start_key.clone(),
            value: Vec::new(),
            client_id: args.client_id,
            request_id: args.request_id,
        };
        let query = Query::Scan(ScanQuery {
            start: args.start_key,
            end: args.end_key,
            limit: args.limit,
        });
        self.read(op, query, reply);
    }

    fn cas(&self, args: CasArgs, done: Done<CasReply>) {
        let reply = Reply::cas(done, self.inner.metrics.start(RequestKind::Cas));
        let fits = self.inner.fits(&args.key, &args.value)
            && (args.expect_absent || self.inner.fits(&[], &args.expected));
        if !fits {
            reply.failed(KvErr::TooLarge, -1);
            return;
        }
        let expected = (!args.expect_absent).then_some(args.expected);
        let op = Op {
            kind: OpKind::Cas { expected },
            key: args.key,
            value: args.value,
            client_id: args.client_id,
            request_id: args.request_id,
        };
        self.write(op, reply);
    }
}
