//! Used by code that `#[monitored_tool]` generates. Not public API:
//! anything here may change in any release.

use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::task::Poll;

pub use crate::dispatch::{
    Classify, ClassifyOutcome, DebugArgument, DebugOutput, ErrorMessage, IdValue, Message,
    MetadataValue, MonitorTarget, NotAnError, Split, SplitResult, id_string, input_len,
    metadata_value, monitor_of, output_len, success,
};
pub use crate::dispatch::{JsonOutput, Returned, ReturnedOutcome, json_output_len};
#[cfg(feature = "tokio")]
pub use crate::dispatch::{TimeoutResult, timed_out, timeout_outcome};
pub use crate::fastlen::{Fast, FastLen, FastLenProbe};
pub use crate::guard::{CallGuard, Outcome};
pub use crate::registry::Callsite;
pub use serde_json;

/// A `fmt::Write` that counts bytes and stores nothing.
#[derive(Debug, Default)]
struct ByteCounter(u64);

impl fmt::Write for ByteCounter {
    #[inline]
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 += s.len() as u64;
        Ok(())
    }
}

/// The UTF-8 byte length of `format!("{:?}", value)`, computed without
/// allocating; `None` if the `Debug` impl panicked or returned an error.
#[inline]
pub fn debug_len<T: fmt::Debug + ?Sized>(value: &T) -> Option<u64> {
    catch_unwind(AssertUnwindSafe(|| {
        let mut counter = ByteCounter(0);
        fmt::write(&mut counter, format_args!("{value:?}")).ok()?;
        Some(counter.0)
    }))
    .ok()
    .flatten()
}

/// Runs a sync tool's body and stops `guard`'s clock, catching a panic so
/// that the guard can record its message; the caller resumes the unwind
/// with [`resume_unwind`].
///
/// The `FnOnce` bound makes the body's closure `FnOnce`, so a body that
/// returns a reference reborrowed from a captured `&mut` compiles as it does
/// in a plain function.
///
/// # Errors
///
/// The panic payload, if `body` panicked.
#[inline]
pub fn catch_unwind_call<R>(
    guard: &mut CallGuard<'_>,
    body: impl FnOnce() -> R,
) -> Result<R, Box<dyn std::any::Any + Send>> {
    catch_unwind(AssertUnwindSafe(|| {
        let value = body();
        // The clock stops before `catch_unwind` hands the value back: that
        // copy reads the value wide, just after the body wrote it narrow,
        // and the clock read in between lets those writes land first (the
        // copy stalled on them otherwise).
        guard.stop();
        value
    }))
}

/// Continues the unwind of a panic caught by [`catch_unwind_call`] or
/// [`catch_unwind_future`], with its payload unchanged.
#[inline]
pub fn resume_unwind(payload: Box<dyn std::any::Any + Send>) -> ! {
    std::panic::resume_unwind(payload)
}

/// Runs `future`, catching a panic in any of its polls so that the guard can
/// record the panic's message; the caller resumes the unwind.
///
/// # Errors
///
/// The panic payload, if a poll panicked.
pub async fn catch_unwind_future<F: Future>(
    future: F,
) -> Result<F::Output, Box<dyn std::any::Any + Send>> {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(move |cx| {
        match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(payload)),
        }
    })
    .await
}

/// Runs `future` under a tokio deadline of `after`; `None` if it expired.
#[cfg(feature = "tokio")]
pub async fn with_deadline<F: Future>(after: std::time::Duration, future: F) -> Option<F::Output> {
    tokio::time::timeout(after, future).await.ok()
}

#[cfg(feature = "tokio")]
pub use crate::guard::TimeoutError;

/// Panics once while holding each internal lock of `monitor` and the
/// global monitor's lock, catching each panic: for tests that prove
/// monitoring recovers from poisoned locks.
pub fn poison_locks(monitor: &crate::ToolExecutionMonitor) {
    monitor.poison_locks();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_len_counts_bytes_like_format() {
        let value = ("héllo", vec![1, 2, 3], Some('x'));
        assert_eq!(debug_len(&value), Some(format!("{value:?}").len() as u64));
        assert_eq!(debug_len("plain"), Some(7));
    }

    #[test]
    fn debug_len_survives_a_panicking_debug() {
        struct Bad;
        impl fmt::Debug for Bad {
            fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
                panic!("no debug for you")
            }
        }
        assert_eq!(debug_len(&Bad), None);
    }
}
