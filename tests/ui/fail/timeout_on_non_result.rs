use monitor_core::monitored_tool;

#[monitored_tool(timeout = "5s")]
async fn search(query: String) -> usize {
    query.len()
}

fn main() {}
