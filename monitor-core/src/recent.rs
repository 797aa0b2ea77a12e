//! Bounded rings of compact records: the execution history and recent errors.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use crate::classify::{ErrorCategory, ExecutionStatus};
use crate::clock::wall_from_nanos;
use crate::metrics::ToolExecutionMetrics;
use crate::thread::ExecutionId;

/// What a record holds beyond fixed-size fields; boxed, and only present
/// when a call has ids, metadata or an error message.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Details {
    pub(crate) user_id: Option<String>,
    pub(crate) session_id: Option<String>,
    pub(crate) metadata: serde_json::Map<String, serde_json::Value>,
    pub(crate) error_message: Option<String>,
}

/// One execution as kept in a ring: no allocation unless it has details.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    /// The tool's index in the registry (a name would cost a shared
    /// reference count per call).
    pub(crate) tool: u32,
    pub(crate) id: ExecutionId,
    pub(crate) start_wall_nanos: i64,
    pub(crate) end_wall_nanos: i64,
    /// Monotonic end time: the order of records across shards.
    pub(crate) end_mono_nanos: u64,
    pub(crate) duration_nanos: u64,
    pub(crate) status: ExecutionStatus,
    pub(crate) category: Option<ErrorCategory>,
    pub(crate) input_bytes: u64,
    pub(crate) output_bytes: u64,
    pub(crate) memory_mb: Option<f64>,
    pub(crate) details: Option<Box<Details>>,
}

impl Record {
    /// The order in which records finished.
    pub(crate) fn order_key(&self) -> (u64, u32, u64) {
        (self.end_mono_nanos, self.id.thread, self.id.sequence)
    }

    pub(crate) fn to_metrics(&self, tool_name: &str) -> ToolExecutionMetrics {
        let details = self.details.as_deref();
        #[allow(clippy::cast_precision_loss)] // nanoseconds to fractional ms
        let duration_ms = self.duration_nanos as f64 / 1e6;
        ToolExecutionMetrics {
            tool_name: tool_name.to_owned(),
            execution_id: format!("{tool_name}-{}-{}", self.id.thread, self.id.sequence),
            start_time: wall_from_nanos(self.start_wall_nanos),
            end_time: Some(wall_from_nanos(self.end_wall_nanos)),
            duration_ms: Some(duration_ms),
            status: self.status,
            error_message: details.and_then(|d| d.error_message.clone()),
            error_category: self.category,
            input_size_bytes: self.input_bytes,
            output_size_bytes: self.output_bytes,
            memory_usage_mb: self.memory_mb,
            cpu_time_ms: None,
            user_id: details.and_then(|d| d.user_id.clone()),
            session_id: details.and_then(|d| d.session_id.clone()),
            metadata: details.map(|d| d.metadata.clone()).unwrap_or_default(),
        }
    }
}

/// A ring that keeps the last `capacity` records; capacity 0 keeps none.
#[derive(Debug)]
pub(crate) struct Ring {
    capacity: usize,
    records: Mutex<VecDeque<Record>>,
}

impl Ring {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            records: Mutex::new(VecDeque::new()),
        }
    }

    /// Appends `record`, dropping the oldest when full. Takes a lock that is
    /// shared only with readers and with threads that share this ring.
    #[inline]
    pub(crate) fn push(&self, record: Record) {
        if self.capacity == 0 {
            return;
        }
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        if records.len() == self.capacity {
            records.pop_front();
        } else if records.capacity() == records.len() {
            // Grow once, straight to the bound, so that a long run never
            // reallocates (and never allocates on the hot path after warm-up).
            let additional = self.capacity - records.len();
            records.reserve_exact(additional);
        }
        records.push_back(record);
    }

    /// Copies the records that match `keep`; the lock is held only for the copy.
    pub(crate) fn copy_where(&self, keep: impl Fn(&Record) -> bool, into: &mut Vec<Record>) {
        let records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        into.extend(records.iter().filter(|r| keep(r)).cloned());
    }

    pub(crate) fn retain(&self, keep: impl Fn(&Record) -> bool) {
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        records.retain(|r| keep(r));
    }
}

/// Sorts records from several rings into finishing order and keeps the
/// newest `limit`, oldest first.
pub(crate) fn newest(
    mut records: Vec<Record>,
    limit: usize,
    name_of: impl Fn(u32) -> String,
) -> Vec<ToolExecutionMetrics> {
    records.sort_unstable_by_key(Record::order_key);
    let skip = records.len().saturating_sub(limit);
    records[skip..]
        .iter()
        .map(|record| record.to_metrics(&name_of(record.tool)))
        .collect()
}
