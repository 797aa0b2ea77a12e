//! `unsafe fn` and `extern "C" fn` with a body keep their signatures.

use std::sync::LazyLock;

use monitor_core::{ToolExecutionMonitor, monitored_tool};

static MONITOR: LazyLock<ToolExecutionMonitor> = LazyLock::new(ToolExecutionMonitor::new);

/// Reads `len` bytes at `ptr`.
///
/// # Safety
///
/// `ptr` must point at `len` readable bytes.
#[monitored_tool(monitor = MONITOR, skip(ptr))]
unsafe fn checksum(ptr: *const u8, len: usize) -> u32 {
    let bytes = unsafe { std::slice::from_raw_parts(ptr, len) };
    bytes.iter().map(|&b| u32::from(b)).sum()
}

#[monitored_tool(monitor = MONITOR)]
extern "C" fn double(x: i32) -> i32 {
    x * 2
}

fn main() {
    let data = [1u8, 2, 3];
    let f: unsafe fn(*const u8, usize) -> u32 = checksum;
    assert_eq!(unsafe { f(data.as_ptr(), data.len()) }, 6);
    let g: extern "C" fn(i32) -> i32 = double;
    assert_eq!(g(21), 42);
    assert_eq!(MONITOR.tool_stats("checksum").unwrap().total_executions, 1);
    assert_eq!(MONITOR.tool_stats("double").unwrap().total_executions, 1);
}
