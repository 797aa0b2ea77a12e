use monitor_core::monitored_tool;

struct Opaque;

#[monitored_tool]
fn search(query: &str) -> Opaque {
    let _ = query;
    Opaque
}

fn main() {}
