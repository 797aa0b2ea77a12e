//! `ToolExecutionMonitor`: the store of one process's executions, and its
//! reads. Built by `builder.rs`, recorded into by `record.rs`.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::clock::{ClockHandle, NANOS_PER_HOUR, Reading};
use crate::histogram::DurationHistogram;
use crate::history::Records;
use crate::kept::{Record, newest};
use crate::metrics::ToolExecutionMetrics;
use crate::registry::Registry;
use crate::sink::SinkHandle;
use crate::stats::ToolPerformanceStats;
#[cfg(feature = "store")]
use crate::store::Persist;
use crate::tool::Tool;
use crate::trend::TREND_DAYS;

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
/// [`shards`](crate::ToolExecutionMonitorBuilder::shards) live threads: each
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
    pub(crate) clock: ClockHandle,
    pub(crate) registry: Registry,
    /// The history and the error list: one ring per thread slot plus a
    /// shared one each; their unions hold at least the last
    /// `history_capacity` records and `error_capacity` failures.
    pub(crate) records: Records,
    pub(crate) history_capacity: usize,
    pub(crate) sink: Option<SinkHandle>,
    pub(crate) sink_failures: Arc<AtomicU64>,
    pub(crate) measurement_failures: AtomicU64,
    /// The store file this monitor flushes to, if any; read only by
    /// `flush.rs`, never per call.
    #[cfg(feature = "store")]
    pub(crate) store: Option<Arc<Persist>>,
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

impl ToolExecutionMonitor {
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
            (totals.executions(), totals.successes()),
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
        self.errors_since(tool, i64::from(hours).saturating_mul(NANOS_PER_HOUR))
    }

    /// The failures (errors and timeouts) of `tool` (or of all tools with
    /// `None`) that started within `window` of now, oldest first: as
    /// [`recent_errors`](Self::recent_errors), for any window.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let monitor = monitor_core::ToolExecutionMonitor::new();
    /// let call = monitor.create_execution_context("fetch");
    /// call.finish_classified(
    ///     monitor_core::ExecutionStatus::Timeout,
    ///     monitor_core::ErrorCategory::TimeoutError,
    ///     "took too long",
    /// );
    /// let last_ten_minutes = monitor.recent_errors_within(None, Duration::from_secs(600));
    /// assert_eq!(last_ten_minutes.len(), 1);
    /// ```
    #[must_use]
    pub fn recent_errors_within(
        &self,
        tool: Option<&str>,
        window: Duration,
    ) -> Vec<ToolExecutionMetrics> {
        self.errors_since(tool, i64::try_from(window.as_nanos()).unwrap_or(i64::MAX))
    }

    fn errors_since(&self, tool: Option<&str>, window_nanos: i64) -> Vec<ToolExecutionMetrics> {
        let Ok(tool) = self.tool_filter(tool) else {
            return Vec::new();
        };
        let cutoff = self.clock.now().wall_nanos.saturating_sub(window_nanos);
        let mut records = self.records.errors.newest();
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
        let mut records = self.records.history.newest();
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

    /// The duration below which a fraction `q` of the executions of `tool`
    /// fall (`q = 0.5` for the median), computed as
    /// `p95`/`p99` are: the value at sorted index `floor(n·q)`, within 1%.
    /// `None` for a tool without executions or a `q` outside `0.0..=1.0`
    /// (NaN included).
    ///
    /// # Examples
    ///
    /// ```
    /// let monitor = monitor_core::ToolExecutionMonitor::new();
    /// monitor.create_execution_context("echo").finish_success();
    /// let median = monitor.duration_quantile("echo", 0.5).unwrap();
    /// assert!(median < std::time::Duration::from_secs(1));
    /// assert!(monitor.duration_quantile("echo", 1.5).is_none());
    /// assert!(monitor.duration_quantile("never", 0.5).is_none());
    /// ```
    #[must_use]
    pub fn duration_quantile(&self, tool: &str, q: f64) -> Option<Duration> {
        if !(0.0..=1.0).contains(&q) {
            return None;
        }
        let totals = self.registry.get(tool)?.totals();
        let (min, max) = (totals.min_nanos.min(totals.max_nanos), totals.max_nanos);
        let nanos = totals.latency.quantile(q, min, max)?;
        Some(Duration::from_nanos(nanos))
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
            .map(|tool| DurationHistogram::from_counts(tool.counts().buckets))
            .unwrap_or_default()
    }

    /// Clears the statistics of the tool `name`: its counters, histograms
    /// and trend. Its entries in the history and the error list stay (they
    /// are records of calls that happened; [`reset_all`](Self::reset_all)
    /// clears those). Returns whether the tool was known.
    ///
    /// Calls that finish while a reset runs are each either cleared or kept
    /// whole per counter; no counter is ever torn.
    ///
    /// # Examples
    ///
    /// ```
    /// let monitor = monitor_core::ToolExecutionMonitor::new();
    /// monitor.create_execution_context("a").finish_success();
    /// assert!(monitor.reset_tool("a"));
    /// assert!(monitor.tool_stats("a").is_none());
    /// assert_eq!(monitor.recent_executions(Some("a"), 10).len(), 1);
    /// assert!(!monitor.reset_tool("never-seen"));
    /// ```
    pub fn reset_tool(&self, name: &str) -> bool {
        self.flush_before_reset();
        self.registry
            .get(name)
            .inspect(|tool| tool.reset())
            .is_some()
    }

    /// Clears the statistics of every tool, the history and the error list:
    /// the monitor reads as new (tool names stay registered).
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
    /// monitor.reset_all();
    /// assert!(monitor.all_tool_stats().is_empty());
    /// assert!(monitor.recent_executions(None, 10).is_empty());
    /// ```
    pub fn reset_all(&self) {
        self.flush_before_reset();
        self.registry.all().iter().for_each(|tool| tool.reset());
        self.records.history.clear();
        self.records.errors.clear();
    }

    /// A reset affects what this process reads, not the store: what was
    /// measured before it is flushed first, so the store keeps every call.
    #[cfg_attr(not(feature = "store"), allow(clippy::unused_self))]
    fn flush_before_reset(&self) {
        #[cfg(feature = "store")]
        let _ = self.flush();
    }

    /// The reference's `reset_stats`: [`reset_tool`](Self::reset_tool)
    /// with a name (an unknown one is a no-op), [`reset_all`](Self::reset_all)
    /// with `None`.
    pub fn reset_stats(&self, tool: Option<&str>) {
        match tool {
            Some(name) => {
                self.reset_tool(name);
            }
            None => self.reset_all(),
        }
    }

    /// How many times the sink panicked (each panic was caught).
    #[must_use]
    pub fn sink_failures(&self) -> u64 {
        self.sink_failures.load(Ordering::Relaxed)
    }

    /// How many executions a [background sink](crate::ToolExecutionMonitorBuilder::background_sink)
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
    #[cfg(any(feature = "prometheus", feature = "otlp"))]
    pub(crate) fn registered_tools(&self) -> Vec<Arc<Tool>> {
        self.registry.all()
    }

    #[inline]
    pub(crate) fn now(&self) -> Reading {
        self.clock.now()
    }

    /// Panics while holding each internal lock once, catching the panic, so
    /// that tests can prove monitoring recovers from poisoned locks.
    #[cfg(feature = "test-hooks")]
    pub(crate) fn poison_locks(&self) {
        use std::panic::{AssertUnwindSafe, catch_unwind};
        let poison = |lock: &dyn Fn()| {
            let _ = catch_unwind(AssertUnwindSafe(lock));
        };
        poison(&|| self.records.errors.poison());
        poison(&|| self.records.history.poison());
        poison(&|| self.registry.poison());
        for tool in self.registry.all() {
            poison(&|| tool.trend.poison());
        }
    }

    /// Whether this monitor reads the process's system clock.
    #[inline]
    pub(crate) fn uses_system_clock(&self) -> bool {
        matches!(self.clock, ClockHandle::System)
    }
}
