//! Compiles `protos/*.proto` with protox (pure Rust, no system `protoc`) and
//! generates messages with prost-build plus, for every `service`, the server
//! trait, dispatch adapter and blocking client stub of `service_gen.rs`.

mod service_gen;

const PROTOS: &[&str] = &["raft.proto", "kv.proto", "admin.proto", "friend.proto"];

fn main() {
    let descriptors = match protox::compile(PROTOS, ["protos"]) {
        Ok(descriptors) => descriptors,
        Err(e) => panic!("cannot compile the .proto files: {e}"),
    };
    for proto in PROTOS {
        println!("cargo:rerun-if-changed=protos/{proto}");
    }
    prost_build::Config::new()
        .service_generator(Box::new(service_gen::RpcServiceGenerator))
        .compile_fds(descriptors)
        .unwrap_or_else(|e| panic!("prost-build failed: {e}"));
}
