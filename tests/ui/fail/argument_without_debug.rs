use monitor_core::monitored_tool;

struct Connection;

#[monitored_tool]
fn query(connection: &Connection, sql: &str) -> usize {
    let _ = connection;
    sql.len()
}

fn main() {}
