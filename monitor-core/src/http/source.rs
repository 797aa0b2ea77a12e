//! What a [`MetricsServer`](super::MetricsServer) serves: a live monitor,
//! or (feature `store`) a store file that many processes wrote.

use std::collections::BTreeMap;

use crate::metrics::ToolExecutionMetrics;
use crate::monitor::ToolExecutionMonitor;
use crate::stats::ToolPerformanceStats;

/// A source of the statistics a [`MetricsServer`](super::MetricsServer)
/// serves. Implemented by [`ToolExecutionMonitor`] and, with the `store`
/// feature, by [`Store`](crate::Store); an `Err` is answered with 503 and
/// its text.
pub trait StatsSource: Send + Sync + 'static {
    /// `/metrics`: the Prometheus text exposition.
    ///
    /// # Errors
    ///
    /// The source could not be read.
    fn prometheus(&self) -> Result<String, String>;

    /// `/stats`: every tool's statistics.
    ///
    /// # Errors
    ///
    /// The source could not be read.
    fn all_stats(&self) -> Result<BTreeMap<String, ToolPerformanceStats>, String>;

    /// `/stats/{tool}`: one tool's, `None` if it has none.
    ///
    /// # Errors
    ///
    /// The source could not be read.
    fn stats(&self, tool: &str) -> Result<Option<ToolPerformanceStats>, String>;

    /// `/errors?hours=N&tool=T`: failures of the last `hours`, oldest first.
    ///
    /// # Errors
    ///
    /// The source could not be read.
    fn errors(&self, tool: Option<&str>, hours: u32) -> Result<Vec<ToolExecutionMetrics>, String>;
}

impl StatsSource for ToolExecutionMonitor {
    fn prometheus(&self) -> Result<String, String> {
        Ok(self.render_prometheus())
    }

    fn all_stats(&self) -> Result<BTreeMap<String, ToolPerformanceStats>, String> {
        Ok(self.all_tool_stats())
    }

    fn stats(&self, tool: &str) -> Result<Option<ToolPerformanceStats>, String> {
        Ok(self.tool_stats(tool))
    }

    fn errors(&self, tool: Option<&str>, hours: u32) -> Result<Vec<ToolExecutionMetrics>, String> {
        Ok(self.recent_errors(tool, hours))
    }
}

/// A store's statistics cover the last 7 days (its trend's span); its
/// `/metrics` counters are the running totals, which only grow.
#[cfg(feature = "store")]
impl StatsSource for crate::store::Store {
    fn prometheus(&self) -> Result<String, String> {
        self.render_prometheus().map_err(|e| e.to_string())
    }

    fn all_stats(&self) -> Result<BTreeMap<String, ToolPerformanceStats>, String> {
        self.all_tool_stats(STORE_WINDOW).map_err(|e| e.to_string())
    }

    fn stats(&self, tool: &str) -> Result<Option<ToolPerformanceStats>, String> {
        self.tool_stats(tool, STORE_WINDOW)
            .map_err(|e| e.to_string())
    }

    fn errors(&self, tool: Option<&str>, hours: u32) -> Result<Vec<ToolExecutionMetrics>, String> {
        self.recent_errors(tool, hours).map_err(|e| e.to_string())
    }
}

/// The span of `/stats` over a store.
#[cfg(feature = "store")]
const STORE_WINDOW: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);
