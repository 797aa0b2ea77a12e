#[monitored_tool(timeout = "5s", user_id = request.user, metadata(region = "eu"))]
async fn fetch(request: &Request, url: String) -> Result<String, FetchError> {
    let body = download(&url).await?;
    Ok(body)
}
