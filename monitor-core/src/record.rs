//! The hot path: one ended execution into the store, one call per layer
//! below, top to bottom.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::execution::Execution;
use crate::message::Formatted;
use crate::monitor::ToolExecutionMonitor;
use crate::registry::SiteKey;
use crate::thread;
use crate::tool::Tool;

impl ToolExecutionMonitor {
    /// Records one execution of a call site's tool; its message is
    /// `formatted` if given, else its own.
    #[inline]
    pub(crate) fn record_site(
        &self,
        site: &SiteKey,
        execution: &mut Execution,
        formatted: Option<&mut Formatted<'_>>,
    ) {
        let tool = self.registry.for_site(site);
        self.record(&tool, execution, formatted);
    }

    /// Records one ended execution: its counters in the thread's shard, its
    /// record in the error list (if it failed) and in the history, then the
    /// sink. Takes its details and message (or copies the message from
    /// `formatted`); reads the rest in place.
    #[inline]
    pub(crate) fn record(
        &self,
        tool: &Arc<Tool>,
        execution: &mut Execution,
        formatted: Option<&mut Formatted<'_>>,
    ) {
        let (slot, id) = thread::claim_id();
        tool.trend
            .before_record(execution.start.wall_nanos, || tool.outcome_counts());
        let (shard, writer) = tool.shard(slot);
        shard.record(execution, writer);
        if execution.measurement_failures > 0 {
            // Relaxed: an independent counter.
            self.measurement_failures
                .fetch_add(u64::from(execution.measurement_failures), Ordering::Relaxed);
        }
        self.records
            .push(slot, tool.index, id, execution, formatted);
        if let Some(sink) = &self.sink {
            sink.deliver(tool, execution, &self.sink_failures);
        }
    }
}
