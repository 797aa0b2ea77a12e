//! `ToolExecutionMonitor`: a value, or the global one.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, PoisonError, RwLock};

use crate::classify::ExecutionStatus;
use crate::clock::{Clock, ClockHandle, Reading};
use crate::context::ToolExecutionContext;
use crate::guard::Execution;
use crate::histogram::DurationHistogram;
use crate::metrics::ToolExecutionMetrics;
use crate::recent::{History, Keep, Record, newest};
use crate::registry::{Callsite, Registry, Tool};
use crate::sink::{BackgroundSink, ExecutionEvent, MetricsSink, QueuedEvent, SinkHandle};
use crate::stats::ToolPerformanceStats;
use crate::thread;

pub use crate::registry::{MAX_TOOL_NAME_BYTES, OVERFLOW_TOOL_NAME};

/// The largest history, error-list or sink-queue capacity: 262 144
/// entries (about 35 MB of history per recording thread). Larger requests
/// are cut to it rather than failing on the first call.
pub const MAX_CAPACITY: usize = 1 << 18;

/// Error messages are cut to this many bytes (on a char boundary), so one
/// huge error cannot blow up memory.
pub const MAX_ERROR_MESSAGE_BYTES: usize = 1024;

const DEFAULT_HISTORY_CAPACITY: usize = 10_000;
const DEFAULT_ERROR_CAPACITY: usize = 1_000;
const DEFAULT_MAX_TOOLS: usize = 10_000;
const TREND_DAYS: usize = 7;
const NANOS_PER_HOUR: i64 = 3_600_000_000_000;

/// Collects and analyses tool executions: the reference's
/// `ToolExecutionMonitor`.
///
/// Record through [`#[monitored_tool]`](crate::monitored_tool) or the manual
/// API ([`create_execution_context`](Self::create_execution_context)); read
/// through [`tool_stats`](Self::tool_stats),
/// [`all_tool_stats`](Self::all_tool_stats),
/// [`recent_executions`](Self::recent_executions),
/// [`recent_errors`](Self::recent_errors) and
/// [`duration_histogram`](Self::duration_histogram).
///
/// Recording is lock-free on the success path for the first
/// [`shards`](ToolExecutionMonitorBuilder::shards) live threads: each
/// writes plain relaxed atomics in its own shard of the tool's counters
/// and appends to its own history ring. Threads beyond that share one more
/// shard (atomic adds) and one mutex-guarded ring. Readers copy; they never
/// block a writer for longer than the copy of one ring.
///
/// # Examples
///
/// ```
/// use monitor_core::ToolExecutionMonitor;
///
/// let monitor = ToolExecutionMonitor::builder().history_capacity(100).build();
/// monitor.create_execution_context("search").finish_success();
/// assert_eq!(monitor.recent_executions(None, 10).len(), 1);
/// ```
pub struct ToolExecutionMonitor {
    clock: ClockHandle,
    registry: Registry,
    /// One history ring per thread slot plus a shared one; their union
    /// holds at least the last `history_capacity` records.
    history: History,
    history_capacity: usize,
    /// Failed executions, kept as the history is: one ring per thread slot
    /// and a shared one; their union holds at least the last
    /// `error_capacity` failures.
    errors: History,
    sink: Option<SinkHandle>,
    sink_failures: Arc<AtomicU64>,
    measurement_failures: AtomicU64,
}

impl fmt::Debug for ToolExecutionMonitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToolExecutionMonitor")
            .field("clock", &self.clock)
            .field("tools", &self.registry.all().len())
            .field("history_capacity", &self.history_capacity)
            .field("sink", &self.sink)
            .finish_non_exhaustive()
    }
}

// A panic inside a monitor's code (or a user's sink or clock) cannot leave
// it in a state that breaks later calls: every lock recovers from poisoning,
// counters are atomics, and a half-recorded call only misses some counters.
// So a `&ToolExecutionMonitor` may cross `catch_unwind`, as tools that use
// one often do.
impl std::panic::RefUnwindSafe for ToolExecutionMonitor {}
impl std::panic::UnwindSafe for ToolExecutionMonitor {}

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
        }
    }
}

impl ToolExecutionMonitorBuilder {
    /// How many executions the history keeps (default 10 000; 0 keeps none;
    /// at most [`MAX_CAPACITY`], larger values are cut to it).
    ///
    /// Memory: each thread that records holds a ring of this many entries
    /// (about 140 bytes each, allocated on its first call), so that
    /// recording never takes a lock; 10 000 entries are about 1.4 MB per
    /// recording thread.
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
    /// 140 kB per such thread.
    pub fn error_capacity(mut self, capacity: usize) -> Self {
        self.error_capacity = capacity.min(MAX_CAPACITY);
        self
    }

    /// How many distinct tool names get their own statistics (default
    /// 10 000). Calls to further names are counted under
    /// [`OVERFLOW_TOOL_NAME`], so memory stays bounded whatever names
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
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = ClockHandle::Custom(Arc::new(clock));
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
            history: History::new(self.shards, self.history_capacity),
            history_capacity: self.history_capacity,
            errors: History::new(self.shards, self.error_capacity),
            sink,
            sink_failures,
            measurement_failures: AtomicU64::new(0),
        }
    }
}

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

    /// Starts recording one execution of `tool_name` by hand: the
    /// reference's `create_execution_context`.
    ///
    /// # Examples
    ///
    /// ```
    /// let monitor = monitor_core::ToolExecutionMonitor::new();
    /// let mut call = monitor
    ///     .create_execution_context("fetch")
    ///     .with_user_id("alice")
    ///     .with_session_id("s-1");
    /// call.add_metadata("region", "eu");
    /// let outcome: Result<(), std::io::Error> =
    ///     Err(std::io::ErrorKind::ConnectionRefused.into());
    /// call.finish_result(&outcome);
    /// let error = &monitor.recent_errors(Some("fetch"), 24)[0];
    /// assert_eq!(error.error_category, Some(monitor_core::ErrorCategory::NetworkError));
    /// assert_eq!(error.user_id.as_deref(), Some("alice"));
    /// ```
    pub fn create_execution_context(&self, tool_name: &str) -> ToolExecutionContext<'_> {
        ToolExecutionContext::new(self, self.registry.lookup(tool_name))
    }

    /// Returns a copy of the statistics recorded for `tool`, or `None` if it
    /// never ran or was reset since.
    ///
    /// **Consistency:** counters are read one at a time, so during
    /// concurrent calls `total_executions` may include a call whose duration
    /// is not yet summed. Never blocks writers.
    ///
    /// # Examples
    ///
    /// ```
    /// let monitor = monitor_core::ToolExecutionMonitor::new();
    /// assert!(monitor.tool_stats("add").is_none());
    /// ```
    #[must_use]
    pub fn tool_stats(&self, tool: &str) -> Option<ToolPerformanceStats> {
        self.stats_of(&*self.registry.get(tool)?)
    }

    fn stats_of(&self, tool: &Tool) -> Option<ToolPerformanceStats> {
        let totals = tool.totals();
        let trend = tool.trend.daily_success_rates(
            self.clock.now().wall_nanos,
            TREND_DAYS,
            (totals.executions(), totals.statuses[0]),
        );
        ToolPerformanceStats::from_totals(&tool.name, &totals, trend)
    }

    /// Statistics of every tool that has executions since its last reset,
    /// by name.
    ///
    /// # Examples
    ///
    /// ```
    /// let monitor = monitor_core::ToolExecutionMonitor::new();
    /// monitor.create_execution_context("a").finish_success();
    /// monitor.create_execution_context("b").finish_success();
    /// assert_eq!(monitor.all_tool_stats().keys().collect::<Vec<_>>(), ["a", "b"]);
    /// ```
    #[must_use]
    pub fn all_tool_stats(&self) -> BTreeMap<String, ToolPerformanceStats> {
        self.registry
            .all()
            .iter()
            .filter_map(|tool| self.stats_of(tool))
            .map(|stats| (stats.tool_name.clone(), stats))
            .collect()
    }

    /// Failed executions (any status but success) that started within the
    /// last `hours`, oldest first, from the last `error_capacity` failures.
    /// `tool` narrows to one tool. `hours = 0` returns nothing that started
    /// before now; `u32::MAX` returns every kept failure.
    ///
    /// # Examples
    ///
    /// ```
    /// let monitor = monitor_core::ToolExecutionMonitor::new();
    /// assert!(monitor.recent_errors(None, 24).is_empty());
    /// ```
    #[must_use]
    pub fn recent_errors(&self, tool: Option<&str>, hours: u32) -> Vec<ToolExecutionMetrics> {
        let Ok(tool) = self.tool_filter(tool) else {
            return Vec::new();
        };
        let cutoff = self
            .clock
            .now()
            .wall_nanos
            .saturating_sub(i64::from(hours).saturating_mul(NANOS_PER_HOUR));
        let mut records = self.errors.newest();
        records.retain(|r| r.start_wall_nanos > cutoff && tool.is_none_or(|t| r.tool == t));
        self.to_metrics(records, usize::MAX)
    }

    /// The most recent `limit` executions of the history (which keeps the
    /// last `history_capacity` executions of all tools), oldest first;
    /// `tool` narrows to one tool.
    ///
    /// # Examples
    ///
    /// ```
    /// let monitor = monitor_core::ToolExecutionMonitor::new();
    /// for _ in 0..3 {
    ///     monitor.create_execution_context("ping").finish_success();
    /// }
    /// assert_eq!(monitor.recent_executions(Some("ping"), 2).len(), 2);
    /// assert!(monitor.recent_executions(Some("pong"), 2).is_empty());
    /// ```
    #[must_use]
    pub fn recent_executions(&self, tool: Option<&str>, limit: usize) -> Vec<ToolExecutionMetrics> {
        let Ok(tool) = self.tool_filter(tool) else {
            return Vec::new();
        };
        let mut records = self.history.newest();
        records.retain(|r| tool.is_none_or(|t| r.tool == t));
        self.to_metrics(records, limit)
    }

    /// The registry index that `tool` narrows records to (`None` for all
    /// tools), or `Err` for a tool that was never registered.
    fn tool_filter(&self, tool: Option<&str>) -> Result<Option<u32>, ()> {
        match tool {
            Some(name) => self.registry.get(name).map(|t| Some(t.index)).ok_or(()),
            None => Ok(None),
        }
    }

    fn to_metrics(&self, records: Vec<Record>, limit: usize) -> Vec<ToolExecutionMetrics> {
        let names = self.registry.names();
        newest(records, limit, |index| {
            names
                .get(index as usize)
                .map_or_else(String::new, ToString::to_string)
        })
    }

    /// The duration in milliseconds below which a fraction `q` of the
    /// executions of `tool` fall (`q = 0.5` for the median), computed as
    /// `p95`/`p99` are: the value at sorted index `floor(n·q)`, within 1%.
    /// `None` for a tool without executions or a `q` outside `0.0..=1.0`
    /// (NaN included).
    ///
    /// # Examples
    ///
    /// ```
    /// let monitor = monitor_core::ToolExecutionMonitor::new();
    /// monitor.create_execution_context("echo").finish_success();
    /// assert!(monitor.duration_quantile("echo", 0.5).is_some());
    /// assert!(monitor.duration_quantile("echo", 1.5).is_none());
    /// assert!(monitor.duration_quantile("never", 0.5).is_none());
    /// ```
    #[must_use]
    pub fn duration_quantile(&self, tool: &str, q: f64) -> Option<f64> {
        if !(0.0..=1.0).contains(&q) {
            return None;
        }
        let totals = self.registry.get(tool)?.totals();
        let (min, max) = (totals.min_nanos.min(totals.max_nanos), totals.max_nanos);
        let nanos = totals.latency.quantile(q, min, max)?;
        #[allow(clippy::cast_precision_loss)] // nanoseconds to fractional ms
        Some(nanos as f64 / 1e6)
    }

    /// Executions of `tool` by duration, in the reference's buckets plus an
    /// overflow bucket; all zero for a tool that never ran.
    ///
    /// # Examples
    ///
    /// ```
    /// let monitor = monitor_core::ToolExecutionMonitor::new();
    /// monitor.create_execution_context("quick").finish_success();
    /// assert_eq!(monitor.duration_histogram("quick").counts()[0], 1);
    /// ```
    #[must_use]
    pub fn duration_histogram(&self, tool: &str) -> DurationHistogram {
        self.registry
            .get(tool)
            .map(|tool| DurationHistogram::from_counts(tool.totals().buckets))
            .unwrap_or_default()
    }

    /// Clears the statistics of `tool` (its counters, histogram and trend),
    /// or with `None` of every tool together with the history and the error
    /// list, as the reference's `reset_stats`. An unknown tool is a no-op.
    ///
    /// Calls that finish while a reset runs are each either cleared or kept
    /// whole per counter; no counter is ever torn.
    ///
    /// Cleared records are hidden at once. The rings of recording threads
    /// are written only by their own thread, so the memory of the details
    /// and messages those records held is released as each thread records
    /// again and overwrites them (at most one ring of each per thread).
    ///
    /// # Examples
    ///
    /// ```
    /// let monitor = monitor_core::ToolExecutionMonitor::new();
    /// monitor.create_execution_context("a").finish_success();
    /// monitor.reset_stats(Some("a"));
    /// assert!(monitor.tool_stats("a").is_none());
    /// ```
    pub fn reset_stats(&self, tool: Option<&str>) {
        if let Some(name) = tool {
            if let Some(tool) = self.registry.get(name) {
                tool.reset();
            }
        } else {
            self.registry.all().iter().for_each(|tool| tool.reset());
            self.history.clear();
            self.errors.clear();
        }
    }

    /// How many times the sink panicked (each panic was caught).
    #[must_use]
    pub fn sink_failures(&self) -> u64 {
        self.sink_failures.load(Ordering::Relaxed)
    }

    /// How many executions a [background sink](ToolExecutionMonitorBuilder::background_sink)
    /// missed because its queue was full (always 0 for an inline sink).
    #[must_use]
    pub fn sink_dropped(&self) -> u64 {
        match &self.sink {
            Some(SinkHandle::Background(background)) => background.dropped.load(Ordering::Relaxed),
            _ => 0,
        }
    }

    /// How many argument or result sizes could not be measured because
    /// their `Debug` panicked (each such size was recorded as 0).
    #[must_use]
    pub fn measurement_failures(&self) -> u64 {
        self.measurement_failures.load(Ordering::Relaxed)
    }

    /// Every tool registered so far, in registration order.
    #[cfg(feature = "prometheus")]
    pub(crate) fn registered_tools(&self) -> Vec<Arc<Tool>> {
        self.registry.all()
    }

    #[inline]
    pub(crate) fn now(&self) -> Reading {
        self.clock.now()
    }

    /// Panics while holding each internal lock once, catching the panic, so
    /// that tests can prove monitoring recovers from poisoned locks.
    pub(crate) fn poison_locks(&self) {
        let poison = |lock: &dyn Fn()| {
            let _ = catch_unwind(AssertUnwindSafe(lock));
        };
        poison(&|| self.errors.poison());
        poison(&|| self.history.poison());
        poison(&|| self.registry.poison());
        for tool in self.registry.all() {
            poison(&|| tool.trend.poison());
        }
        poison(&|| {
            let _global = GLOBAL.write();
            panic!("poisoning the global monitor's lock on purpose");
        });
    }

    /// Whether this monitor reads the process's system clock.
    #[inline]
    pub(crate) fn uses_system_clock(&self) -> bool {
        matches!(self.clock, ClockHandle::System)
    }

    /// Records one execution of a call site's tool.
    #[inline]
    pub(crate) fn record_site(&self, site: &Callsite, execution: &mut Execution) {
        let tool = self.registry.for_site(site);
        self.record(&tool, execution);
    }

    /// Records one ended execution: the hot path. Takes its details and
    /// message; reads the rest in place.
    #[inline]
    pub(crate) fn record(&self, tool: &Arc<Tool>, execution: &mut Execution) {
        let (slot, id) = thread::claim_id();
        tool.trend
            .before_record(execution.start.wall_nanos, || tool.outcome_counts());
        let (shard, writer) = tool.shard(slot);
        shard.record(execution, writer);
        if execution.measurement_failures > 0 {
            // Relaxed: an independent counter.
            self.measurement_failures
                .fetch_add(u64::from(execution.measurement_failures), Ordering::Relaxed);
        }
        if execution.status != ExecutionStatus::Success {
            self.errors
                .push(slot, tool.index, id, execution, Keep::Share);
        }
        self.history
            .push(slot, tool.index, id, execution, Keep::Take);
        match &self.sink {
            None => {}
            Some(SinkHandle::Inline(sink)) => self.forward(sink.as_ref(), tool, execution),
            Some(SinkHandle::Background(background)) => background.send(QueuedEvent {
                tool: Arc::clone(tool),
                status: execution.status,
                category: execution.category,
                duration: std::time::Duration::from_nanos(execution.duration_nanos),
                input_bytes: execution.input_bytes,
                output_bytes: execution.output_bytes,
            }),
        }
    }

    #[inline(never)]
    fn forward(&self, sink: &dyn MetricsSink, tool: &Tool, execution: &Execution) {
        let event = ExecutionEvent {
            tool,
            status: execution.status,
            category: execution.category,
            duration: std::time::Duration::from_nanos(execution.duration_nanos),
            input_bytes: execution.input_bytes,
            output_bytes: execution.output_bytes,
        };
        if catch_unwind(AssertUnwindSafe(|| sink.record_execution(&event))).is_err() {
            // Relaxed: an independent counter.
            self.sink_failures.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The global monitor once `set_global_monitor` was called; `None` means
/// the default one.
static GLOBAL: RwLock<Option<Arc<ToolExecutionMonitor>>> = RwLock::new(None);
static GENERATION: AtomicU64 = AtomicU64::new(1);
/// The global monitor until `set_global_monitor` is called: a `static`, so
/// a call reaches it with one atomic load, no thread-local and no lock.
static DEFAULT: LazyLock<Arc<ToolExecutionMonitor>> =
    LazyLock::new(|| Arc::new(ToolExecutionMonitor::new()));
/// Whether `set_global_monitor` was ever called.
static REPLACED: AtomicBool = AtomicBool::new(false);
/// Whether the global monitor reads the process's system clock (the
/// default monitor does), so a call can read its start time without
/// resolving the global monitor.
static GLOBAL_USES_SYSTEM_CLOCK: AtomicBool = AtomicBool::new(true);

thread_local! {
    /// This thread's copy of the global monitor, with its generation, so a
    /// call reads one atomic instead of taking the global lock.
    static CACHED: RefCell<Option<(u64, Arc<ToolExecutionMonitor>)>> = const { RefCell::new(None) };
}

/// The process-wide monitor that `#[monitored_tool]` records into by
/// default; created with default settings on first use.
///
/// # Examples
///
/// ```
/// let monitor = monitor_core::global_monitor();
/// assert!(std::sync::Arc::ptr_eq(&monitor, &monitor_core::global_monitor()));
/// ```
#[must_use]
pub fn global_monitor() -> Arc<ToolExecutionMonitor> {
    let global = GLOBAL.read().unwrap_or_else(PoisonError::into_inner);
    Arc::clone(global.as_ref().unwrap_or(&DEFAULT))
}

/// Replaces the global monitor; calls that finish after this returns are
/// recorded in `monitor`.
///
/// A call in flight while the monitor is replaced is recorded in the new
/// monitor, stamped with the new monitor's clock as ending now; its
/// duration is the one measured on the clock it started with when both
/// monitors read the system clock, else 0 (the two clocks do not compare).
///
/// Threads that recorded into the old monitor keep a reference to it until
/// their next call to a global tool (or until they end), so it is dropped
/// then, on such a thread.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// let mine = Arc::new(monitor_core::ToolExecutionMonitor::new());
/// monitor_core::set_global_monitor(mine.clone());
/// assert!(Arc::ptr_eq(&mine, &monitor_core::global_monitor()));
/// ```
pub fn set_global_monitor(monitor: Arc<ToolExecutionMonitor>) {
    let mut global = GLOBAL.write().unwrap_or_else(PoisonError::into_inner);
    // Relaxed: ordered by the generation's Release below.
    GLOBAL_USES_SYSTEM_CLOCK.store(monitor.uses_system_clock(), Ordering::Relaxed);
    let previous = global.replace(monitor);
    // Release: a thread that sees either then reads the new monitor under
    // the lock.
    REPLACED.store(true, Ordering::Release);
    GENERATION.fetch_add(1, Ordering::Release);
    drop(global);
    // Dropped outside the lock and after the switch: a sink whose `Drop`
    // panics can neither poison the lock nor leave threads on the old one.
    drop(previous);
}

/// Whether the global monitor reads the process's system clock, so that a
/// call can read its start time without resolving the global monitor.
#[inline]
pub(crate) fn global_uses_system_clock() -> bool {
    // Relaxed: a call racing with `set_global_monitor` may take its start
    // from the previous monitor's clock; `CallGuard` re-stamps such a call.
    GLOBAL_USES_SYSTEM_CLOCK.load(Ordering::Relaxed)
}

/// The global monitor's injected clock.
#[inline(never)]
pub(crate) fn global_now() -> Reading {
    with_global(ToolExecutionMonitor::now)
}

/// How many times the global monitor was replaced (plus one): a call that
/// sees it change between start and end was in flight across a
/// `set_global_monitor`.
#[inline]
pub(crate) fn global_generation() -> u64 {
    // Acquire: pairs with the Release in `set_global_monitor`.
    GENERATION.load(Ordering::Acquire)
}

/// Runs `f` with the global monitor, from this thread's cache when it is
/// current. The cached `Arc` is borrowed, not cloned: a clone would bump a
/// reference count that every thread shares.
#[inline]
pub(crate) fn with_global<R>(f: impl FnOnce(&ToolExecutionMonitor) -> R) -> R {
    // Acquire: pairs with the Release in `set_global_monitor`. A call racing
    // with the first replacement may still go to the default monitor.
    if !REPLACED.load(Ordering::Acquire) {
        return f(&DEFAULT);
    }
    // Acquire: pairs with the Release in `set_global_monitor`.
    let generation = GENERATION.load(Ordering::Acquire);
    let mut f = Some(f);
    let ran = CACHED.try_with(|cell| {
        let f = f.take()?;
        if let Ok(slot) = cell.try_borrow() {
            if let Some((seen, monitor)) = slot.as_ref() {
                if *seen == generation {
                    return Some(f(monitor));
                }
            }
        }
        let monitor = global_monitor();
        // Fails only when `f` re-entered us from a sink; then skip caching.
        let replaced = cell
            .try_borrow_mut()
            .ok()
            .and_then(|mut slot| slot.replace((generation, Arc::clone(&monitor))));
        // The replaced monitor may be the last reference: a sink whose `Drop`
        // panics must not reach the tool.
        let _ = catch_unwind(AssertUnwindSafe(move || drop(replaced)));
        Some(f(&monitor))
    });
    match (ran, f) {
        (Ok(Some(result)), _) => result,
        // The thread-local is gone (thread exit): no cache.
        (_, Some(f)) => f(&global_monitor()),
        (_, None) => unreachable!("the closure returns Some whenever it takes `f`"),
    }
}
