//! `crate = path` reaches `monitor_core` through a re-export.

mod telemetry {
    pub use monitor_core as core_api;
}

#[monitor_core::monitored_tool(crate = crate::telemetry::core_api, timeout = "1s", user_id = n)]
async fn fetch(n: u32) -> Result<u32, monitor_core::TimeoutError> {
    Ok(n + 1)
}

#[monitor_core::monitored_tool(crate = telemetry::core_api, skip_all)]
fn ping(_: u8) -> &'static str {
    "pong"
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(fetch(1)), Ok(2));
    assert_eq!(ping(0), "pong");
    let monitor = telemetry::core_api::global_monitor();
    assert_eq!(
        monitor.recent_executions(Some("fetch"), 1)[0]
            .user_id
            .as_deref(),
        Some("1")
    );
    assert_eq!(monitor.tool_stats("ping").unwrap().total_executions, 1);
}
