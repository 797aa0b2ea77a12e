//! One tool's state: its sharded counters, its reset epoch and its trend.

use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use crate::counter::Writer;
use crate::shard::{Shard, Totals};
use crate::trend::Trend;

/// One tool's state: sharded counters and the trend.
#[derive(Debug)]
pub(crate) struct Tool {
    pub(crate) index: u32,
    pub(crate) name: Arc<str>,
    /// One shard per thread slot below the shard count, each written only
    /// by the thread holding that slot; the last one is shared by every
    /// other thread.
    shards: Box<[OnceLock<Box<Shard>>]>,
    /// Bumped by each reset; owned shards of an older epoch count as empty.
    epoch: AtomicU64,
    pub(crate) trend: Trend,
    /// What the monitor's sink keeps for this tool (metric handles, or the
    /// reference's metric names).
    pub(crate) sink_state: OnceLock<Box<dyn Any + Send + Sync>>,
}

impl Tool {
    pub(crate) fn new(index: u32, name: Arc<str>, owned_shards: usize) -> Self {
        Self {
            index,
            name,
            shards: (0..=owned_shards).map(|_| OnceLock::new()).collect(),
            epoch: AtomicU64::new(0),
            trend: Trend::default(),
            sink_state: OnceLock::new(),
        }
    }

    /// The shard the thread holding `slot` writes to, allocated on its
    /// first use, and how it may write.
    #[inline]
    pub(crate) fn shard(&self, slot: u32) -> (&Shard, Writer) {
        let shared = self.shards.len() - 1;
        let (index, writer) = match usize::try_from(slot) {
            Ok(index) if index < shared => (
                index,
                // Relaxed: a stale epoch only delays clearing by one call,
                // which then counts as concurrent with the reset.
                Writer::Owner {
                    epoch: self.epoch.load(Ordering::Relaxed),
                },
            ),
            _ => (shared, Writer::Shared),
        };
        (self.shards[index].get_or_init(Box::default), writer)
    }

    /// The shards whose counters belong to the current epoch.
    fn live_shards(&self) -> impl Iterator<Item = &Shard> {
        // Acquire: pairs with the Release in `reset`.
        let epoch = self.epoch.load(Ordering::Acquire);
        let shared_index = self.shards.len() - 1;
        self.shards.iter().enumerate().filter_map(move |(i, slot)| {
            let shard = slot.get()?;
            (i == shared_index || shard.in_epoch(epoch)).then_some(shard.as_ref())
        })
    }

    /// How many resets the tool has had: a reader that saw an older epoch
    /// knows the counters restarted from zero since.
    #[cfg(feature = "store")]
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// The sum of every shard.
    pub(crate) fn totals(&self) -> Totals {
        let mut totals = Totals::default();
        for shard in self.live_shards() {
            shard.add_to(&mut totals);
        }
        totals
    }

    /// The sum of every shard's counters, without the latency histogram
    /// (its `latency` stays empty): for readers that need no percentiles.
    pub(crate) fn counts(&self) -> Totals {
        let mut totals = Totals::default();
        for shard in self.live_shards() {
            shard.add_counts_to(&mut totals);
        }
        totals
    }

    /// Cumulative (executions, successes).
    pub(crate) fn outcome_counts(&self) -> (u64, u64) {
        self.live_shards()
            .map(Shard::outcome_counts)
            .fold((0, 0), |(a, b), (c, d)| (a + c, b + d))
    }

    /// Starts a new epoch (owned shards are cleared by their owners) and
    /// clears the shared shard and the trend.
    pub(crate) fn reset(&self) {
        // Release: a reader that sees the new epoch ignores older shards.
        self.epoch.fetch_add(1, Ordering::Release);
        if let Some(shared) = self.shards.last().and_then(OnceLock::get) {
            shared.clear();
        }
        self.trend.reset();
    }
}
