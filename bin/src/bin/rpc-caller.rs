//! Calls the RPC example `FriendServiceRpc.GetFriendsList` once (the
//! original's example/rpcExample/caller/callFriendService.cpp).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use proto::friend::{FriendServiceRpcClient, GetFriendsListRequest};
use rpc::RpcChannel;

/// Ask an rpc-callee for a user's friends.
#[derive(Parser)]
struct Args {
    /// The callee's address.
    #[arg(long, default_value = "127.0.0.1:7788")]
    addr: SocketAddr,
    /// The user whose friends to list.
    #[arg(long, default_value_t = 1000)]
    userid: u32,
    /// How long to wait for the reply, in milliseconds.
    #[arg(long, default_value_t = 3000)]
    timeout_ms: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let client = FriendServiceRpcClient::new(RpcChannel::new(args.addr));
    let request = GetFriendsListRequest {
        userid: args.userid,
    };
    match client.get_friends_list(&request, Duration::from_millis(args.timeout_ms)) {
        Ok(reply) => {
            println!("friends of user {}:", args.userid);
            for friend in &reply.friends {
                println!("  {}", String::from_utf8_lossy(friend));
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rpc-caller: GetFriendsList on {} failed: {e}", args.addr);
            ExitCode::FAILURE
        }
    }
}
