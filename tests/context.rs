//! Per-call context (`user_id`, `session_id`, `metadata`) and the target
//! monitor (`monitor = …`, or the global one).

mod common;

use std::sync::{Arc, LazyLock};

use common::{last, only};
use monitor_core::{ToolExecutionMonitor, global_monitor, monitored_tool, set_global_monitor};
use serde_json::json;

static MONITOR: LazyLock<ToolExecutionMonitor> = LazyLock::new(ToolExecutionMonitor::new);

#[derive(Debug)]
struct Request {
    user: String,
    session: u64,
    tags: Vec<&'static str>,
}

#[monitored_tool(
    monitor = MONITOR,
    user_id = request.user,
    session_id = request.session,
    metadata(tags = request.tags, "query-len" = query.len(), constant = 1.5)
)]
fn search(request: &Request, query: String) -> usize {
    // Context expressions only borrowed `query`: it is still ours to move.
    let owned: String = query;
    owned.len()
}

#[monitored_tool(monitor = MONITOR, user_id = format!("{user}@{domain}"))]
async fn async_search(user: String, domain: &str) -> usize {
    user.len() + domain.len()
}

struct Service {
    monitor: Arc<ToolExecutionMonitor>,
    user: String,
}

impl Service {
    #[monitored_tool(monitor = self.monitor, user_id = self.user)]
    fn handle(&self, n: u32) -> u32 {
        n + 1
    }

    #[monitored_tool(monitor = &*self.monitor)]
    async fn handle_async(&self, n: u32) -> u32 {
        n + 2
    }
}

#[monitored_tool(monitor = monitor)]
fn explicit(monitor: &ToolExecutionMonitor, n: u8) -> u8 {
    let _ = monitor;
    n
}

#[monitored_tool]
fn to_the_global_monitor(n: u8) -> u8 {
    n
}

#[test]
fn context_values_read_the_arguments_by_reference() {
    let request = Request {
        user: "ann".to_owned(),
        session: 42,
        tags: vec!["a", "b"],
    };
    assert_eq!(search(&request, "abcd".to_owned()), 4);
    let record = only(&MONITOR, "search");
    assert_eq!(record.user_id.as_deref(), Some("ann"));
    assert_eq!(record.session_id.as_deref(), Some("42"));
    assert_eq!(record.metadata["tags"], json!(["a", "b"]));
    assert_eq!(record.metadata["query-len"], json!(4));
    assert_eq!(record.metadata["constant"], json!(1.5));
}

#[tokio::test]
async fn async_context_is_evaluated_before_the_body() {
    assert_eq!(async_search("bob".to_owned(), "x.org").await, 8);
    assert_eq!(
        only(&MONITOR, "async-search").user_id.as_deref(),
        Some("bob@x.org")
    );
}

#[tokio::test]
async fn monitors_from_fields_arcs_and_references() {
    let service = Service {
        monitor: Arc::new(ToolExecutionMonitor::new()),
        user: "svc".to_owned(),
    };
    assert_eq!(service.handle(1), 2);
    assert_eq!(service.handle_async(1).await, 3);
    assert_eq!(
        only(&service.monitor, "handle").user_id.as_deref(),
        Some("svc")
    );
    assert_eq!(only(&service.monitor, "handle-async").output_size_bytes, 1);
    assert!(MONITOR.tool_stats("handle").is_none());

    let own = ToolExecutionMonitor::new();
    assert_eq!(explicit(&own, 9), 9);
    let record = only(&own, "explicit");
    assert_eq!(record.input_size_bytes, common::debug_len(&own) + 1);
}

#[test]
fn the_default_is_the_global_monitor_as_set_at_call_time() {
    assert_eq!(to_the_global_monitor(1), 1);
    assert_eq!(
        last(&global_monitor(), "to-the-global-monitor").output_size_bytes,
        1
    );

    let replacement = Arc::new(ToolExecutionMonitor::new());
    set_global_monitor(Arc::clone(&replacement));
    assert_eq!(to_the_global_monitor(2), 2);
    assert_eq!(
        only(&replacement, "to-the-global-monitor").output_size_bytes,
        1
    );
}
