//! One shard of one tool's counters.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::counter::{Writer, add};
use crate::execution::Execution;
use crate::histogram::{DURATION_BUCKET_COUNT, duration_bucket};
use crate::latency::{LatencyHistogram, LatencySnapshot};
use crate::status::{ErrorCategory, ExecutionStatus};

/// Where the successes are counted in `statuses`.
pub(crate) const SUCCESS: usize = ExecutionStatus::Success.index();

/// The counters of one tool that one thread (or, for the shared shard, any
/// thread without a shard of its own) bumps. Aligned to two cache lines so
/// two shards never share one.
///
/// All fields use relaxed atomics: each counter is exact, but a snapshot is
/// not one atomic view across fields.
#[derive(Debug)]
#[repr(align(128))]
pub(crate) struct Shard {
    /// The tool's reset epoch these counters belong to. An owned shard is
    /// cleared by its owner when it sees a newer epoch; readers skip an
    /// owned shard of an older epoch.
    epoch: AtomicU64,
    statuses: [AtomicU64; ExecutionStatus::ALL.len()],
    categories: [AtomicU64; ErrorCategory::ALL.len()],
    total_nanos: AtomicU64,
    min_nanos: AtomicU64,
    max_nanos: AtomicU64,
    input_bytes: AtomicU64,
    output_bytes: AtomicU64,
    last_wall_nanos: AtomicI64,
    buckets: [AtomicU64; DURATION_BUCKET_COUNT],
    latency: LatencyHistogram,
}

impl Default for Shard {
    fn default() -> Self {
        Self {
            epoch: AtomicU64::new(0),
            statuses: Default::default(),
            categories: Default::default(),
            total_nanos: AtomicU64::new(0),
            min_nanos: AtomicU64::new(u64::MAX),
            max_nanos: AtomicU64::new(0),
            input_bytes: AtomicU64::new(0),
            output_bytes: AtomicU64::new(0),
            last_wall_nanos: AtomicI64::new(i64::MIN),
            buckets: Default::default(),
            latency: LatencyHistogram::default(),
        }
    }
}

// Relaxed throughout: every field is an independent counter and readers
// accept that a snapshot taken during calls is not one atomic view.
impl Shard {
    #[inline]
    pub(crate) fn record(&self, execution: &Execution, writer: Writer) {
        if let Writer::Owner { epoch } = writer {
            if self.epoch.load(Ordering::Relaxed) != epoch {
                self.start_epoch(epoch);
            }
        }
        add(&self.statuses[execution.status.index()], 1, writer);
        if let Some(category) = execution.category {
            add(&self.categories[category.index()], 1, writer);
        }
        add(&self.total_nanos, execution.duration_nanos, writer);
        // A load first: after warm-up the extremes rarely change, and a plain
        // load is cheaper than the compare-exchange loop of fetch_min.
        if execution.duration_nanos < self.min_nanos.load(Ordering::Relaxed) {
            self.min_nanos
                .fetch_min(execution.duration_nanos, Ordering::Relaxed);
        }
        if execution.duration_nanos > self.max_nanos.load(Ordering::Relaxed) {
            self.max_nanos
                .fetch_max(execution.duration_nanos, Ordering::Relaxed);
        }
        if execution.input_bytes != 0 {
            add(&self.input_bytes, execution.input_bytes, writer);
        }
        if execution.output_bytes != 0 {
            add(&self.output_bytes, execution.output_bytes, writer);
        }
        if execution.end.wall_nanos > self.last_wall_nanos.load(Ordering::Relaxed) {
            self.last_wall_nanos
                .store(execution.end.wall_nanos, Ordering::Relaxed);
        }
        add(
            &self.buckets[duration_bucket(execution.duration_nanos)],
            1,
            writer,
        );
        self.latency.record(execution.duration_nanos, writer);
    }

    /// The owner clears the counters of an older epoch, then publishes the
    /// new epoch.
    #[cold]
    fn start_epoch(&self, epoch: u64) {
        self.clear();
        // Release: a reader that sees this epoch sees the cleared counters.
        self.epoch.store(epoch, Ordering::Release);
    }

    /// Whether an owned shard's counters belong to `epoch`.
    pub(crate) fn in_epoch(&self, epoch: u64) -> bool {
        // Acquire: pairs with the Release in `start_epoch`.
        self.epoch.load(Ordering::Acquire) == epoch
    }

    /// (executions, successes) so far.
    pub(crate) fn outcome_counts(&self) -> (u64, u64) {
        let total = self
            .statuses
            .iter()
            .map(|n| n.load(Ordering::Relaxed))
            .sum();
        (total, self.statuses[SUCCESS].load(Ordering::Relaxed))
    }

    /// Adds every counter and the latency histogram to `totals`.
    pub(crate) fn add_to(&self, totals: &mut Totals) {
        self.add_counts_to(totals);
        self.latency.add_to(&mut totals.latency);
    }

    /// Adds every counter, not the latency histogram, to `totals`: what
    /// the exporters read. The histogram is 4 KiB per shard once a tool
    /// has run on it, and merging it was most of a scrape (BENCHMARKS.md,
    /// "How the read side grows").
    pub(crate) fn add_counts_to(&self, totals: &mut Totals) {
        for (sum, n) in totals.statuses.iter_mut().zip(&self.statuses) {
            *sum += n.load(Ordering::Relaxed);
        }
        for (sum, n) in totals.categories.iter_mut().zip(&self.categories) {
            *sum += n.load(Ordering::Relaxed);
        }
        totals.total_nanos += self.total_nanos.load(Ordering::Relaxed);
        totals.min_nanos = totals.min_nanos.min(self.min_nanos.load(Ordering::Relaxed));
        totals.max_nanos = totals.max_nanos.max(self.max_nanos.load(Ordering::Relaxed));
        totals.input_bytes += self.input_bytes.load(Ordering::Relaxed);
        totals.output_bytes += self.output_bytes.load(Ordering::Relaxed);
        totals.last_wall_nanos = totals
            .last_wall_nanos
            .max(self.last_wall_nanos.load(Ordering::Relaxed));
        for (sum, n) in totals.buckets.iter_mut().zip(&self.buckets) {
            *sum += n.load(Ordering::Relaxed);
        }
    }

    /// Zeroes every counter of the shared shard (owned shards are cleared by
    /// their owners). Calls recorded concurrently land either before (and
    /// are cleared) or after (and are kept), counter by counter.
    pub(crate) fn clear(&self) {
        for n in self
            .statuses
            .iter()
            .chain(&self.categories)
            .chain(&self.buckets)
        {
            n.store(0, Ordering::Relaxed);
        }
        self.total_nanos.store(0, Ordering::Relaxed);
        self.min_nanos.store(u64::MAX, Ordering::Relaxed);
        self.max_nanos.store(0, Ordering::Relaxed);
        self.input_bytes.store(0, Ordering::Relaxed);
        self.output_bytes.store(0, Ordering::Relaxed);
        self.last_wall_nanos.store(i64::MIN, Ordering::Relaxed);
        self.latency.reset();
    }
}

/// The sum of all shards of one tool.
#[derive(Debug)]
pub(crate) struct Totals {
    pub(crate) statuses: [u64; ExecutionStatus::ALL.len()],
    pub(crate) categories: [u64; ErrorCategory::ALL.len()],
    pub(crate) total_nanos: u64,
    pub(crate) min_nanos: u64,
    pub(crate) max_nanos: u64,
    pub(crate) input_bytes: u64,
    pub(crate) output_bytes: u64,
    pub(crate) last_wall_nanos: i64,
    pub(crate) buckets: [u64; DURATION_BUCKET_COUNT],
    pub(crate) latency: LatencySnapshot,
}

impl Default for Totals {
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
            latency: LatencySnapshot::default(),
        }
    }
}

impl Totals {
    pub(crate) fn executions(&self) -> u64 {
        self.statuses.iter().sum()
    }

    pub(crate) fn successes(&self) -> u64 {
        self.statuses[SUCCESS]
    }
}
