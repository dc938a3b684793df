//! The protobuf frame headers, generated from `proto/protos/rpc_header.proto`.

include!(concat!(env!("OUT_DIR"), "/rpcheader.rs"));
