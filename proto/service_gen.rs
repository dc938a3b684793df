//! What protobuf's `cc_generic_services` gave the C++ original, for Rust: for
//! each `service Foo` a server trait `Foo`, an adapter `FooServer<T>` that
//! plugs any implementation into `rpc::RpcProvider`, and a blocking client
//! stub `FooClient` over `rpc::RpcChannel`.

use std::fmt::Write;

use prost_build::{Method, Service, ServiceGenerator};

pub struct RpcServiceGenerator;

impl ServiceGenerator for RpcServiceGenerator {
    fn generate(&mut self, service: Service, buf: &mut String) {
        server_trait(&service, buf);
        server_adapter(&service, buf);
        client_stub(&service, buf);
    }
}

fn server_trait(service: &Service, buf: &mut String) {
    let trait_name = &service.name;
    let _ = writeln!(
        buf,
        "/// Server side of `{proto}`: implement it and register `{trait_name}Server::new(..)`.\n\
         ///\n\
         /// Each method gets the decoded arguments and a `done` responder, which it may\n\
         /// complete at once or later from any thread (the original's `Closure* done`).\n\
         pub trait {trait_name}: Send + Sync + 'static {{",
        proto = service.proto_name,
    );
    for method in &service.methods {
        let _ = writeln!(
            buf,
            "    /// `{proto}.{rpc}`\n    fn {name}(&self, args: {input}, done: ::rpc::Done<{output}>);",
            proto = service.proto_name,
            rpc = method.proto_name,
            name = method.name,
            input = method.input_type,
            output = method.output_type,
        );
    }
    buf.push_str("}\n\n");
}

fn server_adapter(service: &Service, buf: &mut String) {
    let trait_name = &service.name;
    let _ = write!(
        buf,
        "/// Serves a [`{trait_name}`] implementation as the wire service `{proto}`.\n\
         pub struct {trait_name}Server<T: {trait_name}> {{\n    inner: ::std::sync::Arc<T>,\n}}\n\n\
         impl<T: {trait_name}> {trait_name}Server<T> {{\n\
         \x20   pub fn new(inner: ::std::sync::Arc<T>) -> Self {{\n        Self {{ inner }}\n    }}\n}}\n\n\
         impl<T: {trait_name}> ::rpc::Service for {trait_name}Server<T> {{\n\
         \x20   fn name(&self) -> &str {{\n        \"{proto}\"\n    }}\n\n\
         \x20   fn call(&self, method: &[u8], args: &[u8], done: ::rpc::Responder) {{\n\
         \x20       match method {{\n",
        proto = service.proto_name,
    );
    for method in &service.methods {
        dispatch_arm(method, buf);
    }
    buf.push_str(
        "            _ => done.fail(\n\
         \x20               ::rpc::RpcStatus::UnknownMethod,\n\
         \x20               format!(\"unknown method {:?}\", String::from_utf8_lossy(method)),\n\
         \x20           ),\n        }\n    }\n}\n\n",
    );
}

fn dispatch_arm(method: &Method, buf: &mut String) {
    let _ = writeln!(
        buf,
        "            b\"{rpc}\" => match <{input} as ::prost::Message>::decode(args) {{\n\
         \x20               Ok(args) => self.inner.{name}(args, ::rpc::Done::new(done)),\n\
         \x20               Err(e) => done.fail(\n\
         \x20                   ::rpc::RpcStatus::BadRequest,\n\
         \x20                   format!(\"cannot decode {rpc} arguments: {{e}}\"),\n\
         \x20               ),\n            }},",
        rpc = method.proto_name,
        input = method.input_type,
        name = method.name,
    );
}

fn client_stub(service: &Service, buf: &mut String) {
    let trait_name = &service.name;
    let _ = writeln!(
        buf,
        "/// Blocking client stub for `{proto}` (the original's `{proto}_Stub`).\n\
         #[derive(Clone)]\n\
         pub struct {trait_name}Client {{\n    channel: ::rpc::RpcChannel,\n}}\n\n\
         impl {trait_name}Client {{\n\
         \x20   pub fn new(channel: ::rpc::RpcChannel) -> Self {{\n        Self {{ channel }}\n    }}\n\n\
         \x20   pub fn channel(&self) -> &::rpc::RpcChannel {{\n        &self.channel\n    }}",
        proto = service.proto_name,
    );
    for method in &service.methods {
        let _ = writeln!(
            buf,
            "\n    /// Calls `{proto}.{rpc}`, waiting at most `timeout` for the reply.\n\
             \x20   pub fn {name}(\n        &self,\n        args: &{input},\n        timeout: ::std::time::Duration,\n\
             \x20   ) -> ::std::result::Result<{output}, ::rpc::RpcError> {{\n\
             \x20       self.channel.call_message(\"{proto}\", \"{rpc}\", args, timeout)\n    }}",
            proto = service.proto_name,
            rpc = method.proto_name,
            name = method.name,
            input = method.input_type,
            output = method.output_type,
        );
    }
    buf.push_str("}\n\n");
}
