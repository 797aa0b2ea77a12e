//! Building a [`ToolExecutionMonitor`]: capacities, shards, clock and sink.

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use crate::clock::{Clock, ClockHandle, SystemClock};
#[cfg(feature = "store")]
use crate::flush::start_flusher;
use crate::history::{History, Records};
use crate::limits::{
    DEFAULT_ERROR_CAPACITY, DEFAULT_HISTORY_CAPACITY, DEFAULT_MAX_TOOLS, MAX_CAPACITY,
};
use crate::monitor::ToolExecutionMonitor;
use crate::registry::Registry;
use crate::sink::{BackgroundSink, MetricsSink, SinkHandle};
#[cfg(feature = "store")]
use crate::store::{Persist, StoreConfig};

impl ToolExecutionMonitor {
    /// A monitor with the default settings.
    #[must_use]
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A builder to configure capacities, clock and sink.
    pub fn builder() -> ToolExecutionMonitorBuilder {
        ToolExecutionMonitorBuilder::default()
    }
}

impl Default for ToolExecutionMonitor {
    fn default() -> Self {
        Self::new()
    }
}

/// Configures a [`ToolExecutionMonitor`].
///
/// # Examples
///
/// ```
/// use monitor_core::{ManualClock, ToolExecutionMonitor};
///
/// let clock = ManualClock::new(chrono::Utc::now());
/// let monitor = ToolExecutionMonitor::builder()
///     .history_capacity(1_000)
///     .error_capacity(100)
///     .max_tools(50)
///     .clock(clock.clone())
///     .build();
/// # let _ = monitor;
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct ToolExecutionMonitorBuilder {
    history_capacity: usize,
    error_capacity: usize,
    max_tools: usize,
    shards: usize,
    clock: ClockHandle,
    sink: Option<Arc<dyn MetricsSink>>,
    /// `Some(capacity)`: the sink runs on its own thread behind a queue.
    sink_queue: Option<usize>,
    #[cfg(feature = "store")]
    store: Option<StoreConfig>,
}

impl Default for ToolExecutionMonitorBuilder {
    fn default() -> Self {
        let parallelism = std::thread::available_parallelism().map_or(4, std::num::NonZero::get);
        Self {
            history_capacity: DEFAULT_HISTORY_CAPACITY,
            error_capacity: DEFAULT_ERROR_CAPACITY,
            max_tools: DEFAULT_MAX_TOOLS,
            shards: (parallelism * 4).min(64),
            clock: ClockHandle::System,
            sink: None,
            sink_queue: None,
            #[cfg(feature = "store")]
            store: None,
        }
    }
}

impl ToolExecutionMonitorBuilder {
    /// How many executions the history keeps (default 10 000; 0 keeps none;
    /// at most [`MAX_CAPACITY`], larger values are cut to it).
    ///
    /// Memory: each thread that records holds a ring of this many entries
    /// (192 bytes each on Linux, 64 of them for a short error message,
    /// allocated on its first call), so that recording never takes a lock;
    /// 10 000 entries are about 2 MB per recording thread.
    pub fn history_capacity(mut self, capacity: usize) -> Self {
        self.history_capacity = capacity.min(MAX_CAPACITY);
        self
    }

    /// How many failed executions the error list keeps (default 1 000; 0
    /// keeps none; at most [`MAX_CAPACITY`]).
    ///
    /// Memory: as for the history, each thread that records a failure holds
    /// a ring of this many entries (allocated on its first failure), so that
    /// recording a failure takes no shared lock; 1 000 entries are about
    /// 190 kB per such thread.
    pub fn error_capacity(mut self, capacity: usize) -> Self {
        self.error_capacity = capacity.min(MAX_CAPACITY);
        self
    }

    /// How many distinct tool names get their own statistics (default
    /// 10 000). Calls to further names are counted under
    /// [`OVERFLOW_TOOL_NAME`](crate::OVERFLOW_TOOL_NAME), so memory stays bounded whatever names
    /// callers send. 0 counts every call under the overflow entry.
    pub fn max_tools(mut self, max: usize) -> Self {
        self.max_tools = max;
        self
    }

    /// How many threads get a shard of their own for each tool (default
    /// four per CPU, at most 64; at most 1024). A thread with its own shard
    /// records with plain stores; the threads beyond this number share one
    /// more shard and record with atomic read-modify-writes: still exact,
    /// only slower under contention. Shards are allocated on first use.
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = shards.min(1024);
        self
    }

    /// The clock for durations and timestamps (default [`SystemClock`](crate::SystemClock)).
    ///
    /// Passing a `SystemClock` is the same as the default: the monitor
    /// reads the time-stamp counter directly instead of through a
    /// `dyn Clock`, and stays comparable with the global monitor's clock.
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = if (&clock as &dyn Any).is::<SystemClock>() {
            ClockHandle::System
        } else {
            ClockHandle::Custom(Arc::new(clock))
        };
        self
    }

    /// Where every execution is also forwarded (default none).
    pub fn sink(mut self, sink: Arc<dyn MetricsSink>) -> Self {
        self.sink = Some(sink);
        self.sink_queue = None;
        self
    }

    /// Where every execution is also forwarded, on a thread of the sink's
    /// own behind a queue of `capacity` executions: a sink that blocks or
    /// is slow never holds up a tool. While the queue is full, executions
    /// are dropped for the sink (they are still recorded by the monitor)
    /// and counted in [`sink_dropped`](ToolExecutionMonitor::sink_dropped).
    /// Should the thread fail to start, the sink runs inline.
    pub fn background_sink(mut self, sink: Arc<dyn MetricsSink>, capacity: usize) -> Self {
        self.sink = Some(sink);
        self.sink_queue = Some(capacity.clamp(1, MAX_CAPACITY));
        self
    }

    /// Persists what the monitor measures into the SQLite file of
    /// `config` (feature `store`), written by a background flusher every
    /// interval (with [`build_shared`](Self::build_shared)), on
    /// [`flush`](ToolExecutionMonitor::flush) and when the monitor is
    /// dropped. Nothing changes per call: a flush reads the same counters
    /// the exporters read. A store that cannot be opened or written never
    /// fails a tool call; see [`store_failures`](ToolExecutionMonitor::store_failures).
    #[cfg(feature = "store")]
    pub fn store(mut self, config: StoreConfig) -> Self {
        self.store = Some(config);
        self
    }

    /// The monitor, shared; with a [`store`](Self::store), a background
    /// thread flushes it every interval for as long as the monitor lives.
    /// This is the form [`set_global_monitor`](crate::set_global_monitor)
    /// takes.
    ///
    /// # Examples
    ///
    /// ```
    /// let monitor = monitor_core::ToolExecutionMonitor::builder().build_shared();
    /// monitor_core::set_global_monitor(monitor);
    /// ```
    #[must_use]
    pub fn build_shared(self) -> Arc<ToolExecutionMonitor> {
        let monitor = Arc::new(self.build());
        #[cfg(feature = "store")]
        start_flusher(&monitor);
        monitor
    }

    /// The monitor.
    #[must_use]
    pub fn build(self) -> ToolExecutionMonitor {
        let sink_failures = Arc::new(AtomicU64::new(0));
        let sink = self.sink.map(|sink| {
            let background = self.sink_queue.and_then(|capacity| {
                BackgroundSink::spawn(Arc::clone(&sink), capacity, Arc::clone(&sink_failures))
            });
            background.map_or(SinkHandle::Inline(sink), SinkHandle::Background)
        });
        ToolExecutionMonitor {
            clock: self.clock,
            registry: Registry::new(self.shards, self.max_tools),
            records: Records {
                history: History::new(self.shards, self.history_capacity),
                errors: History::new(self.shards, self.error_capacity),
            },
            history_capacity: self.history_capacity,
            sink,
            sink_failures,
            measurement_failures: AtomicU64::new(0),
            #[cfg(feature = "store")]
            store: self.store.map(|config| Arc::new(Persist::new(config))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn a_system_clock_passed_in_takes_the_system_path() {
        let passed = ToolExecutionMonitor::builder()
            .clock(SystemClock::new())
            .build();
        assert!(passed.uses_system_clock());
        assert!(ToolExecutionMonitor::new().uses_system_clock());
        let manual = ToolExecutionMonitor::builder()
            .clock(ManualClock::new(chrono::DateTime::UNIX_EPOCH))
            .build();
        assert!(!manual.uses_system_clock());
    }
}
