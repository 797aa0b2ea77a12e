use monitor_core::monitored_tool;

struct Rows;

#[monitored_tool]
fn query(sql: &str) -> Result<Rows, std::io::Error> {
    let _ = sql;
    Ok(Rows)
}

fn main() {}
