//! Request guards and response headers: the Content-Security-Policy with a per-response
//! nonce, refusal of cross-site state changes, and the sign-in gate of the console pages.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

use app::auth::server::{SESSION_KEY, SessionAuth};

/// The nonce inline scripts of this response carry.
#[derive(Clone, Debug)]
pub struct CspNonce(pub String);

pub async fn headers(mut request: Request, next: Next) -> Response {
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    request.extensions_mut().insert(CspNonce(nonce.clone()));
    let mut response = next.run(request).await;
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    );
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    set("content-security-policy", &policy);
    set("x-content-type-options", "nosniff");
    set("x-frame-options", "DENY");
    set("referrer-policy", "same-origin");
    response
}

/// Whether a state-changing request comes from another site (a forged form or fetch).
pub fn is_cross_site(headers: &HeaderMap) -> bool {
    if headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) == Some("cross-site") {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        // Not a browser request (CLI tools, tests): nothing to forge with.
        return false;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    origin == "null" || host.is_none() || origin_host != host
}

pub async fn reject_cross_site(request: Request, next: Next) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if !safe && is_cross_site(request.headers()) {
        let body = serde_json::json!({"error": {"code": "forbidden", "message": "cross-site requests are refused"}});
        return (StatusCode::FORBIDDEN, axum::Json(body)).into_response();
    }
    next.run(request).await
}

/// Paths anyone may fetch: sign-in, assets, server functions (which check for themselves),
/// probes and the HTTP API (which authenticates itself).
fn is_public(path: &str) -> bool {
    path == "/login"
        || path == "/healthz"
        || path == "/readyz"
        || path == "/favicon.svg"
        || ["/pkg/", "/fn/", "/api/"]
            .iter()
            .any(|p| path.starts_with(p))
}

/// Console pages need a session; without one they send the browser to the sign-in page.
pub async fn require_sign_in(session: Session, request: Request, next: Next) -> Response {
    if request.method() != Method::GET || is_public(request.uri().path()) {
        return next.run(request).await;
    }
    match session.get::<SessionAuth>(SESSION_KEY).await {
        Ok(Some(_)) => next.run(request).await,
        _ => Redirect::to("/login").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn cross_site_requests_are_recognised() {
        assert!(!is_cross_site(&headers(&[("host", "strata.test")])));
        assert!(!is_cross_site(&headers(&[
            ("host", "strata.test"),
            ("origin", "https://strata.test")
        ])));
        assert!(!is_cross_site(&headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:3000")
        ])));
        assert!(is_cross_site(&headers(&[
            ("host", "strata.test"),
            ("origin", "https://evil.test")
        ])));
        assert!(is_cross_site(&headers(&[
            ("host", "strata.test"),
            ("origin", "null")
        ])));
        assert!(is_cross_site(&headers(&[
            ("host", "strata.test"),
            ("sec-fetch-site", "cross-site")
        ])));
        assert!(!is_cross_site(&headers(&[
            ("host", "strata.test"),
            ("sec-fetch-site", "same-origin")
        ])));
    }

    #[test]
    fn only_pages_need_a_session() {
        for public in [
            "/login",
            "/pkg/strata.js",
            "/fn/login",
            "/api/v1/effective",
            "/healthz",
            "/readyz",
        ] {
            assert!(is_public(public), "{public}");
        }
        for page in ["/", "/audit", "/configuration", "/nowhere"] {
            assert!(!is_public(page), "{page}");
        }
    }
}
