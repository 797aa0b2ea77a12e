//! Records one call of a `#[monitored_tool]` function exactly once: on
//! return, on panic, or when its future is dropped before it finished.

use std::any::Any;

use crate::clock::{Reading, process_clock};
use crate::execution::{Details, Execution, Outcome, panic_outcome};
use crate::global::{global_generation, global_now, global_uses_system_clock, with_global};
use crate::message::{Formatted, panic_message, with_formatted};
use crate::monitor::ToolExecutionMonitor;
use crate::registry::SiteKey;
#[cfg(feature = "tracing")]
use crate::span::ToolSpan;
use crate::status::{ErrorCategory, ExecutionStatus};

/// Which monitor a guard records into.
#[derive(Debug, Clone, Copy)]
enum Target<'m> {
    /// The global monitor, resolved at start and again at the end, so that
    /// `set_global_monitor` takes effect without a shared reference count.
    Global,
    Monitor(&'m ToolExecutionMonitor),
}

impl Target<'_> {
    /// The target monitor's injected clock.
    #[inline(never)]
    fn injected_now(self) -> Reading {
        match self {
            Target::Global => global_now(),
            Target::Monitor(monitor) => monitor.now(),
        }
    }
}

/// Records one call of a `#[monitored_tool]` function, started by
/// [`Callsite::start`](crate::__private::Callsite::start).
///
/// Not public API. Finish it with [`finish`](Self::finish) or
/// [`finish_panic`](Self::finish_panic); dropped unfinished it records a
/// cancellation: generated code catches the tool's own panics and finishes
/// with `finish_panic`, so a guard dropped unfinished, even during an
/// unwind, was dropped by its caller.
#[derive(Debug)]
#[must_use = "a call guard records the call when finished or dropped"]
pub struct CallGuard<'m> {
    site: &'static SiteKey,
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
    /// The `execute_tool` span the call runs in.
    #[cfg(feature = "tracing")]
    span: ToolSpan,
}

/// The global monitor's generation, whether it reads the system clock, and
/// the start reading on its clock.
#[inline]
fn global_start() -> (u64, bool, Reading) {
    let generation = global_generation();
    // Two calls, not one helper returning both: see BENCHMARKS.md, "Why
    // the hot path looks as it does".
    let system_clock = global_uses_system_clock();
    let start = if system_clock {
        process_clock().now()
    } else {
        global_now()
    };
    (generation, system_clock, start)
}

impl<'m> CallGuard<'m> {
    /// Starts timing a call of `site` recorded in the global monitor.
    #[inline]
    pub(crate) fn global(site: &'static SiteKey) -> CallGuard<'static> {
        let (generation, system_clock, start) = global_start();
        CallGuard {
            site,
            target: Target::Global,
            system_clock,
            recorded: false,
            generation,
            execution: Execution::new(start),
            #[cfg(feature = "tracing")]
            span: ToolSpan::new(site.name),
        }
    }

    /// Starts timing a call of `site` recorded in `monitor`.
    #[inline]
    pub(crate) fn in_monitor(site: &'static SiteKey, monitor: &'m ToolExecutionMonitor) -> Self {
        CallGuard {
            site,
            target: Target::Monitor(monitor),
            system_clock: monitor.uses_system_clock(),
            recorded: false,
            generation: 0,
            execution: Execution::new(monitor.now()),
            #[cfg(feature = "tracing")]
            span: ToolSpan::new(site.name),
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
        self.execution.details_mut().add_metadata(key, value);
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
    // By reference and inlined, so that nothing is copied (BENCHMARKS.md,
    // "Why the hot path looks as it does").
    #[inline]
    pub fn finish(&mut self, outcome: Outcome) {
        self.execution.set_outcome(outcome);
        self.record(None);
    }

    /// Records a call that returned `Err`: `write` formats the error's
    /// message into this thread's buffer, `classify` classifies it from
    /// that text, and the rings copy it from there, so that a failing call
    /// with a message of at most 64 bytes allocates nothing, takes no lock
    /// and counts no references (BENCHMARKS.md, issue #18).
    #[inline(never)]
    pub fn finish_error(
        &mut self,
        write: &dyn Fn(&mut dyn std::fmt::Write) -> std::fmt::Result,
        classify: &dyn Fn(&str) -> (ExecutionStatus, ErrorCategory),
    ) {
        with_formatted(write, |formatted| {
            let (status, category) = classify(formatted.text());
            self.execution.fail_formatted(status, Some(category));
            self.record(Some(formatted));
        });
    }

    /// Records a call that panicked with `payload`; the caller then resumes
    /// the unwind.
    pub fn finish_panic(&mut self, payload: &(dyn Any + Send)) {
        self.execution
            .set_outcome(panic_outcome(panic_message(payload)));
        self.record(None);
    }

    /// Sets the call's `gen_ai.tool.call.id` (the MCP request id), on the
    /// `execute_tool` span of the `tracing` feature; without it, nothing.
    #[inline]
    pub fn set_tool_call_id(&mut self, id: &dyn std::fmt::Display) {
        #[cfg(feature = "tracing")]
        self.span.set_call_id(id);
        #[cfg(not(feature = "tracing"))]
        let _ = id;
    }

    /// The tool reported its own failure (rmcp's `is_error`): the span's
    /// `error.type` is `tool_error`.
    #[cfg(all(feature = "rmcp", feature = "tracing"))]
    pub(crate) fn note_tool_error(&mut self) {
        self.span.note_tool_error();
    }

    /// Lends the call's span out, for a sync body to run in; put it back
    /// with [`return_span`](Self::return_span). Moved, not cloned: a clone
    /// and its drop are two calls into the subscriber.
    #[cfg(feature = "tracing")]
    #[inline]
    pub(crate) fn lend_span(&mut self) -> tracing::Span {
        std::mem::replace(&mut self.span.span, tracing::Span::none())
    }

    /// Takes back the span [`lend_span`](Self::lend_span) lent.
    #[cfg(feature = "tracing")]
    #[inline]
    pub(crate) fn return_span(&mut self, span: tracing::Span) {
        self.span.span = span;
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
            self.target.injected_now()
        }
    }

    /// Records the execution, whose outcome is set, in the target monitor;
    /// its message is `formatted` if given, else its own. Not inlined: one
    /// copy in the library serves every tool, and it takes the guard by
    /// reference.
    #[inline(never)]
    fn record(&mut self, formatted: Option<&mut Formatted<'_>>) {
        if self.recorded {
            return;
        }
        self.recorded = true;
        #[cfg(feature = "tracing")]
        self.span.record_outcome(&self.execution);
        let site = self.site;
        match self.target {
            Target::Global if global_generation() != self.generation => {
                let duration = self.crossed_duration();
                let execution = &mut self.execution;
                with_global(|monitor| {
                    // Stamped by the recording monitor's clock, ending now.
                    execution.restamp(monitor.now(), duration);
                    monitor.record_site(site, execution, formatted);
                });
            }
            Target::Global if self.system_clock => {
                self.execution.end_at(|| process_clock().now());
                with_global(|monitor| monitor.record_site(site, &mut self.execution, formatted));
            }
            Target::Global => {
                let execution = &mut self.execution;
                with_global(|monitor| {
                    execution.end_at(|| monitor.now());
                    monitor.record_site(site, execution, formatted);
                });
            }
            Target::Monitor(monitor) => {
                self.execution.end_at(|| monitor.now());
                monitor.record_site(site, &mut self.execution, formatted);
            }
        }
    }
}

/// A call's guard while its async tool's body is pending: what recording
/// needs later, held in the tool's future across every await in place of
/// the whole guard.
///
/// Not public API. Started by
/// [`Callsite::start_parked`](crate::__private::Callsite::start_parked),
/// and turned into a guard by [`resume`](Self::resume) when the body is
/// done; dropped before that (the tool's future was dropped mid-way), it
/// records a cancellation. It has room for the call's details (user id,
/// session id, metadata) only in a tool that has any ([`WithDetails`]).
///
/// 48 bytes where the guard is 136, without the `tracing` feature: whoever
/// awaits a tool moves its future, and a future over 96 bytes is copied
/// with two `memcpy` calls, about 10 ns a call here, where a smaller one
/// takes a few register moves (BENCHMARKS.md, "The async tool's size").
#[derive(Debug)]
#[must_use = "a parked guard records the call when resumed and finished, or dropped"]
pub struct ParkedGuard<'m, D: ParkedDetails = NoDetails> {
    site: &'static SiteKey,
    target: Target<'m>,
    start: Reading,
    input_bytes: u64,
    /// The low half of the global generation at the start: enough to tell
    /// whether a `set_global_monitor` came between start and end, short of
    /// 2^32 of them during one call.
    generation: u32,
    /// Saturated: a count of arguments that failed to measure.
    measurement_failures: u16,
    system_clock: bool,
    /// Resumed already: nothing is left for `Drop`.
    resumed: bool,
    details: D,
    #[cfg(feature = "tracing")]
    span: ToolSpan,
}

/// What a [`ParkedGuard`] keeps of a call's details (user id, session id,
/// metadata): [`NoDetails`], no room at all, for a tool without any, or
/// [`WithDetails`].
pub trait ParkedDetails: Default + std::fmt::Debug {
    /// Hands the details to the resumed guard.
    fn put(self, guard: &mut CallGuard<'_>);
}

/// A tool without details: the parked guard keeps nothing for them.
#[derive(Debug, Default)]
pub struct NoDetails;

impl ParkedDetails for NoDetails {
    #[inline]
    fn put(self, _guard: &mut CallGuard<'_>) {}
}

/// A tool with a user id, session id or metadata: the parked guard keeps
/// them, so that a cancelled call records them too.
#[derive(Debug, Default)]
pub struct WithDetails(Option<Box<Details>>);

impl ParkedDetails for WithDetails {
    #[inline]
    fn put(self, guard: &mut CallGuard<'_>) {
        guard.execution.extra.details = self.0;
    }
}

impl<D: ParkedDetails> ParkedGuard<'static, D> {
    /// Starts timing a call of `site` recorded in the global monitor, as
    /// [`CallGuard::global`] does.
    #[inline]
    pub(crate) fn global(site: &'static SiteKey) -> Self {
        let (generation, system_clock, start) = global_start();
        #[allow(clippy::cast_possible_truncation)] // the low half, on purpose
        let generation = generation as u32;
        ParkedGuard {
            site,
            target: Target::Global,
            start,
            input_bytes: 0,
            generation,
            measurement_failures: 0,
            system_clock,
            resumed: false,
            details: D::default(),
            #[cfg(feature = "tracing")]
            span: ToolSpan::new(site.name),
        }
    }
}

impl<'m, D: ParkedDetails> ParkedGuard<'m, D> {
    /// Starts timing a call of `site` recorded in `monitor`.
    #[inline]
    pub(crate) fn in_monitor(site: &'static SiteKey, monitor: &'m ToolExecutionMonitor) -> Self {
        ParkedGuard {
            site,
            target: Target::Monitor(monitor),
            start: monitor.now(),
            input_bytes: 0,
            generation: 0,
            measurement_failures: 0,
            system_clock: monitor.uses_system_clock(),
            resumed: false,
            details: D::default(),
            #[cfg(feature = "tracing")]
            span: ToolSpan::new(site.name),
        }
    }

    /// Adds one measured argument's size; `None` if measuring it failed.
    #[inline]
    pub fn add_input_size(&mut self, bytes: Option<u64>) {
        match bytes {
            Some(bytes) => self.input_bytes = self.input_bytes.saturating_add(bytes),
            None => self.measurement_failures = self.measurement_failures.saturating_add(1),
        }
    }

    /// Sets the call's `gen_ai.tool.call.id`, as
    /// [`CallGuard::set_tool_call_id`] does.
    #[inline]
    pub fn set_tool_call_id(&mut self, id: &dyn std::fmt::Display) {
        #[cfg(feature = "tracing")]
        self.span.set_call_id(id);
        #[cfg(not(feature = "tracing"))]
        let _ = id;
    }

    /// Runs `future` in the call's `execute_tool` span (entered at every
    /// poll and at its drop), with the `tracing` feature; without it,
    /// `future` itself.
    #[cfg(feature = "tracing")]
    #[inline]
    pub fn instrument<F: std::future::Future>(
        &self,
        future: F,
    ) -> tracing::instrument::Instrumented<F> {
        tracing::Instrument::instrument(future, self.span.span.clone())
    }

    /// Runs `future` in the call's `execute_tool` span, with the `tracing`
    /// feature; without it, `future` itself.
    #[cfg(not(feature = "tracing"))]
    #[inline]
    pub fn instrument<F: std::future::Future>(&self, future: F) -> F {
        future
    }
}

impl ParkedGuard<'_, WithDetails> {
    /// Sets the user id of this call.
    pub fn set_user_id(&mut self, user_id: String) {
        self.details_mut().user_id = Some(user_id);
    }

    /// Sets the session id of this call.
    pub fn set_session_id(&mut self, session_id: String) {
        self.details_mut().session_id = Some(session_id);
    }

    /// Adds one metadata entry, as [`CallGuard::add_metadata`] does.
    pub fn add_metadata<E: std::fmt::Display>(
        &mut self,
        key: &str,
        value: Result<serde_json::Value, E>,
    ) {
        self.details_mut().add_metadata(key, value);
    }

    fn details_mut(&mut self) -> &mut Details {
        self.details.0.get_or_insert_with(Box::default)
    }
}

impl<'m, D: ParkedDetails> ParkedGuard<'m, D> {
    /// The guard again, with its clock stopped now: the body is done.
    /// Inlined, so that the guard is made where the tool's future keeps its
    /// locals, not returned through a copy: with `#[inline]` alone it was
    /// an out-of-line call per await that returned 136 bytes.
    #[allow(clippy::inline_always)] // measured: see above
    #[inline(always)]
    pub fn resume(mut self) -> CallGuard<'m> {
        let end = if self.system_clock {
            process_clock().now()
        } else {
            self.target.injected_now()
        };
        // After the reading: if an injected clock panics, the drop records
        // the call.
        self.resumed = true;
        self.unpark(Some(end))
    }

    /// A guard with the parked fields (and the span, moved out), stopped at
    /// `end` if given. The clock is stopped here, not by the guard's
    /// `stop`: a call on the guard made would make it copied on return.
    #[allow(clippy::inline_always)] // as `resume`, into which it goes
    #[inline(always)]
    fn unpark(&mut self, end: Option<Reading>) -> CallGuard<'m> {
        let generation = match self.target {
            Target::Global => {
                let now = global_generation();
                #[allow(clippy::cast_possible_truncation)] // the low half, as parked
                if now as u32 == self.generation {
                    now
                } else {
                    // Crossed: a generation that never is the current one
                    // (they start at 1), whatever swaps come next.
                    0
                }
            }
            Target::Monitor(_) => 0,
        };
        // Built in place: an `Execution` made first and moved in is one
        // `memcpy` call more.
        let mut guard = CallGuard {
            site: self.site,
            target: self.target,
            system_clock: self.system_clock,
            recorded: false,
            generation,
            execution: Execution::new(self.start),
            #[cfg(feature = "tracing")]
            span: std::mem::replace(&mut self.span, ToolSpan::none()),
        };
        guard.execution.input_bytes = self.input_bytes;
        guard.execution.measurement_failures = u32::from(self.measurement_failures);
        std::mem::take(&mut self.details).put(&mut guard);
        if let Some(end) = end {
            guard.execution.end = end;
            guard.execution.stopped = true;
        }
        guard
    }
}

impl<D: ParkedDetails> Drop for ParkedGuard<'_, D> {
    /// Inlined: after `resume` it is a known-false check.
    #[inline]
    fn drop(&mut self) {
        // Dropped while parked: the tool's future was dropped mid-way. The
        // guard's own drop records the cancellation.
        if !self.resumed {
            drop(self.unpark(None));
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
        // See the type's docs: unfinished means cancelled.
        if !self.recorded {
            self.execution.set_outcome(Outcome::Cancelled);
            self.record(None);
        }
    }
}
