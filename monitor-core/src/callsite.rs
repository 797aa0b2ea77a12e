//! What `#[monitored_tool]` keeps in a `static` per function, and how a
//! call starts from it.

use crate::guard::{CallGuard, ParkedGuard, WithDetails};
use crate::monitor::ToolExecutionMonitor;
use crate::registry::SiteKey;

/// A handle that `#[monitored_tool]` keeps in a `static` per function, so a
/// tool's name is looked up once per call site and monitor, not per call.
///
/// Not public API: generated code names it through
/// `monitor_core::__private`.
#[derive(Debug)]
pub struct Callsite {
    key: SiteKey,
}

impl Callsite {
    /// A call site for the tool `name`.
    #[must_use]
    pub const fn new(name: &'static str) -> Self {
        Self {
            key: SiteKey::new(name),
        }
    }

    /// Starts timing a call recorded in the global monitor.
    #[inline]
    pub fn start(&'static self) -> CallGuard<'static> {
        CallGuard::global(&self.key)
    }

    /// Starts timing a call recorded in `monitor`.
    #[inline]
    pub fn start_in<'m>(&'static self, monitor: &'m ToolExecutionMonitor) -> CallGuard<'m> {
        CallGuard::in_monitor(&self.key, monitor)
    }

    /// Starts timing an async call recorded in the global monitor: the
    /// guard its future holds while the body is pending (see
    /// [`ParkedGuard`]).
    #[inline]
    pub fn start_parked(&'static self) -> ParkedGuard<'static> {
        ParkedGuard::global(&self.key)
    }

    /// Starts timing an async call recorded in `monitor`.
    #[inline]
    pub fn start_parked_in<'m>(
        &'static self,
        monitor: &'m ToolExecutionMonitor,
    ) -> ParkedGuard<'m> {
        ParkedGuard::in_monitor(&self.key, monitor)
    }

    /// [`start_parked`](Self::start_parked) for a tool with a user id,
    /// session id or metadata.
    #[inline]
    pub fn start_parked_with_details(&'static self) -> ParkedGuard<'static, WithDetails> {
        ParkedGuard::global(&self.key)
    }

    /// [`start_parked_in`](Self::start_parked_in) for a tool with a user id,
    /// session id or metadata.
    #[inline]
    pub fn start_parked_with_details_in<'m>(
        &'static self,
        monitor: &'m ToolExecutionMonitor,
    ) -> ParkedGuard<'m, WithDetails> {
        ParkedGuard::in_monitor(&self.key, monitor)
    }
}
