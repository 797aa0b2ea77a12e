//! The process-wide monitor that `#[monitored_tool]` records into by
//! default, swappable with [`set_global_monitor`] as in the reference: a
//! `static` until the first swap, then a per-thread cache checked against a
//! generation number, so a call takes no lock and bumps no shared
//! reference count.

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, PoisonError, RwLock};

use crate::clock::Reading;
use crate::monitor::ToolExecutionMonitor;

/// The global monitor once `set_global_monitor` was called; `None` means
/// the default one.
static GLOBAL: RwLock<Option<Arc<ToolExecutionMonitor>>> = RwLock::new(None);
/// Bumped by every `set_global_monitor`; never 0, which a parked guard
/// uses for "crossed a swap" (`guard.rs`).
static GENERATION: AtomicU64 = AtomicU64::new(1);
/// The global monitor until `set_global_monitor` is called: a `static`, so
/// a call reaches it with one atomic load, no thread-local and no lock.
static DEFAULT: LazyLock<Arc<ToolExecutionMonitor>> =
    LazyLock::new(|| Arc::new(ToolExecutionMonitor::new()));
/// Whether `set_global_monitor` was ever called.
static REPLACED: AtomicBool = AtomicBool::new(false);
/// Whether the global monitor reads the process's system clock (the
/// default monitor does), so a call can read its start time without
/// resolving the global monitor.
static GLOBAL_USES_SYSTEM_CLOCK: AtomicBool = AtomicBool::new(true);

thread_local! {
    /// This thread's copy of the global monitor, with its generation, so a
    /// call reads one atomic instead of taking the global lock.
    static CACHED: RefCell<Option<(u64, Arc<ToolExecutionMonitor>)>> = const { RefCell::new(None) };
}

/// The process-wide monitor that `#[monitored_tool]` records into by
/// default; created with default settings on first use.
///
/// # Examples
///
/// ```
/// let monitor = monitor_core::global_monitor();
/// assert!(std::sync::Arc::ptr_eq(&monitor, &monitor_core::global_monitor()));
/// ```
#[must_use]
pub fn global_monitor() -> Arc<ToolExecutionMonitor> {
    let global = GLOBAL.read().unwrap_or_else(PoisonError::into_inner);
    Arc::clone(global.as_ref().unwrap_or(&DEFAULT))
}

/// Replaces the global monitor; calls that finish after this returns are
/// recorded in `monitor`.
///
/// A call in flight while the monitor is replaced is recorded in the new
/// monitor, stamped with the new monitor's clock as ending now; its
/// duration is the one measured on the clock it started with when both
/// monitors read the system clock, else 0 (the two clocks do not compare).
///
/// Threads that recorded into the old monitor keep a reference to it until
/// their next call to a global tool (or until they end), so it is dropped
/// then, on such a thread.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// let mine = Arc::new(monitor_core::ToolExecutionMonitor::new());
/// monitor_core::set_global_monitor(mine.clone());
/// assert!(Arc::ptr_eq(&mine, &monitor_core::global_monitor()));
/// ```
pub fn set_global_monitor(monitor: Arc<ToolExecutionMonitor>) {
    let mut global = GLOBAL.write().unwrap_or_else(PoisonError::into_inner);
    // Relaxed: ordered by the generation's Release below.
    GLOBAL_USES_SYSTEM_CLOCK.store(monitor.uses_system_clock(), Ordering::Relaxed);
    let previous = global.replace(monitor);
    // Release: a thread that sees either then reads the new monitor under
    // the lock.
    REPLACED.store(true, Ordering::Release);
    GENERATION.fetch_add(1, Ordering::Release);
    drop(global);
    // Dropped outside the lock and after the switch: a sink whose `Drop`
    // panics can neither poison the lock nor leave threads on the old one.
    drop(previous);
}

/// Whether the global monitor reads the process's system clock, so that a
/// call can read its start time without resolving the global monitor.
#[inline]
pub(crate) fn global_uses_system_clock() -> bool {
    // Relaxed: a call racing with `set_global_monitor` may take its start
    // from the previous monitor's clock; `CallGuard` re-stamps such a call.
    GLOBAL_USES_SYSTEM_CLOCK.load(Ordering::Relaxed)
}

/// The global monitor's injected clock.
#[inline(never)]
pub(crate) fn global_now() -> Reading {
    with_global(ToolExecutionMonitor::now)
}

/// How many times the global monitor was replaced (plus one): a call that
/// sees it change between start and end was in flight across a
/// `set_global_monitor`.
#[inline]
pub(crate) fn global_generation() -> u64 {
    // Acquire: pairs with the Release in `set_global_monitor`.
    GENERATION.load(Ordering::Acquire)
}

/// Runs `f` with the global monitor, from this thread's cache when it is
/// current. The cached `Arc` is borrowed, not cloned: a clone would bump a
/// reference count that every thread shares.
#[inline]
pub(crate) fn with_global<R>(f: impl FnOnce(&ToolExecutionMonitor) -> R) -> R {
    // Acquire: pairs with the Release in `set_global_monitor`. A call racing
    // with the first replacement may still go to the default monitor.
    if !REPLACED.load(Ordering::Acquire) {
        return f(&DEFAULT);
    }
    // Acquire: pairs with the Release in `set_global_monitor`.
    let generation = GENERATION.load(Ordering::Acquire);
    let mut f = Some(f);
    let ran = CACHED.try_with(|cell| {
        let f = f.take()?;
        if let Ok(slot) = cell.try_borrow() {
            if let Some((seen, monitor)) = slot.as_ref() {
                if *seen == generation {
                    return Some(f(monitor));
                }
            }
        }
        let monitor = global_monitor();
        // Fails only when `f` re-entered us from a sink; then skip caching.
        let replaced = cell
            .try_borrow_mut()
            .ok()
            .and_then(|mut slot| slot.replace((generation, Arc::clone(&monitor))));
        // The replaced monitor may be the last reference: a sink whose `Drop`
        // panics must not reach the tool.
        let _ = catch_unwind(AssertUnwindSafe(move || drop(replaced)));
        Some(f(&monitor))
    });
    match (ran, f) {
        (Ok(Some(result)), _) => result,
        // The thread-local is gone (thread exit): no cache.
        (_, Some(f)) => f(&global_monitor()),
        (_, None) => unreachable!("the closure returns Some whenever it takes `f`"),
    }
}

/// Panics once while holding each internal lock of `monitor` and the
/// global monitor's lock, catching each panic: for tests that prove
/// monitoring recovers from poisoned locks.
#[cfg(feature = "test-hooks")]
#[allow(clippy::missing_panics_doc)] // every panic here is caught
pub fn poison_locks(monitor: &ToolExecutionMonitor) {
    monitor.poison_locks();
    let _ = catch_unwind(AssertUnwindSafe(|| {
        let _global = GLOBAL.write();
        panic!("poisoning the global monitor's lock on purpose");
    }));
}
