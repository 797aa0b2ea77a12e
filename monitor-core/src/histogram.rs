//! The reference's ten coarse duration buckets, exact: [`DurationHistogram`].

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

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

#[cfg(test)]
mod tests {
    use super::*;

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
