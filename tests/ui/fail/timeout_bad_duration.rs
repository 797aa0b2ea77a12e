use monitor_core::monitored_tool;

#[monitored_tool(timeout = "5 seconds")]
async fn search(query: String) -> Result<usize, monitor_core::TimeoutError> {
    Ok(query.len())
}

fn main() {}
