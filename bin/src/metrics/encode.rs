//! Writing values read at scrape time (atomics, status getters, the
//! `raft::metrics` histograms) as prometheus-client metric families.

use std::fmt;

use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use raft::metrics::HistogramSnapshot;

/// The labels of one series: (name, value) pairs.
pub type Labels = Vec<(&'static str, String)>;

/// A counter family; `name` without its `_total`, which the encoder adds.
pub fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: &[(Labels, u64)],
) -> fmt::Result {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, value) in series {
        family
            .encode_family(labels)?
            .encode_counter::<NoLabelSet, _, u64>(value, None)?;
    }
    Ok(())
}

/// A counter without labels.
pub fn counter_one(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> fmt::Result {
    encoder
        .encode_descriptor(name, help, None, MetricType::Counter)?
        .encode_counter::<NoLabelSet, _, u64>(&value, None)
}

/// A gauge family.
pub fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: &[(Labels, i64)],
) -> fmt::Result {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, value) in series {
        family.encode_family(labels)?.encode_gauge(value)?;
    }
    Ok(())
}

/// A gauge without labels. Indexes and counts above `i64::MAX` cannot
/// happen in practice; they saturate rather than wrap.
pub fn gauge_one(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> fmt::Result {
    gauge_signed(
        encoder,
        name,
        help,
        i64::try_from(value).unwrap_or(i64::MAX),
    )
}

/// A gauge without labels that may be negative.
pub fn gauge_signed(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: i64,
) -> fmt::Result {
    encoder
        .encode_descriptor(name, help, None, MetricType::Gauge)?
        .encode_gauge(&value)
}

/// A histogram family, in seconds.
pub fn histogram(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: &[(Labels, HistogramSnapshot)],
) -> fmt::Result {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Histogram)?;
    for (labels, h) in series {
        family
            .encode_family(labels)?
            .encode_histogram::<NoLabelSet>(h.sum_seconds, h.count, &per_bucket(h), None)?;
    }
    Ok(())
}

/// A histogram without labels, in seconds.
pub fn histogram_one(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    h: &HistogramSnapshot,
) -> fmt::Result {
    encoder
        .encode_descriptor(name, help, None, MetricType::Histogram)?
        .encode_histogram::<NoLabelSet>(h.sum_seconds, h.count, &per_bucket(h), None)
}

/// The encoder adds the buckets up itself: it wants each bucket's own
/// count, where a snapshot holds running totals.
fn per_bucket(h: &HistogramSnapshot) -> Vec<(f64, u64)> {
    let mut below = 0;
    h.buckets
        .iter()
        .map(|&(bound, total)| {
            let own = total - below;
            below = total;
            (bound, own)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_totals_become_bucket_counts() {
        let h = HistogramSnapshot {
            buckets: vec![(0.1, 2), (1.0, 2), (10.0, 5)],
            count: 6,
            sum_seconds: 20.0,
        };
        assert_eq!(per_bucket(&h), vec![(0.1, 2), (1.0, 0), (10.0, 3)]);
    }
}
