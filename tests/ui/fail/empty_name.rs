use monitor_core::monitored_tool;

#[monitored_tool(name = "")]
fn search(query: &str) -> usize {
    query.len()
}

fn main() {}
