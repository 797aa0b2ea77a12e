//! What `#[monitored_tool]` learns from a call's arguments and result, chosen
//! by type at the call site (autoref specialization), not by spelling.
//!
//! Generated code calls a method on a value behind several `&`s; method
//! lookup tries the receiver with the most `&`s first, so the impl on the
//! type with the most `&`s whose bounds hold wins, and the unbounded impl on
//! the bare wrapper is the fallback:
//!
//! ```text
//! (&&Split(&value)).__monitor_split()          // Result<T, E> > any other value
//! (&&&Message(err)).__monitor_message()        // Display > Debug > type name
//! (&&&&&&&Classify(err)).__monitor_classify(m) // ClassifyError > io::Error > Error
//!                                              // > Deref<dyn Error + Send + Sync>
//!                                              // > Deref<dyn Error + Send>
//!                                              // > Deref<dyn Error> > anything
//! (&&Returned(ok)).__monitor_returned(g, m)    // CallToolResult (feature `rmcp`)
//!                                              // > anything
//! ```
//!
//! The choice is made where the types are known, in the instrumented
//! function, so a generic `E` is classified by the bounds it is declared
//! with. Everything here is `#[doc(hidden)]` API for generated code.

use std::any::type_name;
use std::error::Error;
use std::fmt::{self, Debug, Display};
use std::io;
use std::ops::Deref;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use crate::classify::{
    ClassifyError, ErrorCategory, ExecutionStatus, classify_parts, find_io_error, io_category,
};
use crate::guard::{CallGuard, Outcome, capped_message};
use crate::monitor::ToolExecutionMonitor;

/// An argument measured by `#[monitored_tool]`: any `Debug` type.
#[diagnostic::on_unimplemented(
    message = "`#[monitored_tool]` measures each argument with `Debug`, and `{Self}` does not implement `Debug`",
    label = "this argument's type does not implement `Debug`",
    note = "add this argument's name to `#[monitored_tool(skip(...))]`, or use `skip_all`, to leave it unmeasured"
)]
pub trait DebugArgument {
    /// The byte length of `format!("{self:?}")`.
    fn debug_len(&self) -> Option<u64>;
}

impl<T: Debug + ?Sized> DebugArgument for T {
    #[inline]
    fn debug_len(&self) -> Option<u64> {
        crate::__private::debug_len(self)
    }
}

/// The size of one argument: the byte length of its `Debug` text; `None` if
/// its `Debug` panicked or failed.
#[inline]
pub fn input_len<T: DebugArgument + ?Sized>(value: &T) -> Option<u64> {
    value.debug_len()
}

/// A `user_id` or `session_id` value, as text.
#[inline]
pub fn id_string<T: IdValue + ?Sized>(value: &T) -> String {
    value.id_string()
}

/// What `monitor = expr` accepts: a `ToolExecutionMonitor` or anything that
/// leads to one.
#[diagnostic::on_unimplemented(
    message = "`#[monitored_tool(monitor = …)]` needs a `ToolExecutionMonitor` or a pointer to one, not `{Self}`",
    label = "this is not a monitor",
    note = "`monitor = …` takes a `ToolExecutionMonitor`, a `&ToolExecutionMonitor`, an `Arc<ToolExecutionMonitor>`, a `static` `LazyLock<ToolExecutionMonitor>`, or anything else that derefs to one"
)]
pub trait MonitorTarget {
    /// The monitor.
    fn target(&self) -> &ToolExecutionMonitor;
}

impl MonitorTarget for ToolExecutionMonitor {
    #[inline]
    fn target(&self) -> &ToolExecutionMonitor {
        self
    }
}

impl<M> MonitorTarget for M
where
    M: Deref + ?Sized,
    M::Target: MonitorTarget,
{
    #[inline]
    fn target(&self) -> &ToolExecutionMonitor {
        (**self).target()
    }
}

/// The monitor that `monitor = expr` names.
#[inline]
pub fn monitor_of<M: MonitorTarget + ?Sized>(monitor: &M) -> &ToolExecutionMonitor {
    monitor.target()
}

/// A `user_id` or `session_id` value: anything with `ToString`.
#[diagnostic::on_unimplemented(
    message = "`#[monitored_tool]` converts `user_id` and `session_id` with `ToString`, and `{Self}` does not implement `Display`",
    label = "this value cannot be converted to a `String`"
)]
pub trait IdValue {
    /// The value as text.
    fn id_string(&self) -> String;
}

impl<T: ToString + ?Sized> IdValue for T {
    #[inline]
    fn id_string(&self) -> String {
        self.to_string()
    }
}

/// A `metadata(key = value)` value, as JSON.
///
/// # Errors
///
/// The serialization error, which the guard records as the value's text.
#[inline]
pub fn metadata_value<T: MetadataValue + ?Sized>(
    value: &T,
) -> Result<serde_json::Value, serde_json::Error> {
    value.to_json()
}

/// A `metadata(key = value)` value: anything `serde::Serialize`.
#[diagnostic::on_unimplemented(
    message = "`#[monitored_tool]` converts `metadata` values with `serde_json::to_value`, and `{Self}` does not implement `serde::Serialize`",
    label = "this value cannot be converted to JSON"
)]
pub trait MetadataValue {
    /// The value as JSON.
    ///
    /// # Errors
    ///
    /// The serialization error.
    fn to_json(&self) -> Result<serde_json::Value, serde_json::Error>;
}

impl<T: serde::Serialize + ?Sized> MetadataValue for T {
    #[inline]
    fn to_json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::to_value(self)
    }
}

/// A returned value (or the value inside `Ok`) measured by
/// `#[monitored_tool]`: any `Debug` type.
#[diagnostic::on_unimplemented(
    message = "`#[monitored_tool]` measures the returned value with `Debug`, and `{Self}` does not implement `Debug`",
    label = "the returned value (or its `Ok` value) does not implement `Debug`",
    note = "add `skip_output` to `#[monitored_tool(...)]` to leave the output unmeasured"
)]
pub trait DebugOutput {
    /// The byte length of `format!("{self:?}")`.
    fn debug_len(&self) -> Option<u64>;
}

impl<T: Debug + ?Sized> DebugOutput for T {
    #[inline]
    fn debug_len(&self) -> Option<u64> {
        crate::__private::debug_len(self)
    }
}

/// The size of the returned value (or of its `Ok` value).
#[inline]
pub fn output_len<T: DebugOutput + ?Sized>(value: &T) -> Option<u64> {
    value.debug_len()
}

/// A `Json<T>` result (rmcp's, axum's, …; recognised by the spelling of the
/// return type) measured by `#[monitored_tool]`: its `T` must be
/// `serde::Serialize`.
#[diagnostic::on_unimplemented(
    message = "`#[monitored_tool]` measures a `Json<T>` result as its JSON text, and `{Self}` does not implement `serde::Serialize`",
    label = "the value inside this `Json` cannot be converted to JSON",
    note = "add `skip_output` to `#[monitored_tool(...)]` to leave the output unmeasured"
)]
pub trait JsonOutput {
    /// The byte length of `serde_json::to_string(self)`.
    fn json_len(&self) -> Option<u64>;
}

impl<T: serde::Serialize + ?Sized> JsonOutput for T {
    #[inline]
    fn json_len(&self) -> Option<u64> {
        json_len(self)
    }
}

/// The size of the value inside a `Json<T>` result: the byte length of its
/// JSON text, which is what rmcp sends as the tool's structured content.
#[inline]
pub fn json_output_len<T: JsonOutput + ?Sized>(value: &T) -> Option<u64> {
    value.json_len()
}

/// An `io::Write` that counts bytes and stores nothing.
struct JsonByteCounter(u64);

impl io::Write for JsonByteCounter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The byte length of `serde_json::to_string(value)`, computed without
/// allocating the text; `None` if serializing failed or panicked.
pub(crate) fn json_len<T: serde::Serialize + ?Sized>(value: &T) -> Option<u64> {
    catch_unwind(AssertUnwindSafe(|| {
        let mut counter = JsonByteCounter(0);
        serde_json::to_writer(&mut counter, value).ok()?;
        Some(counter.0)
    }))
    .ok()
    .flatten()
}

/// The outcome of a call that returned a value or `Ok`; a size that could
/// not be measured counts as 0 and as one measurement failure.
#[inline]
pub fn success(guard: &mut CallGuard<'_>, output_bytes: Option<u64>) -> Outcome {
    if output_bytes.is_none() {
        guard.note_measurement_failure();
    }
    Outcome::Success {
        output_bytes: output_bytes.unwrap_or(0),
    }
}

/// The error type of a return value that is not a `Result`: it has no
/// values, so the `Err` arm of generated code never runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotAnError {}

impl Display for NotAnError {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {}
    }
}

/// A returned value, to be seen as a `Result` or as a plain value.
#[derive(Debug)]
pub struct Split<'a, R: ?Sized>(pub &'a R);

/// Splits a returned value into what is measured on success and the error.
pub trait SplitResult<'a> {
    /// The type measured on success: the `Ok` type, or the whole value.
    type Ok: ?Sized + 'a;
    /// The error type: `E` of a `Result`, else [`NotAnError`].
    type Err: ?Sized + 'a;

    /// `Ok(value)` on success, `Err(error)` for an `Err`.
    ///
    /// # Errors
    ///
    /// The error inside an `Err`.
    fn __monitor_split(&self) -> Result<&'a Self::Ok, &'a Self::Err>;
}

/// Any `Result`, including aliases such as `io::Result<T>`.
impl<'a, T, E> SplitResult<'a> for &Split<'a, Result<T, E>> {
    type Ok = T;
    type Err = E;

    #[inline]
    fn __monitor_split(&self) -> Result<&'a T, &'a E> {
        self.0.as_ref()
    }
}

/// Any other value: a success.
impl<'a, R: ?Sized> SplitResult<'a> for Split<'a, R> {
    type Ok = R;
    type Err = NotAnError;

    #[inline]
    fn __monitor_split(&self) -> Result<&'a R, &'a NotAnError> {
        Ok(self.0)
    }
}

/// An error, to be turned into the recorded message.
#[derive(Debug)]
pub struct Message<'a, E: ?Sized>(pub &'a E);

/// The recorded message of an error.
pub trait ErrorMessage {
    /// `Display` text, else `Debug` text, else the type's name; cut to
    /// [`MAX_ERROR_MESSAGE_BYTES`](crate::MAX_ERROR_MESSAGE_BYTES) while it is written.
    fn __monitor_message(&self) -> Arc<str>;
}

impl<E: Display + ?Sized> ErrorMessage for &&Message<'_, E> {
    fn __monitor_message(&self) -> Arc<str> {
        capped_message(|out| write!(out, "{}", self.0))
    }
}

impl<E: Debug + ?Sized> ErrorMessage for &Message<'_, E> {
    fn __monitor_message(&self) -> Arc<str> {
        capped_message(|out| write!(out, "{:?}", self.0))
    }
}

impl<E: ?Sized> ErrorMessage for Message<'_, E> {
    fn __monitor_message(&self) -> Arc<str> {
        Arc::from(type_name::<E>())
    }
}

/// An error, to be classified.
#[derive(Debug)]
pub struct Classify<'a, E: ?Sized>(pub &'a E);

/// The outcome of a call that returned `Err`.
pub trait ClassifyOutcome {
    /// The failure with its status and category; `message` is the error's
    /// message from [`ErrorMessage`].
    fn __monitor_classify(&self, message: Arc<str>) -> Outcome;
}

fn failure(status: ExecutionStatus, category: ErrorCategory, message: Arc<str>) -> Outcome {
    Outcome::Failure {
        status,
        category,
        message,
    }
}

/// Runs a classification that calls user code (a trait impl, `source()`);
/// if it panics, the call is recorded as an unknown error instead of
/// unwinding out of the instrumented function.
fn guarded(
    classify: impl FnOnce() -> (ExecutionStatus, ErrorCategory),
) -> (ExecutionStatus, ErrorCategory) {
    catch_unwind(AssertUnwindSafe(classify))
        .unwrap_or((ExecutionStatus::Error, ErrorCategory::UnknownError))
}

/// Level 6: the error type classifies itself.
impl<E: ClassifyError + ?Sized> ClassifyOutcome for &&&&&&Classify<'_, E> {
    fn __monitor_classify(&self, message: Arc<str>) -> Outcome {
        let (status, category) = guarded(|| (self.0.status(), self.0.category()));
        failure(status, category, message)
    }
}

/// Level 5: `std::io::Error`, by kind.
impl ClassifyOutcome for &&&&&Classify<'_, io::Error> {
    fn __monitor_classify(&self, message: Arc<str>) -> Outcome {
        failure(ExecutionStatus::Error, io_category(self.0), message)
    }
}

/// Level 4: any `std::error::Error`, by type name, an `io::Error` in its
/// `source()` chain, then its message.
impl<E: Error + ?Sized> ClassifyOutcome for &&&&Classify<'_, E> {
    fn __monitor_classify(&self, message: Arc<str>) -> Outcome {
        let (status, category) = guarded(|| {
            let io = self.0.source().and_then(find_io_error);
            let category = classify_parts(type_name::<E>(), &message, io);
            (ExecutionStatus::Error, category)
        });
        failure(status, category, message)
    }
}

/// An error behind a pointer to `dyn Error` (`anyhow::Error`,
/// `Box<dyn Error + …>`): by the pointer's type name, an `io::Error` in the
/// chain (the pointee included), then the message.
fn classify_dyn<E: ?Sized>(error: &(dyn Error + 'static), message: Arc<str>) -> Outcome {
    let (status, category) = guarded(|| {
        let category = classify_parts(type_name::<E>(), &message, find_io_error(error));
        (ExecutionStatus::Error, category)
    });
    failure(status, category, message)
}

/// Level 3: derefs to `dyn Error + Send + Sync` (`anyhow::Error`,
/// `Box<dyn Error + Send + Sync>`).
impl<E> ClassifyOutcome for &&&Classify<'_, E>
where
    E: Deref<Target = dyn Error + Send + Sync> + ?Sized,
{
    fn __monitor_classify(&self, message: Arc<str>) -> Outcome {
        classify_dyn::<E>(&**self.0, message)
    }
}

/// Level 2: derefs to `dyn Error + Send`.
impl<E> ClassifyOutcome for &&Classify<'_, E>
where
    E: Deref<Target = dyn Error + Send> + ?Sized,
{
    fn __monitor_classify(&self, message: Arc<str>) -> Outcome {
        classify_dyn::<E>(&**self.0, message)
    }
}

/// Level 1: derefs to `dyn Error` (`Box<dyn Error>`).
impl<E> ClassifyOutcome for &Classify<'_, E>
where
    E: Deref<Target = dyn Error> + ?Sized,
{
    fn __monitor_classify(&self, message: Arc<str>) -> Outcome {
        classify_dyn::<E>(&**self.0, message)
    }
}

/// Level 0: anything else (`Display`- or `Debug`-only errors), by type name
/// and message.
impl<E: ?Sized> ClassifyOutcome for Classify<'_, E> {
    fn __monitor_classify(&self, message: Arc<str>) -> Outcome {
        let category = classify_parts(type_name::<E>(), &message, None);
        failure(ExecutionStatus::Error, category, message)
    }
}

/// A returned value (or the value inside `Ok`), which may decide the
/// outcome itself.
#[derive(Debug)]
pub struct Returned<'a, T: ?Sized>(pub &'a T);

/// The outcome of a value that decides it itself: with the `rmcp` feature,
/// a `CallToolResult` (an `is_error` result is a failure, a success is
/// measured as its JSON). Generated code calls it on `&&Returned(ok)`, so
/// such an impl is written for `&Returned<'_, T>`; every other value falls
/// back to the impl below.
pub trait ReturnedOutcome {
    /// `Some(outcome)` if the value decides it; `None` to record a success
    /// measured as usual. `measure_output` is false under `skip_output` and
    /// `skip_all`.
    fn __monitor_returned(
        &self,
        guard: &mut CallGuard<'_>,
        measure_output: bool,
    ) -> Option<Outcome>;
}

/// Any other value: a success, measured by the caller.
impl<T: ?Sized> ReturnedOutcome for Returned<'_, T> {
    #[inline]
    fn __monitor_returned(&self, _: &mut CallGuard<'_>, _: bool) -> Option<Outcome> {
        None
    }
}

#[cfg(feature = "tokio")]
pub use self::timeout::{TimeoutResult, timed_out, timeout_outcome};

#[cfg(feature = "tokio")]
mod timeout {
    use super::{ErrorCategory, ExecutionStatus, Outcome, capped_message, failure};
    use crate::guard::TimeoutError;

    /// A return type that can carry a [`TimeoutError`]: `Result<T, E>` with
    /// `E: From<TimeoutError>`.
    #[diagnostic::on_unimplemented(
        message = "`#[monitored_tool(timeout = \"…\")]` needs a function returning `Result<T, E>` with `E: From<monitor_core::TimeoutError>`, not `{Self}`",
        label = "the function returns `{Self}`, which cannot carry a `TimeoutError`"
    )]
    pub trait TimeoutResult: Sized {
        /// `Err(E::from(error))`.
        fn from_timeout(error: TimeoutError) -> Self;
    }

    impl<T, E: From<TimeoutError>> TimeoutResult for Result<T, E> {
        #[inline]
        fn from_timeout(error: TimeoutError) -> Self {
            Err(E::from(error))
        }
    }

    /// What a timed-out call returns.
    #[cold]
    #[must_use]
    pub fn timed_out<R: TimeoutResult>(error: TimeoutError) -> R {
        R::from_timeout(error)
    }

    /// The outcome recorded for a timed-out call.
    #[cold]
    #[must_use]
    pub fn timeout_outcome(error: &TimeoutError) -> Outcome {
        failure(
            ExecutionStatus::Timeout,
            ErrorCategory::TimeoutError,
            capped_message(|out| write!(out, "{error}")),
        )
    }
}

#[cfg(test)]
#[allow(clippy::needless_borrow)] // the extra `&`s choose the impl, as in generated code
mod tests {
    use super::*;
    use crate::MAX_ERROR_MESSAGE_BYTES;

    fn split_ok<R: Debug>(value: &R) -> Option<u64> {
        match (&&Split(value)).__monitor_split() {
            Ok(ok) => output_len(ok),
            Err(_) => None,
        }
    }

    fn outcome_of<T, E: Error + 'static>(value: &Result<T, E>) -> Outcome {
        match (&&Split(value)).__monitor_split() {
            Ok(_) => Outcome::Success { output_bytes: 0 },
            Err(err) => {
                (&&&&&&&Classify(err)).__monitor_classify((&&&Message(err)).__monitor_message())
            }
        }
    }

    #[test]
    fn results_measure_their_ok_value() {
        let value: io::Result<Vec<u8>> = Ok(vec![1, 2]);
        assert_eq!(
            match (&&Split(&value)).__monitor_split() {
                Ok(ok) => output_len(ok),
                Err(_) => None,
            },
            Some(6)
        );
        assert_eq!(split_ok(&"abc"), Some(5));
    }

    #[test]
    fn io_errors_are_classified_by_kind() {
        let value: io::Result<()> = Err(io::ErrorKind::PermissionDenied.into());
        let Err(err) = (&&Split(&value)).__monitor_split() else {
            panic!("an Err")
        };
        let outcome =
            (&&&&&&&Classify(err)).__monitor_classify((&&&Message(err)).__monitor_message());
        assert_eq!(
            outcome,
            failure(
                ExecutionStatus::Error,
                ErrorCategory::SecurityError,
                "permission denied".into()
            )
        );
    }

    #[test]
    fn generic_errors_use_their_bounds() {
        let parse: Result<u32, _> = "x".parse::<u32>();
        let Outcome::Failure { category, .. } = outcome_of(&parse) else {
            panic!("a failure")
        };
        assert_eq!(category, ErrorCategory::ValidationError);
    }

    #[test]
    fn boxed_dyn_errors_find_io_errors_inside() {
        let err: Box<dyn Error + Send + Sync> =
            Box::new(io::Error::from(io::ErrorKind::ConnectionReset));
        let outcome =
            (&&&&&&&Classify(&err)).__monitor_classify((&&&Message(&err)).__monitor_message());
        let Outcome::Failure { category, .. } = outcome else {
            panic!("a failure")
        };
        assert_eq!(category, ErrorCategory::NetworkError);

        let plain: Box<dyn Error> = "bad user".into();
        let outcome =
            (&&&&&&&Classify(&plain)).__monitor_classify((&&&Message(&plain)).__monitor_message());
        assert_eq!(
            outcome,
            failure(
                ExecutionStatus::Error,
                ErrorCategory::UserInput,
                "bad user".into()
            )
        );
    }

    #[test]
    fn messages_fall_back_to_debug_then_type_name() {
        #[derive(Debug)]
        struct OnlyDebug;
        struct Nothing;
        assert_eq!(&*(&&&Message(&OnlyDebug)).__monitor_message(), "OnlyDebug");
        assert!(
            (&&&Message(&Nothing))
                .__monitor_message()
                .ends_with("Nothing")
        );
        assert_eq!(
            (&&&&&&&Classify(&Nothing)).__monitor_classify("".into()),
            failure(
                ExecutionStatus::Error,
                ErrorCategory::UnknownError,
                "".into()
            )
        );
    }

    #[test]
    fn long_messages_are_cut_while_written() {
        let long = "é".repeat(MAX_ERROR_MESSAGE_BYTES);
        let message = (&&&Message(&long)).__monitor_message();
        assert_eq!(message.len(), MAX_ERROR_MESSAGE_BYTES);
        assert!(message.chars().all(|c| c == 'é'));
    }

    #[test]
    fn a_panicking_display_is_contained() {
        struct Bad;
        impl Display for Bad {
            fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
                panic!("no display")
            }
        }
        assert_eq!(
            &*(&&&Message(&Bad)).__monitor_message(),
            "<the error's formatting panicked>"
        );
    }

    #[test]
    fn own_classification_wins() {
        #[derive(Debug)]
        struct Denied;
        impl Display for Denied {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("denied")
            }
        }
        impl Error for Denied {}
        impl ClassifyError for Denied {
            fn category(&self) -> ErrorCategory {
                ErrorCategory::SecurityError
            }
            fn status(&self) -> ExecutionStatus {
                ExecutionStatus::SecurityViolation
            }
        }
        assert_eq!(
            (&&&&&&&Classify(&Denied)).__monitor_classify("denied".into()),
            failure(
                ExecutionStatus::SecurityViolation,
                ErrorCategory::SecurityError,
                "denied".into()
            )
        );
    }
}
