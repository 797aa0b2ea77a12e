//! Helpers shared by the behaviour tests of `#[monitored_tool]`.

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use std::any::Any;
use std::fmt::Debug;

use monitor_core::{ToolExecutionMetrics, ToolExecutionMonitor};

/// Keys of the reference's `ToolPerformanceStats.to_dict`, sorted.
pub(crate) const STATS_KEYS: [&str; 16] = [
    "avg_duration_ms",
    "avg_input_size_bytes",
    "avg_output_size_bytes",
    "error_distribution",
    "error_rate",
    "failed_executions",
    "last_execution",
    "max_duration_ms",
    "min_duration_ms",
    "p95_duration_ms",
    "p99_duration_ms",
    "success_rate",
    "successful_executions",
    "tool_name",
    "total_executions",
    "trend_7d",
];

/// The byte length of `format!("{value:?}")`: what the macro must record.
pub(crate) fn debug_len<T: Debug + ?Sized>(value: &T) -> u64 {
    format!("{value:?}").len() as u64
}

/// Every record of `tool` in `monitor`, oldest first.
pub(crate) fn records(monitor: &ToolExecutionMonitor, tool: &str) -> Vec<ToolExecutionMetrics> {
    monitor.recent_executions(Some(tool), usize::MAX)
}

/// The only record of `tool`; fails unless exactly one was recorded.
pub(crate) fn only(monitor: &ToolExecutionMonitor, tool: &str) -> ToolExecutionMetrics {
    let mut all = records(monitor, tool);
    assert_eq!(all.len(), 1, "records of {tool}: {all:#?}");
    all.remove(0)
}

/// The newest record of `tool`.
pub(crate) fn last(monitor: &ToolExecutionMonitor, tool: &str) -> ToolExecutionMetrics {
    records(monitor, tool)
        .pop()
        .unwrap_or_else(|| panic!("no record of {tool}"))
}

/// The message of a panic payload.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "<non-string payload>".to_owned()
    }
}

/// Defines each function twice: `monitored::f` with the attribute and
/// `plain::f` without, so a test can check that both behave the same.
#[allow(unused_macros)] // not every test file has twins
macro_rules! twins {
    ($(#[monitored_tool $($args:tt)*] $item:item)*) => {
        mod monitored {
            #[allow(unused_imports)] // not every twin needs everything
            use super::*;
            $(#[::monitor_core::monitored_tool $($args)*] $item)*
        }
        // Not every test compares every twin.
        #[allow(dead_code)]
        mod plain {
            #[allow(unused_imports)] // not every twin needs everything
            use super::*;
            $($item)*
        }
    };
}

/// A future that is `Pending` once (waking itself), then `Ready`: one
/// await point, at which a test can drop the future or change the world.
#[derive(Debug, Default)]
pub(crate) struct YieldOnce(bool);

impl std::future::Future for YieldOnce {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            std::task::Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    }
}
