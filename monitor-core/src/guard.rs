//! Records one call exactly once: on return, on panic, or when a future is
//! dropped before it finished.

use std::any::Any;
use std::cell::RefCell;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, LazyLock};
use std::thread;

use crate::classify::{ErrorCategory, ExecutionStatus};
use crate::clock::{Reading, process_clock};
use crate::monitor::{
    MAX_ERROR_MESSAGE_BYTES, ToolExecutionMonitor, global_generation, global_now,
    global_uses_system_clock, with_global,
};
use crate::recent::Details;
use crate::registry::Callsite;

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
        message: Arc<str>,
    },
    /// Dropped after it started and before it finished: status
    /// `cancelled`, no error category (it is not the tool's error).
    Cancelled,
}

/// One execution, filled in place from its start to its end and recorded
/// by reference, by the macro's guard and by the manual context alike.
///
/// It is never moved whole on the hot path: a copy reads back in wide loads
/// what was just written in narrow stores, and such loads stall (the store
/// cannot be forwarded). In the profile those copies cost more than the
/// recording itself.
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
    pub(crate) details: Option<Box<Details>>,
    /// Shared by the history and the error list.
    pub(crate) error_message: Option<Arc<str>>,
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
            details: None,
            error_message: None,
        }
    }

    pub(crate) fn details_mut(&mut self) -> &mut Details {
        self.details.get_or_insert_with(Box::default)
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
            Outcome::Cancelled => self.fail(
                ExecutionStatus::Cancelled,
                None,
                Arc::clone(&CANCELLED_MESSAGE),
            ),
        }
    }

    fn fail(
        &mut self,
        status: ExecutionStatus,
        category: Option<ErrorCategory>,
        message: Arc<str>,
    ) {
        self.status = status;
        self.category = category;
        self.output_bytes = 0;
        self.error_message = Some(message);
    }
}

/// The message of a cancelled execution: one allocation for the process.
static CANCELLED_MESSAGE: LazyLock<Arc<str>> =
    LazyLock::new(|| Arc::from("cancelled: dropped before it finished"));

/// The address of a message, to tell whether a ring entry holds it already.
pub(crate) fn message_address(message: &Arc<str>) -> usize {
    Arc::as_ptr(message).cast::<u8>().addr()
}

/// The address of this thread's last message (0 for none): a ring entry
/// that holds it keeps no memory alive that the thread does not keep
/// anyway.
pub(crate) fn last_message_address() -> usize {
    MESSAGES
        .try_with(|cell| {
            cell.try_borrow()
                .ok()
                .and_then(|messages| messages.last.as_ref().map(message_address))
        })
        .ok()
        .flatten()
        .unwrap_or(0)
}

/// Cuts `message` to [`MAX_ERROR_MESSAGE_BYTES`] on a char boundary.
pub(crate) fn cap_message(message: &str) -> Arc<str> {
    let mut end = message.len().min(MAX_ERROR_MESSAGE_BYTES);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    Arc::from(&message[..end])
}

/// A `fmt::Write` into a reused per-thread buffer that keeps at most
/// [`MAX_ERROR_MESSAGE_BYTES`], cut on a char boundary, and stops the
/// formatting once full.
struct Capped<'a>(&'a mut String);

impl fmt::Write for Capped<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = MAX_ERROR_MESSAGE_BYTES - self.0.len();
        if s.len() <= room {
            self.0.push_str(s);
            return Ok(());
        }
        let mut end = room;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.0.push_str(&s[..end]);
        Err(fmt::Error)
    }
}

/// Per-thread state for error messages.
struct Messages {
    /// Where messages are formatted before their one allocation.
    buffer: String,
    /// The last message made on this thread: the next one with the same
    /// text shares it instead of allocating (a tool that fails keeps
    /// failing the same way, as a rule).
    last: Option<Arc<str>>,
}

thread_local! {
    static MESSAGES: RefCell<Messages> = const {
        RefCell::new(Messages {
            buffer: String::new(),
            last: None,
        })
    };
}

/// The text `write` produces, at most [`MAX_ERROR_MESSAGE_BYTES`] of it: the
/// last message of this thread if the text is the same, else one allocation
/// (it is formatted into a reused per-thread buffer first). A formatting
/// impl that panics leaves a note instead of unwinding out of the
/// instrumented function.
pub(crate) fn capped_message(write: impl FnOnce(&mut dyn fmt::Write) -> fmt::Result) -> Arc<str> {
    let mut write = Some(write);
    let mut format = |buffer: &mut String, last: Option<&mut Option<Arc<str>>>| -> Arc<str> {
        buffer.clear();
        let Some(write) = write.take() else {
            return Arc::from("");
        };
        // A full buffer stops the formatting with an error; the text is kept.
        if catch_unwind(AssertUnwindSafe(|| write(&mut Capped(buffer)))).is_err() {
            return Arc::from("<the error's formatting panicked>");
        }
        let Some(last) = last else {
            return Arc::from(buffer.as_str());
        };
        match last {
            Some(message) if **message == **buffer => Arc::clone(message),
            _ => Arc::clone(last.insert(Arc::from(buffer.as_str()))),
        }
    };
    let reused = MESSAGES.try_with(|cell| {
        // Fails only when re-entered from inside a `Display` impl.
        let mut messages = cell.try_borrow_mut().ok()?;
        let Messages { buffer, last } = &mut *messages;
        Some(format(buffer, Some(last)))
    });
    match reused {
        Ok(Some(message)) => message,
        _ => format(&mut String::new(), None),
    }
}

/// The message of a panic payload.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> Arc<str> {
    if let Some(message) = payload.downcast_ref::<&str>() {
        cap_message(message)
    } else if let Some(message) = payload.downcast_ref::<String>() {
        cap_message(message)
    } else {
        Arc::from("panic with a non-string payload")
    }
}

/// The outcome recorded for a call that panicked.
pub(crate) fn panic_outcome(message: Arc<str>) -> Outcome {
    Outcome::Failure {
        status: ExecutionStatus::Error,
        category: ErrorCategory::SystemError,
        message,
    }
}

/// The outcome recorded for a guard dropped before it finished.
pub(crate) fn dropped_outcome() -> Outcome {
    if thread::panicking() {
        panic_outcome(Arc::from("panicked"))
    } else {
        Outcome::Cancelled
    }
}

/// Which monitor a guard records into.
#[derive(Debug, Clone, Copy)]
enum Target<'m> {
    /// The global monitor, resolved at start and again at the end, so that
    /// `set_global_monitor` takes effect without a shared reference count.
    Global,
    Monitor(&'m ToolExecutionMonitor),
}

/// Records one call of a `#[monitored_tool]` function.
///
/// Not public API. Finish it with [`finish`](Self::finish) or
/// [`finish_panic`](Self::finish_panic); dropped unfinished it records a
/// cancellation (or a panic, while the thread is panicking).
#[derive(Debug)]
#[must_use = "a call guard records the call when finished or dropped"]
pub struct CallGuard<'m> {
    site: &'static Callsite,
    target: Target<'m>,
    /// The target monitor reads the process's system clock, so the end time
    /// can be read without resolving the global monitor again.
    system_clock: bool,
    /// Recorded already: nothing is left for `Drop`.
    recorded: bool,
    /// The global monitor's generation at the start (0 for an explicit
    /// monitor): a change means the call crossed a `set_global_monitor`.
    generation: u64,
    execution: Execution,
}

impl Callsite {
    /// Starts timing a call recorded in the global monitor.
    #[inline]
    pub fn start(&'static self) -> CallGuard<'static> {
        let generation = global_generation();
        // Not through a helper returning both: a reading returned with a
        // flag goes through memory, and the load of it stalls.
        let system_clock = global_uses_system_clock();
        let start = if system_clock {
            process_clock().now()
        } else {
            global_now()
        };
        CallGuard {
            site: self,
            target: Target::Global,
            system_clock,
            recorded: false,
            generation,
            execution: Execution::new(start),
        }
    }

    /// Starts timing a call recorded in `monitor`.
    #[inline]
    pub fn start_in<'m>(&'static self, monitor: &'m ToolExecutionMonitor) -> CallGuard<'m> {
        CallGuard {
            site: self,
            target: Target::Monitor(monitor),
            system_clock: monitor.uses_system_clock(),
            recorded: false,
            generation: 0,
            execution: Execution::new(monitor.now()),
        }
    }
}

impl CallGuard<'_> {
    /// Adds one measured argument's size; `None` if measuring it failed.
    #[inline]
    pub fn add_input_size(&mut self, bytes: Option<u64>) {
        let execution = &mut self.execution;
        match bytes {
            Some(bytes) => execution.input_bytes = execution.input_bytes.saturating_add(bytes),
            None => execution.measurement_failures += 1,
        }
    }

    /// Sets the user id of this call.
    pub fn set_user_id(&mut self, user_id: String) {
        self.execution.details_mut().user_id = Some(user_id);
    }

    /// Sets the session id of this call.
    pub fn set_session_id(&mut self, session_id: String) {
        self.execution.details_mut().session_id = Some(session_id);
    }

    /// Adds one metadata entry; a value that failed to serialize is stored
    /// as its error message.
    pub fn add_metadata<E: std::fmt::Display>(
        &mut self,
        key: &str,
        value: Result<serde_json::Value, E>,
    ) {
        let value = value.unwrap_or_else(|e| serde_json::Value::String(e.to_string()));
        self.execution
            .details_mut()
            .metadata
            .insert(key.to_owned(), value);
    }

    /// Stops the clock: what happens after (measuring the result) is not
    /// part of the call's duration.
    #[inline]
    pub fn stop(&mut self) {
        if !self.execution.stopped {
            let now = self.now();
            self.execution.stop_at(|| now);
        }
    }

    /// Records the call's outcome; later calls and the drop do nothing.
    // By reference: taking the guard by value copies it (a memcpy on every
    // call, even inlined, since its address escaped). Inlined, so that the
    // outcome is written in place.
    #[inline]
    pub fn finish(&mut self, outcome: Outcome) {
        self.execution.set_outcome(outcome);
        self.record();
    }

    /// Records a call that panicked with `payload`; the caller then resumes
    /// the unwind.
    pub fn finish_panic(&mut self, payload: &(dyn Any + Send)) {
        self.execution
            .set_outcome(panic_outcome(panic_message(payload)));
        self.record();
    }

    /// Records the error of a size measurement that panicked.
    pub fn note_measurement_failure(&mut self) {
        self.add_input_size(None);
    }

    #[inline]
    fn now(&self) -> Reading {
        if self.system_clock {
            process_clock().now()
        } else {
            self.injected_now()
        }
    }

    /// The target monitor's injected clock.
    #[inline(never)]
    fn injected_now(&self) -> Reading {
        match self.target {
            Target::Global => global_now(),
            Target::Monitor(monitor) => monitor.now(),
        }
    }

    /// Records the execution, whose outcome is set, in the target monitor.
    /// Not inlined: one copy in the library serves every tool, and it takes
    /// the guard by reference.
    #[inline(never)]
    fn record(&mut self) {
        if self.recorded {
            return;
        }
        self.recorded = true;
        let site = self.site;
        match self.target {
            Target::Global if global_generation() != self.generation => {
                let duration = self.crossed_duration();
                let execution = &mut self.execution;
                with_global(|monitor| {
                    // Stamped by the recording monitor's clock, ending now.
                    execution.restamp(monitor.now(), duration);
                    monitor.record_site(site, execution);
                });
            }
            Target::Global if self.system_clock => {
                self.execution.end_at(|| process_clock().now());
                with_global(|monitor| monitor.record_site(site, &mut self.execution));
            }
            Target::Global => {
                let execution = &mut self.execution;
                with_global(|monitor| {
                    execution.end_at(|| monitor.now());
                    monitor.record_site(site, execution);
                });
            }
            Target::Monitor(monitor) => {
                self.execution.end_at(|| monitor.now());
                monitor.record_site(site, &mut self.execution);
            }
        }
    }
}

impl CallGuard<'_> {
    /// The duration of a call that crossed a `set_global_monitor`, on the
    /// clock it started with: measurable only when that is the system
    /// clock, whose readings compare across monitors; else 0.
    #[cold]
    fn crossed_duration(&self) -> u64 {
        if self.system_clock {
            let execution = &self.execution;
            let end = if execution.stopped {
                execution.end
            } else {
                process_clock().now()
            };
            end.mono_nanos.saturating_sub(execution.start.mono_nanos)
        } else {
            0
        }
    }
}

impl Drop for CallGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        // The generated code catches the tool's own panics and records them
        // with `finish_panic`, so a guard dropped unfinished, even while the
        // thread unwinds, was dropped by someone else: a cancellation.
        if !self.recorded {
            self.execution.set_outcome(Outcome::Cancelled);
            self.record();
        }
    }
}

/// The error a `#[monitored_tool(timeout = "…")]` function returns when its
/// deadline expires, converted with `From` into the function's error type.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let error = monitor_core::TimeoutError::new("search", Duration::from_millis(250));
/// assert_eq!(error.to_string(), "tool `search` timed out after 250ms");
/// ```
#[cfg(feature = "tokio")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeoutError {
    tool: std::borrow::Cow<'static, str>,
    after: std::time::Duration,
}

#[cfg(feature = "tokio")]
impl TimeoutError {
    /// The error of `tool` after running for `after`.
    pub fn new(
        tool: impl Into<std::borrow::Cow<'static, str>>,
        after: std::time::Duration,
    ) -> Self {
        Self {
            tool: tool.into(),
            after,
        }
    }

    /// The tool that timed out.
    #[must_use]
    pub fn tool(&self) -> &str {
        &self.tool
    }

    /// The deadline that expired.
    #[must_use]
    pub fn after(&self) -> std::time::Duration {
        self.after
    }
}

#[cfg(feature = "tokio")]
impl std::fmt::Display for TimeoutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "tool `{}` timed out after {:?}", self.tool, self.after)
    }
}

#[cfg(feature = "tokio")]
impl std::error::Error for TimeoutError {}

#[cfg(feature = "tokio")]
impl crate::classify::ClassifyError for TimeoutError {
    fn category(&self) -> ErrorCategory {
        ErrorCategory::TimeoutError
    }

    fn status(&self) -> ExecutionStatus {
        ExecutionStatus::Timeout
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_cut_on_a_char_boundary() {
        let long = "ü".repeat(1000);
        let cut = cap_message(&long);
        assert!(cut.len() <= MAX_ERROR_MESSAGE_BYTES && cut.len() >= MAX_ERROR_MESSAGE_BYTES - 1);
        assert_eq!(&*cap_message("short"), "short");
        let formatted = capped_message(|out: &mut dyn fmt::Write| write!(out, "{long}"));
        assert_eq!(formatted, cut);
        assert_eq!(
            &*capped_message(|out: &mut dyn fmt::Write| write!(out, "a{}", 1)),
            "a1"
        );
    }

    #[test]
    fn a_repeated_message_is_shared_not_allocated_again() {
        let make =
            |text: &'static str| capped_message(|out: &mut dyn fmt::Write| out.write_str(text));
        let first = make("denied");
        let again = make("denied");
        assert!(Arc::ptr_eq(&first, &again));
        let other = make("refused");
        assert_eq!(&*other, "refused");
        assert!(!Arc::ptr_eq(&first, &other));
        assert!(!Arc::ptr_eq(&other, &make("denied")));
    }

    #[test]
    fn panic_payloads_give_messages() {
        assert_eq!(&*panic_message(&"static"), "static");
        assert_eq!(&*panic_message(&String::from("owned")), "owned");
        assert_eq!(&*panic_message(&42), "panic with a non-string payload");
    }
}
