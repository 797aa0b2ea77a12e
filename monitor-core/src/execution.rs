//! The value being recorded: one [`Execution`], filled in place from its
//! start to its end, and the [`Outcome`] generated code reports for it.

use std::sync::LazyLock;
use std::thread;

use crate::clock::Reading;
use crate::message::Text;
use crate::status::{ErrorCategory, ExecutionStatus};

/// How a call ended, as generated code reports it.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A value or `Ok`, whose `Debug` text is `output_bytes` long.
    Success {
        /// Size of the result.
        output_bytes: u64,
    },
    /// An `Err`.
    Failure {
        /// The status, from the error's classification.
        status: ExecutionStatus,
        /// The category, from the error's classification.
        category: ErrorCategory,
        /// The error's message, at most 1 KiB. Shared,
        /// so that the history and the error list hold one copy.
        message: Text,
    },
    /// Dropped after it started and before it finished: status
    /// `cancelled`, no error category (it is not the tool's error).
    Cancelled,
}

/// What a record holds beyond fixed-size fields, when a call has ids or
/// metadata.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Details {
    pub(crate) user_id: Option<String>,
    pub(crate) session_id: Option<String>,
    pub(crate) metadata: serde_json::Map<String, serde_json::Value>,
}

impl Details {
    /// Adds one metadata entry of generated code; a value that failed to
    /// serialize is stored as its error message.
    pub(crate) fn add_metadata<E: std::fmt::Display>(
        &mut self,
        key: &str,
        value: Result<serde_json::Value, E>,
    ) {
        let value = value.unwrap_or_else(|e| serde_json::Value::String(e.to_string()));
        self.metadata.insert(key.to_owned(), value);
    }
}

/// The parts of an execution that are not fixed-size: present only when a
/// call has details or an error message.
#[derive(Debug, Clone, Default)]
pub(crate) struct Extra {
    pub(crate) details: Option<Box<Details>>,
    /// Shared by the history and the error list.
    pub(crate) error_message: Option<Text>,
}

/// One execution, filled in place from its start to its end and recorded
/// by reference, by the macro's guard and by the manual context alike.
///
/// Never moved whole on the hot path (BENCHMARKS.md, "Why the hot path
/// looks as it does": a copy right after the writes stalls).
#[derive(Debug)]
pub(crate) struct Execution {
    pub(crate) start: Reading,
    /// Meaningful once `stopped`.
    pub(crate) end: Reading,
    pub(crate) stopped: bool,
    pub(crate) status: ExecutionStatus,
    pub(crate) category: Option<ErrorCategory>,
    /// How long the call ran, on the clock that timed it; set at the end.
    pub(crate) duration_nanos: u64,
    pub(crate) input_bytes: u64,
    pub(crate) output_bytes: u64,
    pub(crate) measurement_failures: u32,
    pub(crate) memory_mb: Option<f64>,
    /// Shared with the error list, then taken by the history (see
    /// `history::Records::push`). A message formatted by `#[monitored_tool]`
    /// is not here: the rings copy it from the thread's buffer.
    pub(crate) extra: Extra,
}

impl Execution {
    #[inline]
    pub(crate) fn new(start: Reading) -> Self {
        Self {
            start,
            end: start,
            stopped: false,
            status: ExecutionStatus::Success,
            category: None,
            duration_nanos: 0,
            input_bytes: 0,
            output_bytes: 0,
            measurement_failures: 0,
            memory_mb: None,
            extra: Extra::default(),
        }
    }

    pub(crate) fn details_mut(&mut self) -> &mut Details {
        self.extra.details.get_or_insert_with(Box::default)
    }

    /// Stops the clock at `now`, unless it was stopped before.
    #[inline]
    pub(crate) fn stop_at(&mut self, now: impl FnOnce() -> Reading) {
        if !self.stopped {
            self.end = now();
            self.stopped = true;
        }
    }

    /// Ends the execution at the stop time if one was taken, else at
    /// `now()`.
    #[inline]
    pub(crate) fn end_at(&mut self, now: impl FnOnce() -> Reading) {
        self.stop_at(now);
        self.duration_nanos = self.end.mono_nanos.saturating_sub(self.start.mono_nanos);
    }

    /// Ends the execution at `end` (another clock's reading) after
    /// `duration_nanos` measured on the clock it started with.
    #[cold]
    pub(crate) fn restamp(&mut self, end: Reading, duration_nanos: u64) {
        self.start.wall_nanos = end
            .wall_nanos
            .saturating_sub(i64::try_from(duration_nanos).unwrap_or(i64::MAX));
        self.end = end;
        self.stopped = true;
        self.duration_nanos = duration_nanos;
    }

    /// Takes the outcome's fields.
    #[inline]
    pub(crate) fn set_outcome(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Success { output_bytes } => {
                self.status = ExecutionStatus::Success;
                self.output_bytes = output_bytes;
            }
            Outcome::Failure {
                status,
                category,
                message,
            } => self.fail(status, Some(category), message),
            Outcome::Cancelled => {
                self.fail(ExecutionStatus::Cancelled, None, CANCELLED_MESSAGE.clone());
            }
        }
    }

    fn fail(&mut self, status: ExecutionStatus, category: Option<ErrorCategory>, message: Text) {
        self.fail_formatted(status, category);
        self.extra.error_message = Some(message);
    }

    /// A failure whose message is recorded from a
    /// [`Formatted`](crate::message::Formatted) buffer, not from the
    /// execution.
    #[inline]
    pub(crate) fn fail_formatted(
        &mut self,
        status: ExecutionStatus,
        category: Option<ErrorCategory>,
    ) {
        self.status = status;
        self.category = category;
        self.output_bytes = 0;
    }
}

/// The message of a cancelled execution: one allocation for the process.
static CANCELLED_MESSAGE: LazyLock<Text> =
    LazyLock::new(|| Text::from("cancelled: dropped before it finished"));

/// The outcome recorded for a call that panicked.
pub(crate) fn panic_outcome(message: Text) -> Outcome {
    Outcome::Failure {
        status: ExecutionStatus::Error,
        category: ErrorCategory::SystemError,
        message,
    }
}

/// The outcome recorded for a manual context dropped before it finished:
/// a panic while the thread unwinds (the context's code panicked), else a
/// cancellation.
pub(crate) fn dropped_outcome() -> Outcome {
    if thread::panicking() {
        panic_outcome(Text::from("panicked"))
    } else {
        Outcome::Cancelled
    }
}
