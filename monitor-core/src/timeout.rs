//! Deadlines of `#[monitored_tool(timeout = "…")]` (feature `tokio`): the
//! error a timed-out call returns, and how generated code returns and
//! records it.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::classify::ClassifyError;
use crate::execution::Outcome;
use crate::message::capped_message;
use crate::status::{ErrorCategory, ExecutionStatus};

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeoutError {
    tool: Cow<'static, str>,
    after: Duration,
}

impl TimeoutError {
    /// The error of `tool` after running for `after`.
    pub fn new(tool: impl Into<Cow<'static, str>>, after: Duration) -> Self {
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
    pub fn after(&self) -> Duration {
        self.after
    }
}

impl fmt::Display for TimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tool `{}` timed out after {:?}", self.tool, self.after)
    }
}

impl std::error::Error for TimeoutError {}

impl ClassifyError for TimeoutError {
    fn category(&self) -> ErrorCategory {
        ErrorCategory::TimeoutError
    }

    fn status(&self) -> ExecutionStatus {
        ExecutionStatus::Timeout
    }
}

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
    Outcome::Failure {
        status: ExecutionStatus::Timeout,
        category: ErrorCategory::TimeoutError,
        message: capped_message(|out| write!(out, "{error}")),
    }
}

/// Runs `future` under a tokio deadline of `after`; `None` if it expired.
///
/// A plain function returning a future that owns `future` once: an `async
/// fn` would hold it twice, as its argument and inside its `Timeout`.
pub fn with_deadline<F: Future>(after: Duration, future: F) -> Deadline<F> {
    Deadline {
        timeout: tokio::time::timeout(after, future),
    }
}

pin_project_lite::pin_project! {
    /// The future [`with_deadline`] returns.
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct Deadline<F> {
        #[pin]
        timeout: tokio::time::Timeout<F>,
    }
}

impl<F: Future> Future for Deadline<F> {
    type Output = Option<F::Output>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().timeout.poll(cx).map(Result::ok)
    }
}
