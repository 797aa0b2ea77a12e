//! Latency histograms: the reference's ten coarse buckets, and a fine
//! log-linear histogram of atomics for percentiles.

use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::shard::{Writer, add};

/// Upper bounds of the reference's duration buckets, in milliseconds.
pub const DURATION_BUCKETS_MS: [u64; 9] = [1, 5, 10, 50, 100, 500, 1000, 5000, 10000];

const BUCKET_LABELS: [&str; 10] = [
    "<= 1ms",
    "<= 5ms",
    "<= 10ms",
    "<= 50ms",
    "<= 100ms",
    "<= 500ms",
    "<= 1000ms",
    "<= 5000ms",
    "<= 10000ms",
    "> 10000ms",
];

/// Number of buckets of a [`DurationHistogram`]: the reference's nine plus
/// an overflow bucket for calls over 10 s.
pub const DURATION_BUCKET_COUNT: usize = 10;

/// Counts of executions by duration, in the reference's buckets.
///
/// Bucket `i` counts the durations `d` with `DURATION_BUCKETS_MS[i-1] < d <=
/// DURATION_BUCKETS_MS[i]`; the last bucket counts the calls over 10 s (the
/// reference wrongly counts those under `"<= 10000ms"`). Counts are exact.
///
/// Serialized as an object in bucket order:
/// `{"<= 1ms": n, "<= 5ms": n, …, "<= 10000ms": n, "> 10000ms": n}`.
///
/// # Examples
///
/// ```
/// let monitor = monitor_core::ToolExecutionMonitor::new();
/// let histogram = monitor.duration_histogram("never-called");
/// assert_eq!(histogram.total(), 0);
/// assert_eq!(histogram.buckets().count(), 10);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DurationHistogram {
    counts: [u64; DURATION_BUCKET_COUNT],
}

impl DurationHistogram {
    pub(crate) fn from_counts(counts: [u64; DURATION_BUCKET_COUNT]) -> Self {
        Self { counts }
    }

    /// The buckets in order, as `(label, upper bound in ms or None for the
    /// overflow bucket, count)`.
    pub fn buckets(&self) -> impl Iterator<Item = (&'static str, Option<u64>, u64)> + '_ {
        (0..DURATION_BUCKET_COUNT).map(|i| {
            (
                BUCKET_LABELS[i],
                DURATION_BUCKETS_MS.get(i).copied(),
                self.counts[i],
            )
        })
    }

    /// The counts in bucket order.
    #[must_use]
    pub fn counts(&self) -> [u64; DURATION_BUCKET_COUNT] {
        self.counts
    }

    /// The number of executions counted.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// The reference bucket a duration falls in.
#[inline]
pub(crate) fn duration_bucket(nanos: u64) -> usize {
    DURATION_BUCKETS_MS
        .iter()
        .position(|&ms| nanos <= ms * 1_000_000)
        .unwrap_or(DURATION_BUCKET_COUNT - 1)
}

impl Serialize for DurationHistogram {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(DURATION_BUCKET_COUNT))?;
        for (label, _, count) in self.buckets() {
            map.serialize_entry(label, &count)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for DurationHistogram {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BucketsVisitor;

        impl<'de> Visitor<'de> for BucketsVisitor {
            type Value = DurationHistogram;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of duration buckets such as {\"<= 1ms\": 3}")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut counts = [0; DURATION_BUCKET_COUNT];
                while let Some(key) = map.next_key::<String>()? {
                    let Some(i) = BUCKET_LABELS.iter().position(|label| *label == key) else {
                        return Err(de::Error::unknown_field(&key, &BUCKET_LABELS));
                    };
                    counts[i] = map.next_value()?;
                }
                Ok(DurationHistogram { counts })
            }
        }

        deserializer.deserialize_map(BucketsVisitor)
    }
}

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

    #[test]
    fn reference_buckets_include_their_upper_bound_and_overflow() {
        assert_eq!(duration_bucket(0), 0);
        assert_eq!(duration_bucket(1_000_000), 0);
        assert_eq!(duration_bucket(1_000_001), 1);
        assert_eq!(duration_bucket(10_000_000_000), 8);
        assert_eq!(duration_bucket(10_000_000_001), 9);
    }

    #[test]
    fn duration_histogram_json_is_ordered_and_round_trips() {
        let histogram = DurationHistogram::from_counts([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        let json = serde_json::to_string(&histogram).unwrap();
        assert!(json.starts_with("{\"<= 1ms\":1,\"<= 5ms\":2"), "{json}");
        assert!(
            json.ends_with("\"<= 10000ms\":9,\"> 10000ms\":10}"),
            "{json}"
        );
        let back: DurationHistogram = serde_json::from_str(&json).unwrap();
        assert_eq!(back, histogram);
        assert!(serde_json::from_str::<DurationHistogram>("{\"<= 2ms\": 1}").is_err());
    }
}
