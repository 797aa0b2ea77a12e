//! Every argument of the attribute, together.

use std::sync::Arc;

use monitor_core::{ToolExecutionMonitor, monitored_tool};

struct Session {
    user: String,
    id: u64,
}

#[monitored_tool(
    name = "lookup",
    skip(session),
    skip_output,
    timeout = "2m",
    user_id = session.user,
    session_id = session.id,
    metadata(kind = "search", "query-length" = query.len()),
    monitor = monitor,
    crate = ::monitor_core,
)]
async fn lookup_tool(
    monitor: Arc<ToolExecutionMonitor>,
    session: &Session,
    query: String,
) -> Result<Vec<String>, monitor_core::TimeoutError> {
    Ok(vec![query])
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let monitor = Arc::new(ToolExecutionMonitor::new());
    let session = Session {
        user: "alice".to_owned(),
        id: 7,
    };
    let found = runtime.block_on(lookup_tool(Arc::clone(&monitor), &session, "x".to_owned()));
    assert_eq!(found, Ok(vec!["x".to_owned()]));
    let record = &monitor.recent_executions(Some("lookup"), 1)[0];
    assert_eq!(record.user_id.as_deref(), Some("alice"));
    assert_eq!(record.session_id.as_deref(), Some("7"));
    assert_eq!(record.metadata["query-length"], 1);
    assert_eq!(record.output_size_bytes, 0);
}
