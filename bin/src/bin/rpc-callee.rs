//! Serves the RPC example `FriendServiceRpc` (the original's
//! example/rpcExample/callee/friendService.cpp).

use std::net::SocketAddr;
use std::sync::Arc;

use clap::Parser;
use proto::friend::{
    FriendServiceRpc, FriendServiceRpcServer, GetFriendsListRequest, GetFriendsListResponse,
    ResultCode,
};
use rpc::{Done, ProviderConfig, RpcProvider};

/// Serve FriendServiceRpc.GetFriendsList until interrupted.
#[derive(Parser)]
struct Args {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:7788")]
    listen: SocketAddr,
}

/// Answers every user with the same three friends.
struct FriendService;

impl FriendServiceRpc for FriendService {
    fn get_friends_list(&self, args: GetFriendsListRequest, done: Done<GetFriendsListResponse>) {
        println!("GetFriendsList for user {}", args.userid);
        done.reply(GetFriendsListResponse {
            result: Some(ResultCode {
                errcode: 0,
                errmsg: Vec::new(),
            }),
            friends: ["gao yang", "liu hong", "wang shuo"]
                .iter()
                .map(|name| name.as_bytes().to_vec())
                .collect(),
        });
    }
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let mut provider = RpcProvider::new(ProviderConfig::default());
    provider.register(Arc::new(FriendServiceRpcServer::new(Arc::new(
        FriendService,
    ))));
    let server = provider.start(args.listen)?;
    println!("rpc-callee listening on {}", server.local_addr());
    // Serve until the process is killed; the handle's threads do the work.
    loop {
        std::thread::park();
    }
}
