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

// The layers, bottom up; a file imports only from the layers below it
// (README, "How it works"; `.ci/run` checks it with `module-cycles`).
//
// L0, leaves: status, clock, thread, counter, limits, size, fastlen.
mod clock;
mod counter;
mod fastlen;
mod limits;
mod size;
mod status;
mod thread;
// L1, the value being recorded: message, execution, classify, metrics.
mod classify;
mod execution;
mod message;
mod metrics;
#[cfg(any(feature = "tracing", feature = "otlp"))]
mod semconv;
// L2, storage, which never imports the monitor: histograms, shard, trend,
// tool, registry, the rings and history, stats, sink.
mod histogram;
mod history;
mod kept;
mod latency;
mod registry;
mod ring;
mod seqlock;
mod shard;
mod sink;
mod stats;
#[cfg(feature = "store")]
mod store;
mod tool;
mod trend;
// L3, the store: the monitor and its reads, its builder, the hot path, the
// global monitor.
mod builder;
#[cfg(feature = "store")]
mod flush;
mod global;
mod monitor;
mod record;
// L4, front ends: the manual context, the call guard and its call site,
// timeouts.
mod callsite;
mod context;
mod guard;
#[cfg(feature = "tracing")]
mod span;
#[cfg(feature = "tokio")]
mod timeout;
// L5: what generated code calls, and the exporters, which read snapshots.
mod dispatch;
mod failure;
mod finish;
#[cfg(feature = "http")]
mod http;
mod measure;
#[cfg(feature = "metrics")]
mod metrics_bridge;
#[cfg(feature = "otlp")]
mod otlp;
#[cfg(feature = "prometheus")]
mod prometheus;
#[cfg(feature = "rmcp")]
mod rmcp;
mod run;

#[doc(hidden)]
pub mod __private;

pub use builder::ToolExecutionMonitorBuilder;
pub use classify::{ClassifyError, classify_error};
pub use clock::{Clock, ManualClock, SystemClock};
pub use context::ToolExecutionContext;
pub use global::{global_monitor, set_global_monitor};
pub use histogram::{DURATION_BUCKET_COUNT, DURATION_BUCKETS_MS, DurationHistogram};
#[cfg(feature = "http")]
pub use http::{DEFAULT_HTTP_ADDR, HttpConfig, MetricsServer, StatsSource};
pub use limits::{MAX_CAPACITY, MAX_ERROR_MESSAGE_BYTES, MAX_TOOL_NAME_BYTES, OVERFLOW_TOOL_NAME};
pub use metrics::ToolExecutionMetrics;
#[cfg(feature = "metrics")]
pub use metrics_bridge::MetricsBridge;
pub use monitor::ToolExecutionMonitor;
#[cfg(feature = "otlp")]
pub use otlp::{
    DEFAULT_OTLP_INTERVAL, DEFAULT_OTLP_TIMEOUT, OTLP_ENV_VARS, OtlpConfig, OtlpError,
    OtlpExporter, ToolInstruments, register_instruments,
};
pub use sink::{ExecutionEvent, MetricsSink};
pub use stats::ToolPerformanceStats;
pub use status::{ErrorCategory, ExecutionStatus};
#[cfg(feature = "store")]
pub use store::{
    Coverage, HourRow, Pruned, SCHEMA_VERSION, STORE_PATH_ENV, Store, StoreConfig, StoreError,
    StoreInfo, default_store_path,
};
#[cfg(feature = "tokio")]
pub use timeout::TimeoutError;

#[cfg(feature = "macros")]
#[doc(inline)]
pub use monitor_macros::monitored_tool;

/// The README's Rust examples, compiled and run as doctests (with every
/// feature on, as `cargo test --workspace --all-features` builds them: the
/// README shows the HTTP endpoint).
#[cfg(all(
    doctest,
    feature = "http",
    feature = "metrics",
    feature = "store",
    feature = "otlp"
))]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
