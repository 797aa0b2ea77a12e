use monitor_core::monitored_tool;

#[derive(Debug)]
enum SearchError {
    NotFound,
}

#[monitored_tool(timeout = "250ms")]
async fn search(query: String) -> Result<usize, SearchError> {
    if query.is_empty() {
        return Err(SearchError::NotFound);
    }
    Ok(query.len())
}

fn main() {}
