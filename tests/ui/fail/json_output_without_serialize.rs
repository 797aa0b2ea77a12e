use monitor_core::monitored_tool;

// Named like rmcp's (or axum's) `Json`: the result is measured as JSON.
struct Json<T>(T);

struct Rows;

#[monitored_tool]
fn query(sql: &str) -> Result<Json<Rows>, std::io::Error> {
    let _ = sql;
    Ok(Json(Rows))
}

fn main() {}
