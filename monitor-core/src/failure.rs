//! How `#[monitored_tool]` turns an `Err` into a failure: the recorded
//! message (`Display` > `Debug` > type name), written into the thread's
//! buffer by `CallGuard::finish_error`, and the
//! classification (`ClassifyError` > `io::Error` > `Error` > `Deref<dyn
//! Error …>` > anything), each chosen by type at the call site (see the
//! table in `dispatch.rs`).

use std::any::type_name;
use std::error::Error;
use std::fmt::{self, Debug, Display};
use std::io;
use std::ops::Deref;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::classify::{ClassifyError, classify_parts, find_io_error, io_category};
use crate::status::{ErrorCategory, ExecutionStatus};

/// An error, to be turned into the recorded message.
#[derive(Debug)]
pub struct Message<'a, E: ?Sized>(pub &'a E);

/// The recorded message of an error.
pub trait ErrorMessage {
    /// Writes the `Display` text, else the `Debug` text, else the type's
    /// name; the writer cuts it to
    /// [`MAX_ERROR_MESSAGE_BYTES`](crate::MAX_ERROR_MESSAGE_BYTES).
    ///
    /// # Errors
    ///
    /// The formatting's error (a full writer stops it with one).
    fn __monitor_write(&self, out: &mut dyn fmt::Write) -> fmt::Result;
}

impl<E: Display + ?Sized> ErrorMessage for &&Message<'_, E> {
    fn __monitor_write(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        write!(out, "{}", self.0)
    }
}

impl<E: Debug + ?Sized> ErrorMessage for &Message<'_, E> {
    fn __monitor_write(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        write!(out, "{:?}", self.0)
    }
}

impl<E: ?Sized> ErrorMessage for Message<'_, E> {
    fn __monitor_write(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        out.write_str(type_name::<E>())
    }
}

/// An error, to be classified.
#[derive(Debug)]
pub struct Classify<'a, E: ?Sized>(pub &'a E);

/// The classification of a call that returned `Err`.
pub trait ClassifyOutcome {
    /// The failure's status and category; `message` is the error's message
    /// as [`ErrorMessage`] wrote it.
    fn __monitor_classify(&self, message: &str) -> (ExecutionStatus, ErrorCategory);
}

/// Runs a classification that calls user code (a trait impl); if it
/// panics, the call is recorded as an unknown error instead of unwinding
/// out of the instrumented function.
fn guarded(
    classify: impl FnOnce() -> (ExecutionStatus, ErrorCategory),
) -> (ExecutionStatus, ErrorCategory) {
    catch_unwind(AssertUnwindSafe(classify)).unwrap_or(UNKNOWN)
}

/// What a classification that panicked records.
const UNKNOWN: (ExecutionStatus, ErrorCategory) =
    (ExecutionStatus::Error, ErrorCategory::UnknownError);

/// The reference's rules for an error of type `E`: its name, an
/// `io::Error` in the `source()` chain that `chain` walks, then its
/// message. Only the walk is guarded, as it is the only user code here
/// (`source()`, and a pointer's `Deref` to its error): an error whose
/// `source()` is the default then has no unwinding frame at all (the walk
/// cannot panic and the guard folds away), where guarding the whole rule
/// cost a call per failure.
fn by_parts<'a, E: ?Sized>(
    chain: impl FnOnce() -> Option<&'a io::Error>,
    message: &str,
) -> (ExecutionStatus, ErrorCategory) {
    match catch_unwind(AssertUnwindSafe(chain)) {
        Ok(io) => (
            ExecutionStatus::Error,
            classify_parts(type_name::<E>(), message, io),
        ),
        Err(_) => UNKNOWN,
    }
}

/// Level 6: the error type classifies itself.
impl<E: ClassifyError + ?Sized> ClassifyOutcome for &&&&&&Classify<'_, E> {
    fn __monitor_classify(&self, _message: &str) -> (ExecutionStatus, ErrorCategory) {
        guarded(|| (self.0.status(), self.0.category()))
    }
}

/// Level 5: `std::io::Error`, by kind.
impl ClassifyOutcome for &&&&&Classify<'_, io::Error> {
    fn __monitor_classify(&self, _message: &str) -> (ExecutionStatus, ErrorCategory) {
        (ExecutionStatus::Error, io_category(self.0))
    }
}

/// Level 4: any `std::error::Error`, by type name, an `io::Error` in its
/// `source()` chain, then its message.
impl<E: Error + ?Sized> ClassifyOutcome for &&&&Classify<'_, E> {
    fn __monitor_classify(&self, message: &str) -> (ExecutionStatus, ErrorCategory) {
        by_parts::<E>(|| self.0.source().and_then(find_io_error), message)
    }
}

/// An error behind a pointer to `dyn Error` (`anyhow::Error`,
/// `Box<dyn Error + …>`): by the pointer's type name, an `io::Error` in the
/// chain (the pointee included), then the message. `error` derefs the
/// pointer: user code too, so it runs inside the guard.
fn classify_dyn<'a, E: ?Sized>(
    error: impl FnOnce() -> &'a (dyn Error + 'static),
    message: &str,
) -> (ExecutionStatus, ErrorCategory) {
    by_parts::<E>(|| find_io_error(error()), message)
}

/// Level 3: derefs to `dyn Error + Send + Sync` (`anyhow::Error`,
/// `Box<dyn Error + Send + Sync>`).
impl<E> ClassifyOutcome for &&&Classify<'_, E>
where
    E: Deref<Target = dyn Error + Send + Sync> + ?Sized,
{
    fn __monitor_classify(&self, message: &str) -> (ExecutionStatus, ErrorCategory) {
        classify_dyn::<E>(|| &**self.0, message)
    }
}

/// Level 2: derefs to `dyn Error + Send`.
impl<E> ClassifyOutcome for &&Classify<'_, E>
where
    E: Deref<Target = dyn Error + Send> + ?Sized,
{
    fn __monitor_classify(&self, message: &str) -> (ExecutionStatus, ErrorCategory) {
        classify_dyn::<E>(|| &**self.0, message)
    }
}

/// Level 1: derefs to `dyn Error` (`Box<dyn Error>`).
impl<E> ClassifyOutcome for &Classify<'_, E>
where
    E: Deref<Target = dyn Error> + ?Sized,
{
    fn __monitor_classify(&self, message: &str) -> (ExecutionStatus, ErrorCategory) {
        classify_dyn::<E>(|| &**self.0, message)
    }
}

/// Level 0: anything else (`Display`- or `Debug`-only errors), by type name
/// and message.
impl<E: ?Sized> ClassifyOutcome for Classify<'_, E> {
    fn __monitor_classify(&self, message: &str) -> (ExecutionStatus, ErrorCategory) {
        (
            ExecutionStatus::Error,
            classify_parts(type_name::<E>(), message, None),
        )
    }
}

#[cfg(test)]
#[allow(clippy::needless_borrow)] // the extra `&`s choose the impl, as in generated code
mod tests {
    use super::*;
    use crate::dispatch::{Split, SplitResult};
    use crate::execution::Outcome;
    use crate::limits::MAX_ERROR_MESSAGE_BYTES;
    use crate::message::{Text, capped_message};

    /// The failure generated code records for `err`, chosen by its type
    /// as there.
    macro_rules! failure_of {
        ($err:expr) => {{
            let err = $err;
            let message = capped_message(|out| (&&&Message(err)).__monitor_write(out));
            let (status, category) = (&&&&&&&Classify(err)).__monitor_classify(&message);
            failure(status, category, message)
        }};
    }

    fn failure(status: ExecutionStatus, category: ErrorCategory, message: Text) -> Outcome {
        Outcome::Failure {
            status,
            category,
            message,
        }
    }

    fn outcome_of<T, E: Error + 'static>(value: &Result<T, E>) -> Outcome {
        match (&&Split(value)).__monitor_split() {
            Ok(_) => Outcome::Success { output_bytes: 0 },
            Err(err) => failure_of!(err),
        }
    }

    #[test]
    fn io_errors_are_classified_by_kind() {
        let value: io::Result<()> = Err(io::ErrorKind::PermissionDenied.into());
        let Err(err) = (&&Split(&value)).__monitor_split() else {
            panic!("an Err")
        };
        let outcome = failure_of!(err);
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
        let outcome = failure_of!(&err);
        let Outcome::Failure { category, .. } = outcome else {
            panic!("a failure")
        };
        assert_eq!(category, ErrorCategory::NetworkError);

        let plain: Box<dyn Error> = "bad user".into();
        let outcome = failure_of!(&plain);
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
        assert_eq!(
            failure_of!(&OnlyDebug),
            failure(
                ExecutionStatus::Error,
                ErrorCategory::UnknownError,
                "OnlyDebug".into()
            )
        );
        let Outcome::Failure { message, .. } = failure_of!(&Nothing) else {
            panic!("a failure")
        };
        assert!(message.ends_with("Nothing"), "{message}");
        assert_eq!(
            (&&&&&&&Classify(&Nothing)).__monitor_classify(""),
            (ExecutionStatus::Error, ErrorCategory::UnknownError)
        );
    }

    #[test]
    fn long_messages_are_cut_while_written() {
        let long = "é".repeat(MAX_ERROR_MESSAGE_BYTES);
        let message = capped_message(|out| (&&&Message(&long)).__monitor_write(out));
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
            &*capped_message(|out| (&&&Message(&Bad)).__monitor_write(out)),
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
            failure_of!(&Denied),
            failure(
                ExecutionStatus::SecurityViolation,
                ErrorCategory::SecurityError,
                "denied".into()
            )
        );
    }
}
