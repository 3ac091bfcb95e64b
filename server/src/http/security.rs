//! Request guards and response headers: the Content-Security-Policy with a per-response
//! nonce, refusal of cross-site state changes, and the sign-in gate of the console pages.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use ipnet::IpNet;
use tower_sessions::Session;

use app::auth::server::{SESSION_KEY, SessionAuth};
use app::backend::audit::ClientAddress;

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

/// The client of a request from `peer`: the peer itself, or when the peer is a trusted proxy
/// the nearest address in `X-Forwarded-For` that is not a trusted proxy too. Each trusted
/// proxy appends the address it was reached from, so the walk from the right only ever reads
/// hops written by trusted proxies; it stops at the first untrusted one (what is further left
/// was written by the client and proves nothing), and at anything unreadable it keeps the
/// last hop it could read. `STRATA_TRUSTED_PROXIES` must list proxies, not client networks:
/// a client inside a trusted range could otherwise extend the walk with hops of its own.
pub fn client_of(peer: IpAddr, forwarded: &[&str], trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let mut client = peer.to_canonical();
    if !is_trusted(&client) {
        return client;
    }
    // Several header lines are one list, in order (RFC 9110 §5.3).
    let hops: Vec<&str> = forwarded.iter().flat_map(|line| line.split(',')).collect();
    for hop in hops.into_iter().rev() {
        let Ok(ip) = hop.trim().parse::<IpAddr>() else {
            break;
        };
        client = ip.to_canonical();
        if !is_trusted(&client) {
            break;
        }
    }
    client
}

/// Puts the request's [`ClientAddress`] into its extensions, for the audit and the throttle.
pub async fn client_address(
    State(trusted): State<Arc<Vec<IpNet>>>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    if let Some(peer) = peer {
        let forwarded: Vec<&str> = request
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let client = client_of(peer, &forwarded, &trusted);
        request.extensions_mut().insert(ClientAddress(client));
    }
    next.run(request).await
}

/// Whether a request comes straight from this machine: a loopback peer that forwards for
/// nobody (behind a reverse proxy on this machine, every request would look local otherwise).
pub fn from_this_machine(parts: &axum::http::request::Parts) -> bool {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_canonical());
    peer.is_some_and(|ip| ip.is_loopback())
        && ["x-forwarded-for", "forwarded", "x-real-ip"]
            .iter()
            .all(|h| !parts.headers.contains_key(*h))
}

/// Whether the request asks for secrets in clear (`reveal=true`, decoded as the handlers
/// decode it, so no spelling of the flag slips past).
fn reveals(request: &Request) -> bool {
    request.uri().query().is_some_and(|q| {
        serde_urlencoded::from_str::<Vec<(String, String)>>(q)
            .is_ok_and(|pairs| pairs.iter().any(|(k, v)| k == "reveal" && v == "true"))
    })
}

/// Answers that may hold a revealed secret beside what the request put there go out
/// uncompressed, as do answers to requests another site started (a top-level navigation
/// carries the session cookie even with SameSite=Lax): otherwise the compressed size would
/// tell an eavesdropper whether a guess matches the secret (BREACH). Runs before the
/// compression layer, which then sees no `Accept-Encoding`.
pub async fn compress_safely(mut request: Request, next: Next) -> Response {
    let from_elsewhere = request
        .headers()
        .get("sec-fetch-site")
        .is_some_and(|site| site != "same-origin" && site != "none");
    if from_elsewhere || reveals(&request) {
        request.headers_mut().remove(header::ACCEPT_ENCODING);
    }
    next.run(request).await
}

/// `Cache-Control` for answers that set none. What may carry a revealed secret (any request
/// with `reveal=true`, the API, server functions) is never stored; console pages are stored
/// only privately and revalidated; the bundle is kept for good when its name carries its hash.
pub async fn cache_control(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let reveals = reveals(&request);
    let mut response = next.run(request).await;
    if path.starts_with("/pkg/") {
        // A file named by its content never changes; anything else is checked each time.
        // A 304 renews what the browser holds: it keeps saying immutable.
        let found = response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED;
        let value = if super::assets::immutable(&path) && found {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
        return response;
    }
    let headers = response.headers_mut();
    if reveals {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    } else if !headers.contains_key(header::CACHE_CONTROL) {
        let value = if ["/api/", "/fn/", "/ofrep/"]
            .iter()
            .any(|p| path.starts_with(p))
        {
            "no-store"
        } else {
            "private, no-cache"
        };
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    }
    response
}

/// Server functions are public endpoints like the API's: their bodies have the same limit,
/// and a larger one is refused with 413 before any of it is decoded (Leptos would answer 500).
pub async fn limit_server_fn_bodies(request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/fn/") {
        return next.run(request).await;
    }
    let limit = crate::api::BODY_LIMIT;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return body_too_large(limit);
    }
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        Err(err) => {
            let too_large = std::error::Error::source(&err)
                .is_some_and(|e| e.is::<http_body_util::LengthLimitError>());
            if too_large {
                return body_too_large(limit);
            }
            return (
                StatusCode::BAD_REQUEST,
                "the request body could not be read",
            )
                .into_response();
        }
    };
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

/// 413 in the server functions' own error encoding, so the console shows the message.
fn body_too_large(limit: usize) -> Response {
    let error = app::error::WireError::PayloadTooLarge(format!(
        "the request body is larger than {limit} bytes"
    ));
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string(&error).unwrap_or_default(),
    )
        .into_response()
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
/// probes and the HTTP APIs (which authenticate themselves).
fn is_public(path: &str) -> bool {
    path == "/login"
        || path == "/healthz"
        || path == "/readyz"
        || path == "/metrics"
        || path == "/favicon.svg"
        || ["/pkg/", "/fn/", "/api/", "/ofrep/"]
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
    fn the_client_is_the_peer_unless_a_trusted_proxy_forwarded_it() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
        let client =
            |peer: &str, lines: &[&str], trusted: &[IpNet]| client_of(ip(peer), lines, trusted);
        // An untrusted peer's header proves nothing.
        assert_eq!(
            client("203.0.113.9", &["1.2.3.4"], &trusted),
            ip("203.0.113.9")
        );
        // A trusted proxy's: the nearest untrusted hop, not whatever the client wrote first.
        assert_eq!(
            client("10.0.0.2", &["6.6.6.6, 198.51.100.7, 10.0.0.3"], &trusted),
            ip("198.51.100.7")
        );
        assert_eq!(client("::1", &["2001:db8::5"], &trusted), ip("2001:db8::5"));
        // A header line the client wrote comes first; the proxy's own is the last.
        assert_eq!(
            client("10.0.0.2", &["127.0.0.1", "198.51.100.7"], &trusted),
            ip("198.51.100.7")
        );
        // Without the header, or with garbage next to the proxy, the proxy is all we know.
        assert_eq!(client("10.0.0.2", &[], &trusted), ip("10.0.0.2"));
        assert_eq!(
            client("10.0.0.2", &["1.2.3.4, nonsense"], &trusted),
            ip("10.0.0.2")
        );
        // No trusted proxies: the header is ignored.
        assert_eq!(client("10.0.0.2", &["1.2.3.4"], &[]), ip("10.0.0.2"));
        // An IPv4 peer reached over IPv6 is the IPv4 address.
        assert_eq!(
            client("::ffff:203.0.113.9", &[], &trusted),
            ip("203.0.113.9")
        );
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
            "/metrics",
        ] {
            assert!(is_public(public), "{public}");
        }
        for page in ["/", "/audit", "/configuration", "/nowhere"] {
            assert!(!is_public(page), "{page}");
        }
    }
}
