//! A fine log-linear histogram of atomics, for percentiles over every call
//! within 1%.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::counter::{Writer, add};

/// Sub-buckets per power of two: a bucket is at most 1/64 of its lower
/// bound wide, so its midpoint is within 1/128 (0.8%) of any value in it.
const SUB_BITS: u32 = 6;
const SUB: usize = 1 << SUB_BITS;
/// Values below this are counted exactly, one bucket per nanosecond.
const LINEAR: u64 = 2 * SUB as u64;
/// Largest power of two with its own buckets: 2^47 ns is about 39 hours;
/// durations of 2^48 ns (about 78 hours) and more share the last bucket,
/// whose percentile is its midpoint clamped to the observed minimum and
/// maximum (so no longer within 1%).
const MAX_EXPONENT: u32 = 47;
const OCTAVES: usize = (MAX_EXPONENT - SUB_BITS) as usize; // exponents 7..=47
/// Chunk 0 holds the linear buckets (two chunks' worth), then one chunk per octave.
const CHUNKS: usize = 2 + OCTAVES;

/// A log-linear histogram of nanosecond durations with at most 0.8%
/// relative error, as a fixed set of atomics.
///
/// Chunks of 64 buckets are allocated on first use (once per chunk, never
/// per call), so a tool whose calls all take about the same time holds a
/// few hundred bytes instead of the 22 KiB a full table would.
#[derive(Debug)]
pub(crate) struct LatencyHistogram {
    chunks: [OnceLock<Box<[AtomicU64; SUB]>>; CHUNKS],
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self {
            chunks: [const { OnceLock::new() }; CHUNKS],
        }
    }
}

/// (chunk, slot) of a duration.
#[inline]
fn locate(nanos: u64) -> (usize, usize) {
    if nanos < LINEAR {
        let i = usize::try_from(nanos).unwrap_or(0);
        return (i / SUB, i % SUB);
    }
    let exponent = nanos.ilog2().min(MAX_EXPONENT);
    if exponent == MAX_EXPONENT && nanos >> MAX_EXPONENT > 1 {
        return (CHUNKS - 1, SUB - 1);
    }
    #[allow(clippy::cast_possible_truncation)] // masked to 6 bits
    let slot = (nanos >> (exponent - SUB_BITS)) as usize & (SUB - 1);
    (2 + (exponent - SUB_BITS - 1) as usize, slot)
}

/// Lower bound and width of the bucket of flat index `index` (as
/// [`LatencySnapshot::sparse`] gives), for a bound on an interval's
/// minimum and maximum.
#[cfg(feature = "store")]
pub(crate) fn sparse_bounds(index: u32) -> (u64, u64) {
    let index = usize::try_from(index)
        .unwrap_or(usize::MAX)
        .min(CHUNKS * SUB - 1);
    bounds(index / SUB, index % SUB)
}

/// Lower bound and width of bucket (chunk, slot).
fn bounds(chunk: usize, slot: usize) -> (u64, u64) {
    if chunk < 2 {
        return ((chunk * SUB + slot) as u64, 1);
    }
    #[allow(clippy::cast_possible_truncation)] // chunk < CHUNKS = 43
    let exponent = (chunk - 2) as u32 + SUB_BITS + 1;
    let width = 1u64 << (exponent - SUB_BITS);
    (((SUB + slot) as u64) << (exponent - SUB_BITS), width)
}

impl LatencyHistogram {
    #[inline]
    pub(crate) fn record(&self, nanos: u64, writer: Writer) {
        let (chunk, slot) = locate(nanos);
        let buckets =
            self.chunks[chunk].get_or_init(|| Box::new([const { AtomicU64::new(0) }; SUB]));
        add(&buckets[slot], 1, writer);
    }

    /// Adds this histogram's counts into `into`, one slot per bucket.
    pub(crate) fn add_to(&self, into: &mut LatencySnapshot) {
        for (chunk, buckets) in self.chunks.iter().enumerate() {
            if let Some(buckets) = buckets.get() {
                let target = into.chunks[chunk].get_or_insert_with(|| Box::new([0; SUB]));
                for (slot, count) in buckets.iter().enumerate() {
                    target[slot] += count.load(Ordering::Relaxed);
                }
            }
        }
    }

    pub(crate) fn reset(&self) {
        for buckets in self.chunks.iter().filter_map(OnceLock::get) {
            for count in buckets.iter() {
                count.store(0, Ordering::Relaxed);
            }
        }
    }
}

/// A plain copy of one or more [`LatencyHistogram`]s, for computing
/// percentiles off the hot path.
#[derive(Debug)]
pub(crate) struct LatencySnapshot {
    chunks: [Option<Box<[u64; SUB]>>; CHUNKS],
}

impl Default for LatencySnapshot {
    fn default() -> Self {
        Self {
            chunks: [const { None }; CHUNKS],
        }
    }
}

impl LatencySnapshot {
    /// The value at sorted index `min(floor(n·q), n-1)`, as the reference
    /// computes it, within 0.8%; the midpoint of its bucket, clamped to the
    /// observed `[min, max]`. `None` if empty.
    pub(crate) fn quantile(&self, q: f64, min: u64, max: u64) -> Option<u64> {
        let total: u64 = self.counts().map(|(_, _, n)| n).sum();
        if total == 0 {
            return None;
        }
        #[allow(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss
        )] // the reference's int(n * q): exact for any realistic n
        let rank = ((total as f64 * q) as u64).min(total - 1);
        let mut seen = 0;
        for (chunk, slot, count) in self.counts() {
            seen += count;
            if seen > rank {
                let (low, width) = bounds(chunk, slot);
                return Some((low + width / 2).clamp(min, max.max(min)));
            }
        }
        Some(max)
    }

    /// The non-empty buckets as (flat index, count): the sparse form the
    /// store keeps.
    #[cfg(feature = "store")]
    pub(crate) fn sparse(&self) -> Vec<(u32, u64)> {
        self.counts()
            .filter(|(_, _, n)| *n > 0)
            .filter_map(|(chunk, slot, n)| Some((u32::try_from(chunk * SUB + slot).ok()?, n)))
            .collect()
    }

    /// Adds `count` to the bucket of flat index `index` (as from
    /// [`sparse`](Self::sparse)); an index out of range is ignored.
    #[cfg(feature = "store")]
    pub(crate) fn add_sparse(&mut self, index: u32, count: u64) {
        let Ok(index) = usize::try_from(index) else {
            return;
        };
        let (chunk, slot) = (index / SUB, index % SUB);
        if let Some(target) = self.chunks.get_mut(chunk) {
            let target = target.get_or_insert_with(|| Box::new([0; SUB]));
            target[slot] = target[slot].saturating_add(count);
        }
    }

    fn counts(&self) -> impl Iterator<Item = (usize, usize, u64)> + '_ {
        self.chunks.iter().enumerate().flat_map(|(chunk, buckets)| {
            buckets
                .iter()
                .flat_map(move |b| b.iter().enumerate().map(move |(slot, n)| (chunk, slot, *n)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_lands_in_a_bucket_that_contains_it() {
        let mut value = 0u64;
        while value < (1 << 48) {
            let (chunk, slot) = locate(value);
            let (low, width) = bounds(chunk, slot);
            assert!(
                low <= value && value < low + width,
                "{value} not in [{low}, +{width})"
            );
            let mid = low + width / 2;
            #[allow(clippy::cast_precision_loss)]
            let error = (mid as f64 - value as f64).abs() / (value.max(1) as f64);
            assert!(error <= 1.0 / 128.0, "{value}: error {error}");
            value = value * 17 / 16 + 1;
        }
        assert_eq!(locate(u64::MAX), (CHUNKS - 1, SUB - 1));
    }

    #[test]
    fn quantiles_follow_the_reference_rank() {
        let histogram = LatencyHistogram::default();
        for v in 1..=100u64 {
            histogram.record(v * 1_000_000, Writer::Shared);
        }
        let mut snapshot = LatencySnapshot::default();
        histogram.add_to(&mut snapshot);
        // sorted[int(100 * 0.95)] = sorted[95] = 96 ms.
        let p95 = snapshot.quantile(0.95, 1_000_000, 100_000_000).unwrap();
        assert!(p95.abs_diff(96_000_000) <= 96_000_000 / 100, "{p95}");
        let p99 = snapshot.quantile(0.99, 1_000_000, 100_000_000).unwrap();
        assert!(p99.abs_diff(100_000_000) <= 1_000_000, "{p99}");
        assert_eq!(LatencySnapshot::default().quantile(0.5, 0, 0), None);
    }
}
