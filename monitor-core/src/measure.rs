//! What generated code measures and evaluates from a call's arguments and
//! result: sizes (the `Debug` or JSON text's length), ids, metadata and the
//! target monitor. Each trait carries the compile error that tells the user
//! the fix.

use std::fmt::Debug;
use std::ops::Deref;

use crate::monitor::ToolExecutionMonitor;
use crate::size::{debug_len, json_len};

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
        debug_len(self)
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
        debug_len(self)
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
