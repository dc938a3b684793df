//! How long the node's fsyncs take (`FilePersister::fsync_metrics`).

use std::fmt;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use raft::metrics::FsyncMetrics;

use super::encode::histogram;

/// Writes `raftkv_fsync_duration_seconds{call}`.
#[derive(Debug)]
pub struct FsyncCollector(pub Arc<FsyncMetrics>);

impl Collector for FsyncCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        histogram(
            &mut encoder,
            "raftkv_fsync_duration_seconds",
            "Time of each sync to disk: fdatasync is the log's group commit; fsync the hard \
             state, snapshots and directories",
            &[
                (
                    vec![("call", "fdatasync".into())],
                    self.0.fdatasync.snapshot(),
                ),
                (vec![("call", "fsync".into())], self.0.fsync.snapshot()),
            ],
        )
    }
}
