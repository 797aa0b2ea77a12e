//! The expansion names only crate-rooted paths and hidden locals: a crate
//! with its own `core` module, its own `Result`, `Option` and `Some`, and a
//! `#![no_implicit_prelude]` module still compile and behave; user locals
//! that look like the generated ones do not collide with them.

use std::sync::LazyLock;

use monitor_core::{ExecutionStatus, ToolExecutionMonitor, monitored_tool};

/// Shadows the `core` crate for relative paths.
#[allow(dead_code)] // only has to exist
mod core {
    pub(crate) mod result {}
}

/// A `Result` that is not `std::result::Result`.
pub(crate) type Result<T> = std::result::Result<T, String>;

static MONITOR: LazyLock<ToolExecutionMonitor> = LazyLock::new(ToolExecutionMonitor::new);

mod shadows {
    use super::MONITOR;
    use monitor_core::monitored_tool;

    /// Not the prelude's `Option`.
    #[derive(Debug, PartialEq)]
    pub(crate) enum Option<T> {
        Some(T),
        Nothing,
    }
    pub(crate) use self::Option::{Nothing, Some};

    /// Not the prelude's `Ok`/`Err` either.
    #[allow(dead_code)] // only has to exist
    pub(crate) struct Ok;

    #[monitored_tool(monitor = MONITOR)]
    pub(crate) fn maybe(n: u8) -> Option<u8> {
        if n > 0 { Some(n) } else { Nothing }
    }

    #[monitored_tool(monitor = MONITOR)]
    pub(crate) fn checked(n: u8) -> super::Result<u8> {
        if n > 0 {
            ::std::result::Result::Ok(n)
        } else {
            ::std::result::Result::Err("zero".into())
        }
    }
}

#[monitored_tool(monitor = MONITOR)]
#[allow(non_snake_case)] // `__MONITOR_SITE` mimics the generated static's name
fn collide(__monitor_guard: u8, __monitor_input_0: u8) -> Result<u8> {
    let __monitor_value = __monitor_guard + __monitor_input_0;
    let __monitor_result: Result<u8> = Ok(__monitor_value);
    let __MONITOR_SITE = 1;
    __monitor_result.map(|v| v + __MONITOR_SITE)
}

#[monitored_tool(monitor = MONITOR)]
async fn collide_async(__monitor_guard: u8) -> Result<u8> {
    let __monitor_ok = __monitor_guard;
    Ok(__monitor_ok)
}

mod bare {
    #![no_implicit_prelude]

    #[::monitor_core::monitored_tool(monitor = super::MONITOR)]
    pub(crate) fn double(x: u32) -> u32 {
        x * 2
    }

    #[::monitor_core::monitored_tool(monitor = super::MONITOR, timeout = "1s", user_id = x)]
    pub(crate) async fn halve(x: u32) -> ::std::result::Result<u32, ::monitor_core::TimeoutError> {
        ::std::result::Result::Ok(x / 2)
    }
}

#[test]
fn shadowed_prelude_names_do_not_matter() {
    assert_eq!(shadows::maybe(3), shadows::Some(3));
    assert_eq!(shadows::maybe(0), shadows::Nothing);
    assert_eq!(shadows::checked(0), Err("zero".to_owned()));
    let record = MONITOR.recent_executions(Some("checked"), 1).remove(0);
    assert_eq!(record.status, ExecutionStatus::Error);
    assert_eq!(record.error_message.as_deref(), Some("zero"));
    assert_eq!(MONITOR.tool_stats("maybe").unwrap().total_executions, 2);
}

#[tokio::test]
async fn user_names_like_the_generated_ones_do_not_collide() {
    assert_eq!(collide(1, 2), Ok(4));
    assert_eq!(collide_async(5).await, Ok(5));
    let record = MONITOR.recent_executions(Some("collide"), 1).remove(0);
    assert_eq!(record.input_size_bytes, 2);
}

#[tokio::test]
async fn no_implicit_prelude_modules_work() {
    assert_eq!(bare::double(4), 8);
    assert_eq!(bare::halve(4).await, Ok(2));
    let record = MONITOR.recent_executions(Some("halve"), 1).remove(0);
    assert_eq!(record.user_id.as_deref(), Some("4"));
}

#[test]
fn the_attribute_itself_can_be_renamed_on_import() {
    use monitor_core::monitored_tool as instrument;

    #[instrument(monitor = MONITOR, name = "renamed-import")]
    fn f() -> u8 {
        1
    }
    assert_eq!(f(), 1);
    assert!(MONITOR.tool_stats("renamed-import").is_some());
    let _ = monitored_tool_is_in_scope;
}

/// Keeps the `monitored_tool` import used at the crate root.
#[monitored_tool(monitor = MONITOR)]
fn monitored_tool_is_in_scope() {}
