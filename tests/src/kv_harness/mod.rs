//! A KV cluster for scenario tests (6.5840's `kvraft/config.go` and the
//! helpers of its `test_test.go`): KvServers over the simulated network,
//! clients on their own ends, partitions, crash and restart from copied
//! persisters, the GenericTest driver and its checks; and the same servers over real
//! TCP with file persisters ([`TcpCluster`]).

mod checks;
mod client;
mod cluster;
mod generic;
mod speed;
mod tcp;
mod transport;

pub use checks::{
    append_value, check_clnt_appends, check_concurrent_appends, check_linearizable,
    check_linearizable_in, timeline_dir, LINEARIZABILITY_TIMEOUT,
};
pub use client::KvClient;
pub use cluster::KvCluster;
pub use generic::{partitioner, Generic, CLIENT_RUN, ITERATIONS};
pub use speed::{speed_test, MAX_TIME_PER_OP, SPEED_OPS};
pub use tcp::{LatePeer, TcpCluster};
pub use transport::{SimKvTransport, KV_SERVICE};
