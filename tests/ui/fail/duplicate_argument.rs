use monitor_core::monitored_tool;

#[monitored_tool(name = "a", skip_output, name = "b")]
fn search(query: &str) -> usize {
    query.len()
}

fn main() {}
