//! How generated code runs a tool's body: panics caught so that the guard
//! can record them, then resumed unchanged.

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::guard::CallGuard;

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
) -> Result<R, Box<dyn Any + Send>> {
    #[cfg(feature = "tracing")]
    let span = guard.lend_span();
    #[cfg(feature = "tracing")]
    let entered = span.enter();
    let result = catch_unwind(AssertUnwindSafe(|| {
        let value = body();
        // The clock stops before `catch_unwind` hands the value back
        // (BENCHMARKS.md, "Why the hot path looks as it does").
        guard.stop();
        value
    }));
    #[cfg(feature = "tracing")]
    {
        drop(entered);
        guard.return_span(span);
    }
    result
}

/// Continues the unwind of a panic caught by [`catch_unwind_call`] or
/// [`catch_unwind_future`], with its payload unchanged.
#[inline]
pub fn resume_unwind(payload: Box<dyn Any + Send>) -> ! {
    std::panic::resume_unwind(payload)
}

/// Polls `future` (the tool's body), catching a panic in any of its polls
/// so that the guard can record the panic's message; the caller resumes
/// the unwind.
///
/// It owns the body, and awaiting it pins both in the tool's own future:
/// the tool's future holds the body once and no pointer to it (a pinned
/// local lent to the catcher cost two pointers, an `async fn` taking the
/// body by value would hold it twice), so every await of the tool moves
/// less (BENCHMARKS.md, issue #18).
pub fn catch_unwind_future<F: Future>(future: F) -> CatchUnwind<F> {
    CatchUnwind { future }
}

pin_project_lite::pin_project! {
    /// The future [`catch_unwind_future`] returns: the body's output, or
    /// the payload of a panic in one of its polls.
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct CatchUnwind<F> {
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let future = self.project().future;
        match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}
