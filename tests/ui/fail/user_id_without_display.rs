use monitor_core::monitored_tool;

struct User {
    id: Vec<u8>,
}

#[monitored_tool(skip(user), user_id = user.id, metadata(region = user.id.len()))]
fn search(user: &User, query: &str) -> usize {
    query.len()
}

fn main() {}
