//! The wire messages and service stubs of raftkv, generated from `protos/`.
//!
//! Corresponds to the original's `*.proto` files (`raftRPC.proto`,
//! `kvServerRPC.proto`, `friend.proto`), compiled there by `protoc` with
//! `cc_generic_services`. Here `build.rs` compiles them with protox, so no
//! system `protoc` is needed, and a custom prost-build service generator emits,
//! per service, a server trait, an `rpc::Service` adapter and a blocking client.
//!
//! - [`raft`]: `raftRpc` — AppendEntries, RequestVote, InstallSnapshot.
//! - [`kv`]: `kvServerRpc` — Get, PutAppend, Delete, Scan and Cas for clients.
//! - [`admin`]: `adminRpc` — a node's status for operators (`kvctl status`).
//! - [`friend`]: `FriendServiceRpc` — the RPC framework's example.
//! - [`KvErr`]: the KV replies' `Err` strings as a typed enum (hand-written).
//!
//! The RPC frame headers (`rpc_header.proto`) live beside these files but are
//! compiled by the `rpc` crate, which needs them and which these stubs need.

#![allow(clippy::doc_lazy_continuation, clippy::large_enum_variant)]

mod kv_err;

pub use kv_err::KvErr;

pub mod raft {
    include!(concat!(env!("OUT_DIR"), "/raft.rs"));
}

pub mod kv {
    include!(concat!(env!("OUT_DIR"), "/kv.rs"));
}

pub mod admin {
    include!(concat!(env!("OUT_DIR"), "/admin.rs"));
}

pub mod friend {
    include!(concat!(env!("OUT_DIR"), "/friend.rs"));
}
