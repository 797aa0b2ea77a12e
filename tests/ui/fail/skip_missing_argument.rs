use monitor_core::monitored_tool;

#[monitored_tool(skip(qeury))]
fn search(query: &str, limit: u32) -> usize {
    query.len() + limit as usize
}

fn main() {}
