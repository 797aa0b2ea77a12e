//! `ToolExecutionMetrics`: one recorded execution, as the reference's record.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::status::{ErrorCategory, ExecutionStatus};

/// One tool execution, as read back from the history or the error list.
///
/// Every field of the reference's `ToolExecutionMetrics`, with the same
/// meaning and the same JSON keys. Times are UTC and serialize as ISO-8601;
/// `metadata` is a JSON object. Argument *content* is never stored, only
/// sizes.
///
/// # Examples
///
/// ```
/// let monitor = monitor_core::ToolExecutionMonitor::new();
/// monitor.create_execution_context("echo").finish_success();
/// let record = &monitor.recent_executions(Some("echo"), 1)[0];
/// let json = serde_json::to_value(record).unwrap();
/// assert_eq!(json["tool_name"], "echo");
/// assert_eq!(json["status"], "success");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ToolExecutionMetrics {
    /// The tool's name.
    pub tool_name: String,
    /// Unique within the process: `{tool}-{thread}-{sequence}`.
    pub execution_id: String,
    /// When the execution started.
    pub start_time: DateTime<Utc>,
    /// When it ended (always set for a recorded execution).
    pub end_time: Option<DateTime<Utc>>,
    /// Its duration in milliseconds, from the monotonic clock.
    pub duration_ms: Option<f64>,
    /// How it ended.
    pub status: ExecutionStatus,
    /// The error's message, capped at 1 KiB, for a failed execution.
    pub error_message: Option<String>,
    /// The error's category, for a failed execution.
    pub error_category: Option<ErrorCategory>,
    /// Size of the arguments in bytes (of their `Debug` text under the macro).
    pub input_size_bytes: u64,
    /// Size of the result in bytes (of its `Debug` text under the macro).
    pub output_size_bytes: u64,
    /// Memory used, in MiB, when the tool reported it.
    pub memory_usage_mb: Option<f64>,
    /// CPU time in milliseconds, when known. Kept for parity with the
    /// reference, which never sets it either.
    pub cpu_time_ms: Option<f64>,
    /// The user the call was made for, if given.
    pub user_id: Option<String>,
    /// The session the call belongs to, if given.
    pub session_id: Option<String>,
    /// Free-form metadata given with the call.
    pub metadata: serde_json::Map<String, serde_json::Value>,
}
