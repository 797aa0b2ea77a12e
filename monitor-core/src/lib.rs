//! Monitoring for the functions an AI agent or an MCP server calls as tools.
//!
//! Put [`#[monitored_tool]`](monitored_tool) on any sync or async function and
//! read per-tool success rates, latency percentiles, input/output sizes, error
//! categories, a 7-day trend and recent failures from a
//! [`ToolExecutionMonitor`].
//!
//! The store is a Rust port of the reference `tool_execution_monitor.py`,
//! built so that recording a call costs two clock reads and a handful of
//! relaxed atomic adds: no lock shared between threads and no heap allocation.
//!
//! # Examples
//!
//! Recording by hand, with the manual API (the reference's
//! `ToolExecutionContext`):
//!
//! ```
//! use monitor_core::{ExecutionStatus, ToolExecutionMonitor};
//!
//! let monitor = ToolExecutionMonitor::new();
//! let mut call = monitor.create_execution_context("search");
//! call.set_input_size(42);
//! call.finish_success();
//!
//! let stats = monitor.tool_stats("search").expect("one call was recorded");
//! assert_eq!(stats.total_executions, 1);
//! assert_eq!(stats.success_rate, 100.0);
//! assert_eq!(monitor.recent_executions(None, 10)[0].status, ExecutionStatus::Success);
//! ```

#![forbid(unsafe_code)]

mod classify;
mod clock;
mod context;
mod dispatch;
mod fastlen;
mod guard;
mod histogram;
#[cfg(feature = "http")]
mod http;
mod metrics;
#[cfg(feature = "metrics")]
mod metrics_bridge;
mod monitor;
#[cfg(feature = "prometheus")]
mod prometheus;
mod recent;
mod registry;
#[cfg(feature = "rmcp")]
mod rmcp;
mod shard;
mod sink;
mod stats;
mod thread;
mod trend;

#[doc(hidden)]
pub mod __private;

pub use classify::{ClassifyError, ErrorCategory, ExecutionStatus, classify_error};
pub use clock::{Clock, ManualClock, SystemClock};
pub use context::ToolExecutionContext;
pub use histogram::{DURATION_BUCKET_COUNT, DURATION_BUCKETS_MS, DurationHistogram};
#[cfg(feature = "http")]
pub use http::{DEFAULT_HTTP_ADDR, HttpConfig, MetricsServer};
pub use metrics::ToolExecutionMetrics;
#[cfg(feature = "metrics")]
pub use metrics_bridge::MetricsBridge;
pub use monitor::{
    MAX_CAPACITY, MAX_ERROR_MESSAGE_BYTES, MAX_TOOL_NAME_BYTES, OVERFLOW_TOOL_NAME,
    ToolExecutionMonitor, ToolExecutionMonitorBuilder, global_monitor, set_global_monitor,
};
pub use sink::{ExecutionEvent, MetricsSink};
pub use stats::ToolPerformanceStats;

#[cfg(feature = "tokio")]
pub use guard::TimeoutError;

#[cfg(feature = "macros")]
#[doc(inline)]
pub use monitor_macros::monitored_tool;

/// The README's Rust examples, compiled and run as doctests (with every
/// feature on, as `cargo test --workspace --all-features` builds them: the
/// README shows the HTTP endpoint).
#[cfg(all(doctest, feature = "http", feature = "metrics"))]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
