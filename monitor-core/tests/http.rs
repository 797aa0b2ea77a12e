//! The HTTP endpoint over real loopback sockets: routes, errors, auth,
//! bounds and graceful shutdown.
#![allow(clippy::unwrap_used)] // tests: a panic is a failure

use std::net::SocketAddr;
use std::sync::Arc;

use monitor_core::{
    ErrorCategory, ExecutionStatus, HttpConfig, MetricsServer, ToolExecutionMonitor,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends raw bytes, returns (status code, body).
async fn raw(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // A refused or reset connection reads as no answer (status 0).
    let _ = stream.write_all(request).await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Whether `/healthz` answers `status` (0: the connection is closed without
/// an answer) within about five seconds of asking every 10 ms: bounded, not
/// a timing test, as the server takes a moment to accept or to close.
async fn answers_with(addr: SocketAddr, status: u16) -> bool {
    for _ in 0..500 {
        if get(addr, "/healthz", "").await.0 == status {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    false
}

async fn get(addr: SocketAddr, path: &str, extra: &str) -> (u16, String) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{extra}\r\n");
    raw(addr, request.as_bytes()).await
}

fn monitor() -> Arc<ToolExecutionMonitor> {
    let monitor = Arc::new(ToolExecutionMonitor::new());
    monitor.create_execution_context("search").finish_success();
    monitor
        .create_execution_context("get user")
        .finish_classified(
            ExecutionStatus::Error,
            ErrorCategory::UserInput,
            "no such user",
        );
    monitor
}

async fn serve(config: HttpConfig) -> MetricsServer {
    let config = config.addr("127.0.0.1:0".parse().unwrap());
    MetricsServer::bind(monitor(), config).await.unwrap()
}

#[tokio::test]
async fn routes_answer_with_the_monitor_contents() {
    let server = serve(HttpConfig::default()).await;
    let addr = server.local_addr();
    assert!(addr.ip().is_loopback());

    let (status, body) = get(addr, "/metrics", "").await;
    assert_eq!(status, 200);
    assert!(body.contains("tool_executions_total{tool=\"search\",status=\"success\"} 1"));

    let (status, body) = get(addr, "/stats", "").await;
    assert_eq!(status, 200);
    let all: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(all["search"]["total_executions"], 1);
    assert_eq!(all["get user"]["failed_executions"], 1);

    let (status, body) = get(addr, "/stats/get%20user", "").await;
    assert_eq!(status, 200);
    let one: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(one["tool_name"], "get user");

    assert_eq!(get(addr, "/stats/nope", "").await.0, 404);
    assert_eq!(get(addr, "/nope", "").await.0, 404);
    assert_eq!(get(addr, "/stats/%zz", "").await.0, 400);

    let (status, body) = get(addr, "/errors?hours=1", "").await;
    assert_eq!(status, 200);
    let errors: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(errors.as_array().unwrap().len(), 1);
    assert_eq!(errors[0]["error_message"], "no such user");
    let (_, body) = get(addr, "/errors?hours=1&tool=search", "").await;
    assert_eq!(body, "[]");
    assert_eq!(get(addr, "/errors?hours=soon", "").await.0, 400);
    assert_eq!(get(addr, "/errors?hours=4294967296", "").await.0, 400);

    assert_eq!(get(addr, "/healthz", "").await, (200, "ok\n".to_owned()));
    server.shutdown().await;
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no longer listening"
    );
}

#[tokio::test]
async fn bad_requests_get_4xx_and_the_server_lives_on() {
    let server = serve(HttpConfig::default()).await;
    let addr = server.local_addr();
    let (status, _) = raw(
        addr,
        b"POST /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
    )
    .await;
    assert_eq!(status, 405);
    let (status, _) = get(addr, "/metrics", "Content-Length: 999999999\r\n").await;
    assert_eq!(status, 413);
    let (status, _) = raw(addr, b"this is not http\r\n\r\n").await;
    assert_eq!(status, 400);
    let huge = format!(
        "GET /metrics HTTP/1.1\r\nX-Big: {}\r\n\r\n",
        "a".repeat(200_000)
    );
    let (status, _) = raw(addr, huge.as_bytes()).await;
    assert!(status == 431 || status == 400 || status == 0, "{status}");
    assert_eq!(get(addr, "/healthz", "").await.0, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn connections_beyond_the_limit_are_closed_at_once() {
    let server = serve(HttpConfig::default().max_connections(2)).await;
    let addr = server.local_addr();
    // Two clients that connect and say nothing hold both permits.
    let idle = [
        TcpStream::connect(addr).await.unwrap(),
        TcpStream::connect(addr).await.unwrap(),
    ];
    assert!(
        answers_with(addr, 0).await,
        "a third connection is closed without an answer"
    );
    drop(idle);
    assert!(
        answers_with(addr, 200).await,
        "permits come back when clients leave"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_that_stops_reading_gives_its_connection_back() {
    let lifetime = std::time::Duration::from_millis(300);
    let config = HttpConfig::default()
        .max_connections(1)
        .connection_lifetime(lifetime);
    let server = serve(config).await;
    let addr = server.local_addr();
    // A keep-alive client that sends a request and never reads.
    let mut stuck = TcpStream::connect(addr).await.unwrap();
    stuck
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    // It holds the only permit.
    assert!(
        answers_with(addr, 0).await,
        "the stuck client holds the only connection"
    );
    // Past its lifetime the server closes it, and serves others again.
    let mut response = Vec::new();
    // (Well within hyper's 10 s header timeout, which would close it too.)
    let closed = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stuck.read_to_end(&mut response),
    )
    .await;
    assert!(closed.is_ok(), "the server closed the stuck connection");
    assert!(answers_with(addr, 200).await, "the permit came back");
    server.shutdown().await;
}

#[tokio::test]
async fn a_dropped_handle_leaves_the_server_running() {
    let addr = serve(HttpConfig::default()).await.local_addr();
    assert_eq!(get(addr, "/healthz", "").await.0, 200);
}

#[tokio::test]
async fn a_bearer_token_guards_all_but_health() {
    let server = serve(HttpConfig::default().bearer_token("s3cret")).await;
    let addr = server.local_addr();
    assert_eq!(get(addr, "/metrics", "").await.0, 401);
    assert_eq!(
        get(addr, "/stats", "Authorization: Bearer wrong!\r\n")
            .await
            .0,
        401
    );
    assert_eq!(
        get(addr, "/stats", "Authorization: Bearer s3cret\r\n")
            .await
            .0,
        200
    );
    assert_eq!(get(addr, "/healthz", "").await.0, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn a_plus_in_the_path_is_a_plus() {
    let monitor = Arc::new(ToolExecutionMonitor::new());
    monitor.create_execution_context("c++").finish_success();
    monitor.create_execution_context("c  ").finish_success();
    let config = HttpConfig::default().addr("127.0.0.1:0".parse().unwrap());
    let server = MetricsServer::bind(monitor, config).await.unwrap();
    let addr = server.local_addr();
    for path in ["/stats/c++", "/stats/c%2B%2B", "/stats/c%2b+"] {
        let (status, body) = get(addr, path, "").await;
        assert_eq!(status, 200, "{path}");
        let one: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(one["tool_name"], "c++", "{path}");
    }
    // In the query, `+` is a space (form encoding), as browsers send it.
    let (status, _) = get(addr, "/errors?tool=c++", "").await;
    assert_eq!(status, 200);
    server.shutdown().await;
}

/// 150 pipelined requests, then the client shuts its write side down: every
/// request it sent in full is answered before the server closes.
#[tokio::test]
async fn pipelined_requests_are_all_answered_after_a_half_close() {
    let server = serve(HttpConfig::default()).await;
    let addr = server.local_addr();
    for round in 0..20 {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut read, mut write) = stream.into_split();
        // Written one by one while the answers are read, as a pipelining
        // client does; the last one is followed by the half-close at once.
        let writer = tokio::spawn(async move {
            for _ in 0..150 {
                let request = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
                write.write_all(request).await.unwrap();
            }
            write.shutdown().await.unwrap();
        });
        let mut response = Vec::new();
        read.read_to_end(&mut response).await.unwrap();
        writer.await.unwrap();
        let response = String::from_utf8(response).unwrap();
        assert_eq!(
            response.matches("HTTP/1.1 200 OK").count(),
            150,
            "round {round}"
        );
    }
    server.shutdown().await;
}

/// The whole answer to a GET: head and body.
async fn whole(addr: SocketAddr, path: &str, extra: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{extra}\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    String::from_utf8(response).unwrap()
}

#[tokio::test]
async fn the_dashboard_is_served_whole_and_safely() {
    let server = serve(HttpConfig::default().bearer_token("s3cret")).await;
    let addr = server.local_addr();
    let auth = "Authorization: Bearer s3cret\r\n";
    let mut total = 0;
    for (path, kind) in [
        ("/", "text/html"),
        ("/dashboard.js", "text/javascript"),
        ("/dashboard.css", "text/css"),
    ] {
        // The page and its assets hold no data: no token needed.
        let response = whole(addr, path, "").await.to_ascii_lowercase();
        assert!(response.starts_with("http/1.1 200"), "{path}: {response}");
        assert!(
            response.contains(&format!("content-type: {kind}")),
            "{path}"
        );
        total += response.len();
    }
    assert!(total < 150 * 1024, "page and assets: {total} bytes");
    let page = whole(addr, "/", "").await;
    assert!(
        !page.contains("<script>") && !page.contains(" style="),
        "no inline script or style"
    );

    for path in ["/", "/stats", "/metrics", "/nope"] {
        let response = whole(addr, path, auth).await.to_ascii_lowercase();
        assert!(
            response.contains("content-security-policy: default-src 'none'; script-src 'self';"),
            "{path}: {response}"
        );
        assert!(
            response.contains("x-content-type-options: nosniff"),
            "{path}"
        );
        assert!(response.contains("cache-control: no-store"), "{path}");
    }
    // The data needs the token.
    for path in [
        "/stats",
        "/histograms",
        "/info",
        "/errors",
        "/series?tool=search",
    ] {
        assert_eq!(get(addr, path, "").await.0, 401, "{path}");
    }

    let (status, body) = get(addr, "/histograms", auth).await;
    assert_eq!(status, 200);
    let histograms: serde_json::Value = serde_json::from_str(&body).unwrap();
    let search = &histograms["search"];
    assert_eq!(search["buckets"].as_array().unwrap().len(), 10);
    assert_eq!(search["buckets"][0]["label"], "<= 1ms");
    let counted: u64 = search["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_u64().unwrap())
        .sum();
    assert_eq!(counted, 1);
    assert!(search["p50_ms"].as_f64().unwrap() >= 0.0);
    let (_, body) = get(addr, "/info", auth).await;
    let info: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (info["source"].as_str(), info["tools"].as_u64()),
        (Some("live"), Some(2))
    );
    // A live monitor keeps no hourly series; a bad query is 400.
    assert_eq!(get(addr, "/series?tool=search", auth).await.0, 404);
    assert_eq!(get(addr, "/series", auth).await.0, 400);
    server.shutdown().await;
}
