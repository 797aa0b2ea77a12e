use monitor_core::monitored_tool;

#[monitored_tool(nmae = "search")]
fn search(query: &str) -> usize {
    query.len()
}

fn main() {}
