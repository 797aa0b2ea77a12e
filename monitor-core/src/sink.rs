//! Forwarding each execution to an external metrics system, with the
//! reference's metric names.

use std::fmt;

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
/// A sink runs on the tool's thread after the execution is recorded. A sink
/// that panics is caught and counted in
/// [`sink_failures`](crate::ToolExecutionMonitor::sink_failures); the tool
/// never sees it. A slow sink slows the tool, so hand work to another thread
/// if it may block.
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
    /// Adds one to the counter `name`.
    fn increment_counter(&self, name: &str);

    /// Records one duration, in milliseconds, under `name`.
    fn record_timer(&self, name: &str, duration_ms: f64);

    /// Sets the gauge `name` to `value`.
    fn set_gauge(&self, name: &str, value: f64);
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
