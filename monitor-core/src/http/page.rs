//! The dashboard page and its two assets, embedded in the binary, and the
//! headers every answer carries.

use hyper::HeaderMap;
use hyper::header::{self, HeaderValue};

/// `GET /`: the page. It holds no data (its script fetches the JSON
/// endpoints, with the bearer token when one is set), so it is served
/// without the token.
pub(super) const HTML: &str = include_str!("../../assets/dashboard.html");
/// `GET /dashboard.js`.
pub(super) const JS: &str = include_str!("../../assets/dashboard.js");
/// `GET /dashboard.css`.
pub(super) const CSS: &str = include_str!("../../assets/dashboard.css");

/// The page's assets by path, with their content types.
pub(super) fn asset(path: &str) -> Option<(&'static str, &'static str)> {
    match path {
        "/" | "/index.html" => Some(("text/html; charset=utf-8", HTML)),
        "/dashboard.js" => Some(("text/javascript; charset=utf-8", JS)),
        "/dashboard.css" => Some(("text/css; charset=utf-8", CSS)),
        _ => None,
    }
}

/// Scripts and styles from this server only, no inline script or style
/// element, no plugins, frames, forms or foreign connections.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The headers of every answer: the policy above, no MIME sniffing, no
/// caching (stats change; a token-guarded answer must not linger), no
/// referrer.
pub(super) fn secure(headers: &mut HeaderMap) {
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CACHE_CONTROL, "no-store"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
}
