//! Tool names: the function's name with a trailing `_tool` removed and `_`
//! replaced by `-`, or `name = "…"`.

mod common;

use std::sync::LazyLock;

use common::only;
use monitor_core::{ToolExecutionMonitor, monitored_tool};

static MONITOR: LazyLock<ToolExecutionMonitor> = LazyLock::new(ToolExecutionMonitor::new);

#[monitored_tool(monitor = MONITOR)]
fn search_tool() {}

#[monitored_tool(monitor = MONITOR)]
fn get_user_info() {}

/// The reference removes `_tool` anywhere (`get-s-list`); only a trailing
/// `_tool` is removed here.
#[monitored_tool(monitor = MONITOR)]
fn get_tools_list() {}

#[monitored_tool(monitor = MONITOR)]
fn r#type() {}

#[monitored_tool(monitor = MONITOR)]
fn tool() {}

#[monitored_tool(monitor = MONITOR, name = "Custom Name/v2")]
fn renamed_tool() {}

struct Api;

impl Api {
    #[monitored_tool(monitor = MONITOR)]
    fn list_items_tool(&self) {}
}

mod nested {
    /// The attribute is also reachable through `monitor_macros`.
    #[monitor_macros::monitored_tool(monitor = super::MONITOR)]
    pub(crate) fn same_name() {}
}

#[monitored_tool(monitor = MONITOR, name = "same-name")]
fn same_name_elsewhere() {}

#[test]
fn names_are_derived_from_the_function() {
    search_tool();
    get_user_info();
    get_tools_list();
    r#type();
    tool();
    renamed_tool();
    Api.list_items_tool();
    for name in [
        "search",
        "get-user-info",
        "get-tools-list",
        "type",
        "tool",
        "Custom Name/v2",
        "list-items",
    ] {
        assert_eq!(only(&MONITOR, name).tool_name, name);
    }
    assert!(MONITOR.tool_stats("search_tool").is_none());
    assert!(MONITOR.tool_stats("renamed").is_none());
}

#[test]
fn two_functions_with_one_name_share_their_statistics() {
    nested::same_name();
    same_name_elsewhere();
    assert_eq!(MONITOR.tool_stats("same-name").unwrap().total_executions, 2);
}
