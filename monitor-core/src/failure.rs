//! How `#[monitored_tool]` turns an `Err` into a failed [`Outcome`]: the
//! recorded message (`Display` > `Debug` > type name) and the
//! classification (`ClassifyError` > `io::Error` > `Error` > `Deref<dyn
//! Error …>` > anything), each chosen by type at the call site (see the
//! table in `dispatch.rs`).

use std::any::type_name;
use std::error::Error;
use std::fmt::{Debug, Display};
use std::io;
use std::ops::Deref;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::classify::{ClassifyError, classify_parts, find_io_error, io_category};
use crate::execution::Outcome;
use crate::message::{Text, capped_message};
use crate::status::{ErrorCategory, ExecutionStatus};

/// An error, to be turned into the recorded message.
#[derive(Debug)]
pub struct Message<'a, E: ?Sized>(pub &'a E);

/// The recorded message of an error.
pub trait ErrorMessage {
    /// `Display` text, else `Debug` text, else the type's name; cut to
    /// [`MAX_ERROR_MESSAGE_BYTES`](crate::MAX_ERROR_MESSAGE_BYTES) while it is written.
    fn __monitor_message(&self) -> Text;
}

impl<E: Display + ?Sized> ErrorMessage for &&Message<'_, E> {
    fn __monitor_message(&self) -> Text {
        capped_message(|out| write!(out, "{}", self.0))
    }
}

impl<E: Debug + ?Sized> ErrorMessage for &Message<'_, E> {
    fn __monitor_message(&self) -> Text {
        capped_message(|out| write!(out, "{:?}", self.0))
    }
}

impl<E: ?Sized> ErrorMessage for Message<'_, E> {
    fn __monitor_message(&self) -> Text {
        Text::from(type_name::<E>())
    }
}

/// An error, to be classified.
#[derive(Debug)]
pub struct Classify<'a, E: ?Sized>(pub &'a E);

/// The outcome of a call that returned `Err`.
pub trait ClassifyOutcome {
    /// The failure with its status and category; `message` is the error's
    /// message from [`ErrorMessage`].
    fn __monitor_classify(&self, message: Text) -> Outcome;
}

fn failure(status: ExecutionStatus, category: ErrorCategory, message: Text) -> Outcome {
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
    fn __monitor_classify(&self, message: Text) -> Outcome {
        let (status, category) = guarded(|| (self.0.status(), self.0.category()));
        failure(status, category, message)
    }
}

/// Level 5: `std::io::Error`, by kind.
impl ClassifyOutcome for &&&&&Classify<'_, io::Error> {
    fn __monitor_classify(&self, message: Text) -> Outcome {
        failure(ExecutionStatus::Error, io_category(self.0), message)
    }
}

/// Level 4: any `std::error::Error`, by type name, an `io::Error` in its
/// `source()` chain, then its message.
impl<E: Error + ?Sized> ClassifyOutcome for &&&&Classify<'_, E> {
    fn __monitor_classify(&self, message: Text) -> Outcome {
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
fn classify_dyn<E: ?Sized>(error: &(dyn Error + 'static), message: Text) -> Outcome {
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
    fn __monitor_classify(&self, message: Text) -> Outcome {
        classify_dyn::<E>(&**self.0, message)
    }
}

/// Level 2: derefs to `dyn Error + Send`.
impl<E> ClassifyOutcome for &&Classify<'_, E>
where
    E: Deref<Target = dyn Error + Send> + ?Sized,
{
    fn __monitor_classify(&self, message: Text) -> Outcome {
        classify_dyn::<E>(&**self.0, message)
    }
}

/// Level 1: derefs to `dyn Error` (`Box<dyn Error>`).
impl<E> ClassifyOutcome for &Classify<'_, E>
where
    E: Deref<Target = dyn Error> + ?Sized,
{
    fn __monitor_classify(&self, message: Text) -> Outcome {
        classify_dyn::<E>(&**self.0, message)
    }
}

/// Level 0: anything else (`Display`- or `Debug`-only errors), by type name
/// and message.
impl<E: ?Sized> ClassifyOutcome for Classify<'_, E> {
    fn __monitor_classify(&self, message: Text) -> Outcome {
        let category = classify_parts(type_name::<E>(), &message, None);
        failure(ExecutionStatus::Error, category, message)
    }
}

#[cfg(test)]
#[allow(clippy::needless_borrow)] // the extra `&`s choose the impl, as in generated code
mod tests {
    use super::*;
    use crate::dispatch::{Split, SplitResult};
    use crate::limits::MAX_ERROR_MESSAGE_BYTES;
    use std::fmt;

    fn outcome_of<T, E: Error + 'static>(value: &Result<T, E>) -> Outcome {
        match (&&Split(value)).__monitor_split() {
            Ok(_) => Outcome::Success { output_bytes: 0 },
            Err(err) => {
                (&&&&&&&Classify(err)).__monitor_classify((&&&Message(err)).__monitor_message())
            }
        }
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
