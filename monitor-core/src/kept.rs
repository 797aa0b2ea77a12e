//! What a ring keeps of one execution: a compact [`Record`], turned into
//! the reference's [`ToolExecutionMetrics`] only when read.

use crate::clock::wall_from_nanos;
use crate::execution::{Execution, Extra};
use crate::message::Formatted;
use crate::metrics::ToolExecutionMetrics;
use crate::status::{ErrorCategory, ExecutionStatus};
use crate::thread::ExecutionId;

/// One execution as kept in a ring: no allocation unless it has details
/// or a message.
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
    pub(crate) extra: Extra,
}

/// Whether a ring shares an execution's [`Extra`] (details and message) or
/// takes it. Only `history::Records::push` chooses, and it shares with the
/// error list before the history takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keep {
    Share,
    Take,
}

impl Keep {
    /// The extra of `execution`, cloned or taken; with its message (the
    /// `formatted` one if given, else the execution's) only if
    /// `with_message`: a ring entry keeps a short message in its own
    /// storage instead.
    pub(crate) fn extra_of(
        self,
        execution: &mut Execution,
        formatted: Option<&mut Formatted<'_>>,
        with_message: bool,
    ) -> Extra {
        let extra = &mut execution.extra;
        let (details, message) = match self {
            Self::Share => (
                extra.details.clone(),
                with_message.then(|| extra.error_message.clone()).flatten(),
            ),
            Self::Take => (
                extra.details.take(),
                with_message.then(|| extra.error_message.take()).flatten(),
            ),
        };
        Extra {
            details,
            error_message: match formatted {
                Some(formatted) if with_message => Some(formatted.shared()),
                _ => message,
            },
        }
    }
}

impl Record {
    /// The record of `execution`, with its extra shared or taken, and its
    /// message `formatted` if given.
    pub(crate) fn new(
        tool: u32,
        id: ExecutionId,
        execution: &mut Execution,
        keep: Keep,
        formatted: Option<&mut Formatted<'_>>,
    ) -> Self {
        let extra = keep.extra_of(execution, formatted, true);
        Self {
            tool,
            id,
            start_wall_nanos: execution.start.wall_nanos,
            end_wall_nanos: execution.end.wall_nanos,
            end_mono_nanos: execution.end.mono_nanos,
            duration_nanos: execution.duration_nanos,
            status: execution.status,
            category: execution.category,
            input_bytes: execution.input_bytes,
            output_bytes: execution.output_bytes,
            memory_mb: execution.memory_mb,
            extra,
        }
    }

    /// The order in which records finished.
    pub(crate) fn order_key(&self) -> (u64, u32, u64) {
        (self.end_mono_nanos, self.id.thread, self.id.sequence)
    }

    pub(crate) fn to_metrics(&self, tool_name: &str) -> ToolExecutionMetrics {
        let details = self.extra.details.as_deref();
        #[allow(clippy::cast_precision_loss)] // nanoseconds to fractional ms
        let duration_ms = self.duration_nanos as f64 / 1e6;
        ToolExecutionMetrics {
            tool_name: tool_name.to_owned(),
            execution_id: format!("{tool_name}-{}-{}", self.id.thread, self.id.sequence),
            start_time: wall_from_nanos(self.start_wall_nanos),
            end_time: Some(wall_from_nanos(self.end_wall_nanos)),
            duration_ms: Some(duration_ms),
            status: self.status,
            error_message: self.extra.error_message.as_deref().map(str::to_owned),
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
