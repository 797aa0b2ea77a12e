//! Forwarding each execution to an external metrics system, with the
//! reference's metric names.

use std::any::Any;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::time::Duration;

use crate::execution::Execution;
use crate::status::{ErrorCategory, ExecutionStatus};
use crate::tool::Tool;

/// An external metrics system that receives every execution, as the
/// reference's `monitoring_system.metrics_collector`.
///
/// For each execution of tool `{name}` the monitor calls, in order:
/// `increment_counter("tool.{name}.executions.total")`, then
/// `increment_counter("tool.{name}.executions.success")` or
/// `increment_counter("tool.{name}.executions.failure")`,
/// `record_timer("tool.{name}.duration", ms)`,
/// `set_gauge("tool.{name}.input_size_bytes", bytes)` and
/// `set_gauge("tool.{name}.output_size_bytes", bytes)`. The names are built
/// once per tool, not per call.
///
/// A sink given to [`sink`](crate::ToolExecutionMonitorBuilder::sink) runs
/// on the tool's thread after the execution is recorded, so a slow sink
/// slows the tool; one given to
/// [`background_sink`](crate::ToolExecutionMonitorBuilder::background_sink)
/// runs on a thread of its own behind a bounded queue, and executions that
/// find the queue full are counted in
/// [`sink_dropped`](crate::ToolExecutionMonitor::sink_dropped) instead of
/// waiting. Either way, a sink that panics is caught and counted in
/// [`sink_failures`](crate::ToolExecutionMonitor::sink_failures); the tool
/// never sees it.
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use monitor_core::{MetricsSink, ToolExecutionMonitor};
///
/// #[derive(Debug, Default)]
/// struct Log(Mutex<Vec<String>>);
///
/// impl MetricsSink for Log {
///     fn increment_counter(&self, name: &str) {
///         self.0.lock().unwrap().push(name.to_owned());
///     }
///     fn record_timer(&self, _name: &str, _duration_ms: f64) {}
///     fn set_gauge(&self, _name: &str, _value: f64) {}
/// }
///
/// let log = Arc::new(Log::default());
/// let monitor = ToolExecutionMonitor::builder().sink(log.clone()).build();
/// monitor.create_execution_context("search").finish_success();
/// assert_eq!(
///     *log.0.lock().unwrap(),
///     ["tool.search.executions.total", "tool.search.executions.success"]
/// );
/// ```
pub trait MetricsSink: Send + Sync + fmt::Debug {
    /// Adds one to the counter `name`. Does nothing unless implemented.
    fn increment_counter(&self, name: &str) {
        let _ = name;
    }

    /// Records one duration, in milliseconds, under `name`. Does nothing
    /// unless implemented.
    fn record_timer(&self, name: &str, duration_ms: f64) {
        let _ = (name, duration_ms);
    }

    /// Sets the gauge `name` to `value`. Does nothing unless implemented.
    fn set_gauge(&self, name: &str, value: f64) {
        let _ = (name, value);
    }

    /// Receives one execution. The default makes the reference's calls
    /// above with the reference's names; a sink that wants labels instead
    /// of names (such as the `metrics` bridge) overrides this and keeps its
    /// per-tool handles in [`ExecutionEvent::tool_state`].
    fn record_execution(&self, execution: &ExecutionEvent<'_>) {
        execution.with_tool_state(SinkNames::new, |names| {
            self.increment_counter(&names.total);
            if execution.status == ExecutionStatus::Success {
                self.increment_counter(&names.success);
            } else {
                self.increment_counter(&names.failure);
            }
            #[allow(clippy::cast_precision_loss)] // metric values are f64
            {
                self.record_timer(&names.duration, execution.duration.as_nanos() as f64 / 1e6);
                self.set_gauge(&names.input_size, execution.input_bytes as f64);
                self.set_gauge(&names.output_size, execution.output_bytes as f64);
            }
        });
    }
}

/// One finished execution, as a [`MetricsSink`] receives it. Holds sizes
/// and outcome only, never argument content.
#[non_exhaustive]
pub struct ExecutionEvent<'a> {
    pub(crate) tool: &'a Tool,
    /// How the execution ended.
    pub status: ExecutionStatus,
    /// The error category of a failed execution.
    pub category: Option<ErrorCategory>,
    /// How long it ran.
    pub duration: Duration,
    /// Size of its arguments in bytes.
    pub input_bytes: u64,
    /// Size of its result in bytes (0 for a failure).
    pub output_bytes: u64,
}

impl fmt::Debug for ExecutionEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecutionEvent")
            .field("tool", &self.tool_name())
            .field("status", &self.status)
            .field("category", &self.category)
            .field("duration", &self.duration)
            .field("input_bytes", &self.input_bytes)
            .field("output_bytes", &self.output_bytes)
            .finish()
    }
}

impl<'a> ExecutionEvent<'a> {
    pub(crate) fn new(tool: &'a Tool, facts: Facts) -> Self {
        let Facts {
            status,
            category,
            duration,
            input_bytes,
            output_bytes,
        } = facts;
        Self {
            tool,
            status,
            category,
            duration,
            input_bytes,
            output_bytes,
        }
    }

    /// The tool's name.
    #[must_use]
    pub fn tool_name(&self) -> &str {
        &self.tool.name
    }

    /// A value the sink keeps per tool, built by `init` from the tool's
    /// name on the tool's first execution: the place for metric handles,
    /// so that forwarding an execution needs no key building or hashing.
    ///
    /// `None` if this tool's slot already holds a value of another type
    /// (one monitor has one sink, so this only happens if a sink asks for
    /// two types).
    pub fn tool_state<T: Any + Send + Sync>(&self, init: impl FnOnce(&str) -> T) -> Option<&T> {
        self.tool
            .sink_state
            .get_or_init(|| Box::new(init(&self.tool.name)))
            .downcast_ref()
    }

    /// Runs `use_state` with [`tool_state`](Self::tool_state), or with a
    /// fresh value when the tool's slot holds another type.
    pub(crate) fn with_tool_state<T: Any + Send + Sync, R>(
        &self,
        init: fn(&str) -> T,
        use_state: impl FnOnce(&T) -> R,
    ) -> R {
        match self.tool_state(init) {
            Some(state) => use_state(state),
            None => use_state(&init(self.tool_name())),
        }
    }
}

/// The reference's metric names for one tool, built once.
#[derive(Debug)]
pub(crate) struct SinkNames {
    pub(crate) total: String,
    pub(crate) success: String,
    pub(crate) failure: String,
    pub(crate) duration: String,
    pub(crate) input_size: String,
    pub(crate) output_size: String,
}

impl SinkNames {
    pub(crate) fn new(tool: &str) -> Self {
        Self {
            total: format!("tool.{tool}.executions.total"),
            success: format!("tool.{tool}.executions.success"),
            failure: format!("tool.{tool}.executions.failure"),
            duration: format!("tool.{tool}.duration"),
            input_size: format!("tool.{tool}.input_size_bytes"),
            output_size: format!("tool.{tool}.output_size_bytes"),
        }
    }
}

/// How a monitor hands executions to its sink.
#[derive(Debug)]
pub(crate) enum SinkHandle {
    /// On the tool's thread, right after recording.
    Inline(Arc<dyn MetricsSink>),
    /// Through a bounded queue to a thread of its own.
    Background(BackgroundSink),
}

/// What a sink is told of one execution besides its tool.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Facts {
    status: ExecutionStatus,
    category: Option<ErrorCategory>,
    duration: Duration,
    input_bytes: u64,
    output_bytes: u64,
}

impl Facts {
    #[inline]
    pub(crate) fn of(execution: &Execution) -> Self {
        Self {
            status: execution.status,
            category: execution.category,
            duration: Duration::from_nanos(execution.duration_nanos),
            input_bytes: execution.input_bytes,
            output_bytes: execution.output_bytes,
        }
    }
}

impl SinkHandle {
    /// Hands one recorded execution to the sink; a panic of the sink is
    /// caught and counted in `failures`.
    #[inline]
    pub(crate) fn deliver(&self, tool: &Arc<Tool>, execution: &Execution, failures: &AtomicU64) {
        let facts = Facts::of(execution);
        match self {
            Self::Inline(sink) => {
                forward(sink.as_ref(), &ExecutionEvent::new(tool, facts), failures);
            }
            Self::Background(background) => background.send(Arc::clone(tool), facts),
        }
    }
}

/// Runs the sink on one execution, catching and counting its panic.
#[inline(never)]
fn forward(sink: &dyn MetricsSink, event: &ExecutionEvent<'_>, failures: &AtomicU64) {
    if catch_unwind(AssertUnwindSafe(|| sink.record_execution(event))).is_err() {
        // Relaxed: an independent counter.
        failures.fetch_add(1, Ordering::Relaxed);
    }
}

/// A sink running on its own thread behind a bounded queue: a sink that
/// blocks fills the queue, and further executions are dropped (and
/// counted) instead of waiting.
#[derive(Debug)]
pub(crate) struct BackgroundSink {
    sender: SyncSender<(Arc<Tool>, Facts)>,
    pub(crate) dropped: AtomicU64,
}

impl BackgroundSink {
    /// Starts the sink's thread; `None` if the thread cannot be spawned.
    pub(crate) fn spawn(
        sink: Arc<dyn MetricsSink>,
        capacity: usize,
        failures: Arc<AtomicU64>,
    ) -> Option<Self> {
        let (sender, receiver) = sync_channel::<(Arc<Tool>, Facts)>(capacity.max(1));
        std::thread::Builder::new()
            .name("monitor-sink".to_owned())
            .spawn(move || {
                // Ends when the monitor, and with it the sender, is dropped.
                for (tool, facts) in receiver {
                    forward(sink.as_ref(), &ExecutionEvent::new(&tool, facts), &failures);
                }
            })
            .ok()?;
        Some(Self {
            sender,
            dropped: AtomicU64::new(0),
        })
    }

    /// Queues one execution without waiting; a full queue drops it.
    fn send(&self, tool: Arc<Tool>, facts: Facts) {
        if self.sender.try_send((tool, facts)).is_err() {
            // Relaxed: an independent counter.
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}
