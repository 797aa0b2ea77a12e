use monitor_core::monitored_tool;

#[monitored_tool]
struct Search {
    query: String,
}

fn main() {}
