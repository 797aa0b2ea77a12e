use monitor_core::monitored_tool;

struct Region;

#[monitored_tool(metadata(region = Region))]
fn search(query: &str) -> usize {
    query.len()
}

fn main() {}
