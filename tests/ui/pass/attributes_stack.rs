//! Other attributes and doc comments stay, in order, and keep working.

use monitor_core::{global_monitor, monitored_tool};

/// Adds.
#[inline]
#[monitored_tool]
#[must_use = "the sum is the point"]
#[cfg_attr(test, allow(dead_code))]
#[deprecated(note = "use `sum` instead")]
pub fn add(a: u32, b: u32) -> u32 {
    a + b
}

#[allow(deprecated)]
fn main() {
    assert_eq!(add(1, 2), 3);
    assert_eq!(
        global_monitor().tool_stats("add").unwrap().total_executions,
        1
    );
}
