//! What a [`MetricsServer`](super::MetricsServer) serves: a live monitor,
//! or (feature `store`) a store file that many processes wrote.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::histogram::DurationHistogram;
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

    /// `/histograms`: per tool, the duration buckets (`label`, `le_ms`,
    /// `count`) and the median (`p50_ms`), as JSON.
    ///
    /// # Errors
    ///
    /// The source could not be read.
    fn histograms(&self) -> Result<serde_json::Value, String>;

    /// `/info`: what is served (`source`: `live` or `store`, and details).
    fn info(&self) -> serde_json::Value;

    /// `/series?tool=T`: hourly rows of one tool, where the source keeps
    /// them (a store); `None` (404) otherwise.
    ///
    /// # Errors
    ///
    /// The source could not be read.
    fn series(&self, tool: &str) -> Result<Option<serde_json::Value>, String> {
        let _ = tool;
        Ok(None)
    }
}

/// One tool's histogram and median, as `/histograms` shows them.
fn histogram_json(histogram: &DurationHistogram, p50: Option<Duration>) -> serde_json::Value {
    let buckets: Vec<serde_json::Value> = histogram
        .buckets()
        .map(|(label, le_ms, count)| serde_json::json!({ "label": label, "le_ms": le_ms, "count": count }))
        .collect();
    serde_json::json!({
        "buckets": buckets,
        "p50_ms": p50.map_or(0.0, |d| d.as_secs_f64() * 1e3),
    })
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

    fn histograms(&self) -> Result<serde_json::Value, String> {
        Ok(self
            .all_tool_stats()
            .keys()
            .map(|name| {
                let json = histogram_json(
                    &self.duration_histogram(name),
                    self.duration_quantile(name, 0.5),
                );
                (name.clone(), json)
            })
            .collect::<serde_json::Map<_, _>>()
            .into())
    }

    fn info(&self) -> serde_json::Value {
        serde_json::json!({ "source": "live", "tools": self.all_tool_stats().len() })
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

    fn histograms(&self) -> Result<serde_json::Value, String> {
        let names = self
            .all_tool_stats(STORE_WINDOW)
            .map_err(|e| e.to_string())?;
        let mut out = serde_json::Map::new();
        for name in names.keys() {
            let histogram = self
                .duration_histogram(name, STORE_WINDOW)
                .map_err(|e| e.to_string())?;
            let p50 = self
                .duration_quantile(name, STORE_WINDOW, 0.5)
                .map_err(|e| e.to_string())?;
            out.insert(name.clone(), histogram_json(&histogram, p50));
        }
        Ok(out.into())
    }

    fn info(&self) -> serde_json::Value {
        let coverage = self.coverage(STORE_WINDOW).ok();
        serde_json::json!({
            "source": "store",
            "path": self.path().display().to_string(),
            "processes": coverage.as_ref().map_or(0, |c| c.processes),
            "first_hour": coverage.as_ref().and_then(|c| c.first_hour),
            "last_hour": coverage.as_ref().and_then(|c| c.last_hour),
        })
    }

    fn series(&self, tool: &str) -> Result<Option<serde_json::Value>, String> {
        let rows = self
            .hourly(Some(tool), STORE_WINDOW)
            .map_err(|e| e.to_string())?;
        serde_json::to_value(rows)
            .map(Some)
            .map_err(|e| e.to_string())
    }
}

/// The span of `/stats` over a store.
#[cfg(feature = "store")]
const STORE_WINDOW: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);
