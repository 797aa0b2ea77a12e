//! A monitor and its store: the snapshot a flush writes, the background
//! flusher, and the last flush when the monitor is dropped.
//!
//! Nothing here runs per call: a flush reads the same per-thread shards and
//! record rings the exporters read, off the hot path.

use std::sync::Arc;
use std::thread;

use crate::monitor::ToolExecutionMonitor;
use crate::store::{Counts, Snapshot, StoreError, ToolSnapshot};

impl ToolExecutionMonitor {
    /// Writes what was measured since the last flush to the store, now. A
    /// no-op (`Ok`) for a monitor without a store.
    ///
    /// The background flusher calls this every
    /// [`flush_interval`](crate::StoreConfig::flush_interval); call it
    /// yourself before a short-lived process exits, since a monitor held in
    /// a `static` or the global monitor is never dropped.
    ///
    /// # Errors
    ///
    /// The store could not be written (it is also counted in
    /// [`store_failures`](Self::store_failures)); what was not written
    /// stays in memory and goes out with the next flush that succeeds.
    pub fn flush(&self) -> Result<(), StoreError> {
        match &self.store {
            Some(persist) => persist.flush(|| self.store_snapshot()),
            None => Ok(()),
        }
    }

    /// The store file this monitor writes to, if it has a store.
    #[must_use]
    pub fn store_path(&self) -> Option<&std::path::Path> {
        self.store.as_ref().map(|p| p.config.path())
    }

    /// How many flushes failed (0 without a store).
    #[must_use]
    pub fn store_failures(&self) -> u64 {
        self.store.as_ref().map_or(0, |p| p.failures())
    }

    /// The error of the last failed flush, if any flush failed.
    #[must_use]
    pub fn store_last_error(&self) -> Option<String> {
        self.store.as_ref().and_then(|p| p.last_error())
    }

    fn store_snapshot(&self) -> Snapshot {
        let now_wall_nanos = self.now().wall_nanos;
        let tools = self
            .registry
            .all()
            .iter()
            .map(|tool| {
                // The epoch first: a reset between the two reads then shows
                // as fewer counts in the old epoch (nothing is written for
                // it), never as the new epoch's counts under the old one.
                let epoch = tool.epoch();
                ToolSnapshot {
                    index: tool.index,
                    name: tool.name.to_string(),
                    epoch,
                    counts: Counts::from_totals(&tool.totals()),
                }
            })
            .collect();
        let history = self
            .store
            .as_ref()
            .is_some_and(|p| p.config.max_executions > 0);
        Snapshot {
            now_wall_nanos,
            tools,
            errors: self.recent_errors(None, u32::MAX),
            executions: if history {
                self.recent_executions(None, usize::MAX)
            } else {
                Vec::new()
            },
        }
    }
}

/// Starts the background flusher of a shared monitor with a store: it
/// flushes every interval for as long as the monitor lives, holding it only
/// while it flushes.
pub(crate) fn start_flusher(monitor: &Arc<ToolExecutionMonitor>) {
    let Some(persist) = monitor.store.clone() else {
        return;
    };
    let weak = Arc::downgrade(monitor);
    // Should the thread fail to start, the monitor still flushes on
    // `flush()` and on drop.
    let _ = thread::Builder::new()
        .name("tool-monitor-store".to_owned())
        .spawn(move || {
            while persist.wait() {
                let Some(monitor) = weak.upgrade() else {
                    break;
                };
                // A failure is counted and kept for the next try.
                let _ = monitor.flush();
            }
        });
}

impl Drop for ToolExecutionMonitor {
    fn drop(&mut self) {
        if let Some(persist) = &self.store {
            let _ = self.flush();
            persist.stop();
        }
    }
}
