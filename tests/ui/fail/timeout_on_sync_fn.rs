use monitor_core::monitored_tool;

#[monitored_tool(timeout = "5s")]
fn search(query: &str) -> Result<usize, monitor_core::TimeoutError> {
    Ok(query.len())
}

fn main() {}
