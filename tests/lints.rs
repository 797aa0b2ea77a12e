//! The expansion raises no lint in the user's crate, even with every rustc
//! and clippy lint group denied. Checked by `cargo clippy --all-targets`.

#![deny(warnings, clippy::all, clippy::pedantic)]

use std::fmt::Debug;
use std::sync::{Arc, LazyLock};

use monitor_core::{TimeoutError, ToolExecutionMonitor, monitored_tool};

static MONITOR: LazyLock<ToolExecutionMonitor> = LazyLock::new(ToolExecutionMonitor::new);

/// An error that a timeout converts into.
#[derive(Debug, PartialEq)]
enum ToolError {
    Timeout,
    Invalid(String),
}

impl From<TimeoutError> for ToolError {
    fn from(_: TimeoutError) -> Self {
        ToolError::Timeout
    }
}

impl std::fmt::Display for ToolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

#[monitored_tool]
fn add(a: u32, b: u32) -> u32 {
    a + b
}

#[monitored_tool(monitor = MONITOR, user_id = user, metadata(kind = "parse"))]
fn parse(user: &str, text: &str) -> Result<u32, std::num::ParseIntError> {
    let value = text.parse::<u32>()?;
    if value == 0 {
        return Ok(1);
    }
    Ok(value)
}

#[monitored_tool(skip_all, skip_output)]
fn unit(_: u8) {}

#[monitored_tool]
fn underscored(_unused: u8, _: u8) -> bool {
    true
}

#[monitored_tool]
fn pattern((a, b): (u8, u8), _: u8, mut c: u8) -> u8 {
    c += a;
    c + b
}

#[monitored_tool]
fn generic<T: Debug + Clone, const N: usize>(items: [T; N]) -> impl Iterator<Item = T> {
    items.into_iter()
}

#[monitored_tool(timeout = "1s", monitor = Arc::clone(&monitor), session_id = 7)]
async fn fetch(monitor: Arc<ToolExecutionMonitor>, url: String) -> Result<usize, ToolError> {
    if url.is_empty() {
        return Err(ToolError::Invalid(url));
    }
    tokio::task::yield_now().await;
    Ok(url.len())
}

struct Store {
    items: Vec<String>,
}

impl Store {
    #[monitored_tool]
    fn first_mut(&mut self, fallback: &str) -> &mut String {
        if self.items.is_empty() {
            self.items.push(fallback.to_owned());
        }
        &mut self.items[0]
    }

    #[monitored_tool]
    async fn count(&self) -> usize {
        self.items.len()
    }
}

#[async_trait::async_trait]
trait Tool {
    async fn call(&self, input: String) -> Result<String, ToolError>;
}

#[async_trait::async_trait]
impl Tool for Store {
    #[monitored_tool(timeout = "5s")]
    async fn call(&self, input: String) -> Result<String, ToolError> {
        Ok(format!("{input}{}", self.items.len()))
    }
}

#[tokio::test]
async fn every_shape_compiles_without_lints_and_runs() {
    assert_eq!(add(1, 2), 3);
    assert_eq!(parse("ann", "5"), Ok(5));
    unit(0);
    assert!(underscored(1, 2));
    assert_eq!(pattern((1, 2), 3, 4), 7);
    assert_eq!(generic([1, 2]).sum::<i32>(), 3);
    let monitor = Arc::new(ToolExecutionMonitor::new());
    assert_eq!(fetch(Arc::clone(&monitor), "ab".to_owned()).await, Ok(2));
    let mut store = Store { items: Vec::new() };
    store.first_mut("x").push('y');
    assert_eq!(store.count().await, 1);
    assert_eq!(store.call("n".to_owned()).await, Ok("n1".to_owned()));
    assert_eq!(monitor.tool_stats("fetch").unwrap().total_executions, 1);
}
