//! `#[monitored_tool]` below rmcp's `#[tool]` cannot see the MCP name: it
//! must move above (or be given a `name`).

use monitor_core::monitored_tool;
use rmcp::{tool, tool_router};

#[derive(Clone)]
struct Server;

#[tool_router]
impl Server {
    /// Answers.
    #[tool]
    #[monitored_tool]
    async fn ping(&self) -> String {
        "pong".to_owned()
    }
}

fn main() {}
