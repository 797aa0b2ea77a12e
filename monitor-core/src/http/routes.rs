//! One request in, one answer out.

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use super::page;
use super::query::{ErrorQuery, SeriesQuery, percent_decode_path};
use super::server::Shared;

type Reply = Response<Full<Bytes>>;

fn reply(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    page::secure(response.headers_mut());
    response
}

fn text(status: StatusCode, body: &'static str) -> Reply {
    reply(status, "text/plain; charset=utf-8", body)
}

fn json(value: &impl serde::Serialize) -> Reply {
    match serde_json::to_vec(value) {
        Ok(body) => reply(StatusCode::OK, "application/json", body),
        Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "could not encode JSON\n"),
    }
}

/// 503 with the source's error: a store that cannot be read now may be
/// readable at the next scrape.
fn unavailable(error: String) -> Reply {
    reply(
        StatusCode::SERVICE_UNAVAILABLE,
        "text/plain; charset=utf-8",
        error + "\n",
    )
}

fn json_or_unavailable<T: serde::Serialize>(value: Result<T, String>) -> Reply {
    value.map_or_else(unavailable, |value| json(&value))
}

pub(super) fn handle(shared: &Shared, request: &Request<Incoming>) -> Reply {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "only GET\n");
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let too_large = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .is_some_and(|n| n > shared.config.max_request_bytes);
    if too_large {
        return text(StatusCode::PAYLOAD_TOO_LARGE, "request too large\n");
    }
    let path = request.uri().path();
    if path == "/healthz" {
        return text(StatusCode::OK, "ok\n");
    }
    if let Some((content_type, body)) = page::asset(path) {
        return reply(StatusCode::OK, content_type, body);
    }
    if let Some(token) = &shared.config.bearer_token {
        if !authorized(request, token) {
            let mut response = text(StatusCode::UNAUTHORIZED, "missing or wrong bearer token\n");
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return response;
        }
    }
    let source = &*shared.source;
    match path {
        "/metrics" => match source.prometheus() {
            Ok(text) => reply(
                StatusCode::OK,
                "text/plain; version=0.0.4; charset=utf-8",
                text,
            ),
            Err(error) => unavailable(error),
        },
        "/stats" => json_or_unavailable(source.all_stats()),
        "/histograms" => json_or_unavailable(source.histograms()),
        "/info" => json(&source.info()),
        "/series" => match SeriesQuery::parse(request.uri().query().unwrap_or("")) {
            Ok(query) => match source.series(&query.tool) {
                Ok(Some(rows)) => json(&rows),
                Ok(None) => text(
                    StatusCode::NOT_FOUND,
                    "this source keeps no hourly series\n",
                ),
                Err(error) => unavailable(error),
            },
            Err(message) => reply(
                StatusCode::BAD_REQUEST,
                "text/plain; charset=utf-8",
                message,
            ),
        },
        "/errors" => match ErrorQuery::parse(request.uri().query().unwrap_or("")) {
            Ok(query) => json_or_unavailable(source.errors(query.tool.as_deref(), query.hours)),
            Err(message) => reply(
                StatusCode::BAD_REQUEST,
                "text/plain; charset=utf-8",
                message,
            ),
        },
        _ => match path.strip_prefix("/stats/").map(percent_decode_path) {
            Some(Some(tool)) => match source.stats(&tool) {
                Ok(Some(stats)) => json(&stats),
                Ok(None) => text(StatusCode::NOT_FOUND, "no such tool\n"),
                Err(error) => unavailable(error),
            },
            Some(None) => text(
                StatusCode::BAD_REQUEST,
                "bad percent-encoding in tool name\n",
            ),
            None => text(StatusCode::NOT_FOUND, "not found\n"),
        },
    }
}

fn authorized(request: &Request<Incoming>, token: &str) -> bool {
    let Some(given) = request.headers().get(header::AUTHORIZATION).and_then(|v| {
        let v = v.as_bytes();
        // The scheme is case-insensitive (RFC 7235), the token is not.
        (v.len() > 7 && v[..7].eq_ignore_ascii_case(b"bearer ")).then(|| &v[7..])
    }) else {
        return false;
    };
    // Compare in time independent of where the first difference is.
    given.len() == token.len()
        && given
            .iter()
            .zip(token.as_bytes())
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}
