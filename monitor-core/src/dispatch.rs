//! How `#[monitored_tool]` turns a call's result into an [`Outcome`], chosen
//! by type at the call site (autoref specialization), not by spelling. The
//! error ladders (`Message`, `Classify`) are in `failure.rs`.
//!
//! Generated code calls a method on a value behind several `&`s; method
//! lookup tries the receiver with the most `&`s first, so the impl on the
//! type with the most `&`s whose bounds hold wins, and the unbounded impl on
//! the bare wrapper is the fallback:
//!
//! ```text
//! (&&Split(&value)).__monitor_split()          // Result<T, E> > any other value
//! (&&&Message(err)).__monitor_write(out)       // Display > Debug > type name
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

use std::fmt::{self, Display};

use crate::execution::Outcome;
use crate::guard::CallGuard;

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

#[cfg(test)]
#[allow(clippy::needless_borrow)] // the extra `&`s choose the impl, as in generated code
mod tests {
    use super::*;
    use crate::measure::output_len;
    use std::fmt::Debug;
    use std::io;

    fn split_ok<R: Debug>(value: &R) -> Option<u64> {
        match (&&Split(value)).__monitor_split() {
            Ok(ok) => output_len(ok),
            Err(_) => None,
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
}
