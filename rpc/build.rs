//! Compiles the frame headers (`proto/protos/rpc_header.proto`) with protox,
//! so no system `protoc` is needed.

const HEADER_PROTO: &str = "../proto/protos/rpc_header.proto";

fn main() {
    println!("cargo:rerun-if-changed={HEADER_PROTO}");
    let descriptors = protox::compile(["rpc_header.proto"], ["../proto/protos"])
        .unwrap_or_else(|e| panic!("cannot compile {HEADER_PROTO}: {e}"));
    prost_build::Config::new()
        .compile_fds(descriptors)
        .unwrap_or_else(|e| panic!("prost-build failed on {HEADER_PROTO}: {e}"));
}
