//! The manual API: the reference's `ToolExecutionContext`.

use std::fmt;
use std::sync::Arc;

use crate::classify::ClassifyError;
use crate::execution::{Details, Execution, Outcome, dropped_outcome};
use crate::message::{Formatted, cap_message, with_formatted};
use crate::monitor::ToolExecutionMonitor;
use crate::status::{ErrorCategory, ExecutionStatus};
use crate::tool::Tool;

impl ToolExecutionMonitor {
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
    /// monitor_core::finish_result!(call, &outcome);
    /// let error = &monitor.recent_errors(Some("fetch"), 24)[0];
    /// assert_eq!(error.error_category, Some(monitor_core::ErrorCategory::NetworkError));
    /// assert_eq!(error.user_id.as_deref(), Some("alice"));
    /// ```
    pub fn create_execution_context(&self, tool_name: &str) -> ToolExecutionContext<'_> {
        ToolExecutionContext::new(self, self.registry.lookup(tool_name))
    }
}

/// One execution being recorded by hand; the reference's
/// `ToolExecutionContext`, created by
/// [`ToolExecutionMonitor::create_execution_context`].
///
/// The clock starts when the context is created. Finish it with one of the
/// `finish_*` methods, or [`finish_error!`](crate::finish_error) /
/// [`finish_result!`](crate::finish_result) (which classify an error as
/// `#[monitored_tool]` does); it records exactly once. Dropped unfinished, it
/// records an error (category system) if the thread is panicking, else a
/// [`Cancelled`](ExecutionStatus::Cancelled) execution. A context that is
/// neither finished nor dropped (`mem::forget`, a leaked `Box`) records
/// nothing: recording needs a `finish_*` call or a `Drop`, and a leak
/// runs neither.
///
/// # Examples
///
/// ```
/// use monitor_core::{ErrorCategory, ExecutionStatus, ToolExecutionMonitor};
///
/// let monitor = ToolExecutionMonitor::new();
/// let mut call = monitor.create_execution_context("divide");
/// call.set_input_size(8);
/// call.finish_classified(
///     ExecutionStatus::ValidationFailed,
///     ErrorCategory::ValidationError,
///     "division by zero",
/// );
/// let stats = monitor.tool_stats("divide").unwrap();
/// assert_eq!(stats.failed_executions, 1);
/// ```
#[must_use = "a context records its execution when finished or dropped"]
pub struct ToolExecutionContext<'m> {
    monitor: &'m ToolExecutionMonitor,
    tool: Arc<Tool>,
    execution: Execution,
    recorded: bool,
    output_bytes: u64,
}

impl fmt::Debug for ToolExecutionContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToolExecutionContext")
            .field("tool", &self.tool.name)
            .field("execution", &self.execution)
            .finish_non_exhaustive()
    }
}

impl<'m> ToolExecutionContext<'m> {
    fn new(monitor: &'m ToolExecutionMonitor, tool: Arc<Tool>) -> Self {
        Self {
            monitor,
            execution: Execution::new(monitor.now()),
            recorded: false,
            tool,
            output_bytes: 0,
        }
    }

    /// The tool this execution is recorded under.
    #[must_use]
    pub fn tool_name(&self) -> &str {
        &self.tool.name
    }

    /// Sets the user the call is made for.
    pub fn with_user_id(mut self, user_id: impl Into<String>) -> Self {
        self.details(|d| d.user_id = Some(user_id.into()));
        self
    }

    /// Sets the session the call belongs to.
    pub fn with_session_id(mut self, session_id: impl Into<String>) -> Self {
        self.details(|d| d.session_id = Some(session_id.into()));
        self
    }

    /// Replaces the metadata with `metadata`.
    pub fn with_metadata(mut self, metadata: serde_json::Map<String, serde_json::Value>) -> Self {
        self.details(|d| d.metadata = metadata);
        self
    }

    /// Sets the input size in bytes.
    pub fn set_input_size(&mut self, size_bytes: u64) {
        self.execution.input_bytes = size_bytes;
    }

    /// Sets the output size in bytes (recorded for a success only; a failed
    /// execution has output size 0).
    pub fn set_output_size(&mut self, size_bytes: u64) {
        self.output_bytes = size_bytes;
    }

    /// Sets the memory used, in MiB. A NaN, infinite or negative value is
    /// ignored (the field stays unset).
    pub fn set_memory_usage(&mut self, memory_mb: f64) {
        if memory_mb.is_finite() && memory_mb >= 0.0 {
            self.execution.memory_mb = Some(memory_mb);
        }
    }

    /// Adds one metadata entry. A value that cannot be represented as JSON
    /// is stored as the text of its serialization error.
    pub fn add_metadata(&mut self, key: impl Into<String>, value: impl serde::Serialize) {
        let value = serde_json::to_value(value)
            .unwrap_or_else(|e| serde_json::Value::String(e.to_string()));
        self.details(|d| {
            d.metadata.insert(key.into(), value);
        });
    }

    /// Records a success.
    pub fn finish_success(mut self) {
        let output_bytes = self.output_bytes;
        self.record(Outcome::Success { output_bytes });
    }

    /// Records a failure with an error type that classifies itself. For
    /// any error type (one with a [`ClassifyError`] impl included) use
    /// [`finish_error!`](crate::finish_error), which classifies as
    /// `#[monitored_tool]` does.
    pub fn finish_with<E: ClassifyError + fmt::Display>(mut self, error: &E) {
        self.record_error(&|out| write!(out, "{error}"), &|_| {
            (error.status(), error.category())
        });
    }

    /// Records a failure with an explicit status, category and message.
    pub fn finish_classified(
        mut self,
        status: ExecutionStatus,
        category: ErrorCategory,
        message: impl AsRef<str>,
    ) {
        self.record(Outcome::Failure {
            status,
            category,
            message: cap_message(message.as_ref()),
        });
    }

    fn details(&mut self, edit: impl FnOnce(&mut Details)) {
        edit(self.execution.details_mut());
    }

    fn record(&mut self, outcome: Outcome) {
        self.execution.set_outcome(outcome);
        self.record_ended(None);
    }

    /// Records a failure whose message `write` formats into the thread's
    /// buffer and `classify` classifies, as `#[monitored_tool]` does.
    fn record_error(
        &mut self,
        write: &dyn Fn(&mut dyn fmt::Write) -> fmt::Result,
        classify: &dyn Fn(&str) -> (ExecutionStatus, ErrorCategory),
    ) {
        with_formatted(write, |formatted| {
            let (status, category) = classify(formatted.text());
            self.execution.fail_formatted(status, Some(category));
            self.record_ended(Some(formatted));
        });
    }

    fn record_ended(&mut self, formatted: Option<&mut Formatted<'_>>) {
        if self.recorded {
            return;
        }
        self.recorded = true;
        let monitor = self.monitor;
        self.execution.end_at(|| monitor.now());
        monitor.record(&self.tool, &mut self.execution, formatted);
    }
}

impl Drop for ToolExecutionContext<'_> {
    fn drop(&mut self) {
        if !self.recorded {
            self.record(dropped_outcome());
        }
    }
}

/// Records the failure whose message `write` formats and `classify`
/// classifies for `context`: what [`finish_error!`](crate::finish_error)
/// and [`finish_result!`](crate::finish_result) expand to.
pub fn finish_failure(
    mut context: ToolExecutionContext<'_>,
    write: &dyn Fn(&mut dyn fmt::Write) -> fmt::Result,
    classify: &dyn Fn(&str) -> (ExecutionStatus, ErrorCategory),
) {
    context.record_error(write, classify);
}
