//! One tool's counters as plain numbers: taken from the shards' totals,
//! subtracted (a flush writes the difference since the last one), added
//! (an hour's row, or the rows a read merges), and turned back into
//! [`Totals`] for the statistics in-process reads compute.

use std::collections::BTreeMap;

use crate::histogram::DURATION_BUCKET_COUNT;
use crate::latency::{LatencySnapshot, sparse_bounds};
use crate::shard::{SUCCESS, Totals};
use crate::status::{ErrorCategory, ExecutionStatus};

/// Counters of one tool over some span: a process's lifetime so far, an
/// interval between flushes, an hour's row, or a merge of rows.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Counts {
    pub(crate) statuses: [u64; ExecutionStatus::ALL.len()],
    pub(crate) categories: [u64; ErrorCategory::ALL.len()],
    pub(crate) total_nanos: u64,
    /// `u64::MAX` while there are no executions.
    pub(crate) min_nanos: u64,
    pub(crate) max_nanos: u64,
    pub(crate) input_bytes: u64,
    pub(crate) output_bytes: u64,
    /// `i64::MIN` while there are no executions.
    pub(crate) last_wall_nanos: i64,
    pub(crate) buckets: [u64; DURATION_BUCKET_COUNT],
    /// The log-linear latency histogram, sparse: bucket index to count.
    pub(crate) latency: BTreeMap<u32, u64>,
}

impl Default for Counts {
    fn default() -> Self {
        Self {
            statuses: [0; ExecutionStatus::ALL.len()],
            categories: [0; ErrorCategory::ALL.len()],
            total_nanos: 0,
            min_nanos: u64::MAX,
            max_nanos: 0,
            input_bytes: 0,
            output_bytes: 0,
            last_wall_nanos: i64::MIN,
            buckets: [0; DURATION_BUCKET_COUNT],
            latency: BTreeMap::new(),
        }
    }
}

fn zip_sub<const N: usize>(a: &[u64; N], b: &[u64; N]) -> [u64; N] {
    std::array::from_fn(|i| a[i].saturating_sub(b[i]))
}

fn zip_add<const N: usize>(a: &mut [u64; N], b: &[u64; N]) {
    for (a, b) in a.iter_mut().zip(b) {
        *a = a.saturating_add(*b);
    }
}

impl Counts {
    pub(crate) fn from_totals(totals: &Totals) -> Self {
        Self {
            statuses: totals.statuses,
            categories: totals.categories,
            total_nanos: totals.total_nanos,
            min_nanos: totals.min_nanos,
            max_nanos: totals.max_nanos,
            input_bytes: totals.input_bytes,
            output_bytes: totals.output_bytes,
            last_wall_nanos: totals.last_wall_nanos,
            buckets: totals.buckets,
            latency: totals.latency.sparse().into_iter().collect(),
        }
    }

    pub(crate) fn executions(&self) -> u64 {
        self.statuses.iter().sum()
    }

    pub(crate) fn successes(&self) -> u64 {
        self.statuses[SUCCESS]
    }

    /// What happened between `earlier` and `self`, two cumulative
    /// snapshots of one tool in one epoch. Counts and sums are exact. The
    /// interval's minimum is exact when the cumulative minimum fell in it;
    /// otherwise its lowest latency bucket bounds it (within 1%), never
    /// below the cumulative minimum. The maximum likewise.
    pub(crate) fn since(&self, earlier: &Self) -> Self {
        let latency: BTreeMap<u32, u64> = self
            .latency
            .iter()
            .filter_map(|(index, n)| {
                let delta = n.saturating_sub(earlier.latency.get(index).copied().unwrap_or(0));
                (delta > 0).then_some((*index, delta))
            })
            .collect();
        let mut delta = Self {
            statuses: zip_sub(&self.statuses, &earlier.statuses),
            categories: zip_sub(&self.categories, &earlier.categories),
            total_nanos: self.total_nanos.saturating_sub(earlier.total_nanos),
            input_bytes: self.input_bytes.saturating_sub(earlier.input_bytes),
            output_bytes: self.output_bytes.saturating_sub(earlier.output_bytes),
            buckets: zip_sub(&self.buckets, &earlier.buckets),
            latency,
            ..Self::default()
        };
        if delta.executions() == 0 {
            return delta;
        }
        delta.last_wall_nanos = self.last_wall_nanos;
        delta.min_nanos = if self.min_nanos < earlier.min_nanos {
            self.min_nanos
        } else {
            delta
                .latency
                .keys()
                .next()
                .map_or(self.min_nanos, |i| sparse_bounds(*i).0)
                .max(self.min_nanos)
        };
        delta.max_nanos = if self.max_nanos > earlier.max_nanos {
            self.max_nanos
        } else {
            delta
                .latency
                .keys()
                .next_back()
                .map_or(self.max_nanos, |i| {
                    let (low, width) = sparse_bounds(*i);
                    low.saturating_add(width - 1)
                })
                .min(self.max_nanos)
        };
        delta
    }

    /// Adds `other` (a later interval, or another process's row) to this.
    pub(crate) fn add(&mut self, other: &Self) {
        zip_add(&mut self.statuses, &other.statuses);
        zip_add(&mut self.categories, &other.categories);
        zip_add(&mut self.buckets, &other.buckets);
        self.total_nanos = self.total_nanos.saturating_add(other.total_nanos);
        self.input_bytes = self.input_bytes.saturating_add(other.input_bytes);
        self.output_bytes = self.output_bytes.saturating_add(other.output_bytes);
        self.min_nanos = self.min_nanos.min(other.min_nanos);
        self.max_nanos = self.max_nanos.max(other.max_nanos);
        self.last_wall_nanos = self.last_wall_nanos.max(other.last_wall_nanos);
        for (index, n) in &other.latency {
            let entry = self.latency.entry(*index).or_insert(0);
            *entry = entry.saturating_add(*n);
        }
    }

    /// The [`Totals`] that in-process statistics are computed from.
    pub(crate) fn to_totals(&self) -> Totals {
        let mut latency = LatencySnapshot::default();
        for (index, n) in &self.latency {
            latency.add_sparse(*index, *n);
        }
        Totals {
            statuses: self.statuses,
            categories: self.categories,
            total_nanos: self.total_nanos,
            min_nanos: self.min_nanos,
            max_nanos: self.max_nanos,
            input_bytes: self.input_bytes,
            output_bytes: self.output_bytes,
            last_wall_nanos: self.last_wall_nanos,
            buckets: self.buckets,
            latency,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::counter::Writer;
    use crate::latency::LatencyHistogram;

    fn snapshot(durations: &[u64]) -> Counts {
        let mut counts = Counts::default();
        let histogram = LatencyHistogram::default();
        for &nanos in durations {
            counts.statuses[SUCCESS] += 1;
            counts.total_nanos += nanos;
            counts.min_nanos = counts.min_nanos.min(nanos);
            counts.max_nanos = counts.max_nanos.max(nanos);
            histogram.record(nanos, Writer::Shared);
        }
        let mut latency = LatencySnapshot::default();
        histogram.add_to(&mut latency);
        counts.latency = latency.sparse().into_iter().collect();
        counts
    }

    #[test]
    fn deltas_add_back_up_to_the_total() {
        let first = snapshot(&[5_000, 9_000_000]);
        let second = snapshot(&[5_000, 9_000_000, 2_000, 1_000_000, 20_000_000]);
        let delta = second.since(&first);
        assert_eq!(delta.executions(), 3);
        assert_eq!(delta.total_nanos, 21_002_000);
        // The minimum fell in the interval: exact. The maximum too.
        assert_eq!((delta.min_nanos, delta.max_nanos), (2_000, 20_000_000));
        let mut merged = first.clone();
        merged.add(&delta);
        assert_eq!(merged.executions(), second.executions());
        assert_eq!(merged.total_nanos, second.total_nanos);
        assert_eq!(merged.latency, second.latency);
        assert_eq!((merged.min_nanos, merged.max_nanos), (2_000, 20_000_000));
    }

    #[test]
    fn an_interval_without_a_new_extreme_is_bounded_by_its_buckets() {
        let first = snapshot(&[1_000, 100_000_000]);
        let second = snapshot(&[1_000, 100_000_000, 3_000_000, 4_000_000]);
        let delta = second.since(&first);
        assert!(
            delta.min_nanos.abs_diff(3_000_000) <= 3_000_000 / 64,
            "{}",
            delta.min_nanos
        );
        assert!(
            delta.max_nanos.abs_diff(4_000_000) <= 4_000_000 / 64,
            "{}",
            delta.max_nanos
        );
        assert_eq!(Counts::default().since(&Counts::default()).executions(), 0);
    }
}
