use monitor_core::monitored_tool;

#[monitored_tool(skip_all, skip(query, self))]
fn search(query: &str) -> usize {
    query.len()
}

fn main() {}
