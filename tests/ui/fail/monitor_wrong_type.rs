use monitor_core::monitored_tool;

#[monitored_tool(monitor = "metrics")]
fn search(query: &str) -> usize {
    query.len()
}

fn main() {}
