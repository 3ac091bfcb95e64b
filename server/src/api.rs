//! The HTTP API `/api/v1` of ../shared/API.md: thin handlers over the same services and
//! policy as the console. Errors answer `{"error": {"code", "message"}}` with their status.

mod audit;
mod config;
mod error;
mod session;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;

use crate::http::ServerState;

pub use error::ApiError;

use std::collections::HashMap;
use std::sync::Mutex;

/// Serialised effective configurations keyed by their ETag, which names the snapshot version
/// and the context: an entry can never be stale, only unused. Bounded by clearing when full.
#[derive(Debug, Default)]
pub struct EffectiveCache {
    bodies: Mutex<HashMap<String, axum::body::Bytes>>,
}

impl EffectiveCache {
    const CAPACITY: usize = 4096;

    pub fn get(&self, etag: &str) -> Option<axum::body::Bytes> {
        self.bodies
            .lock()
            .expect("cache poisoned")
            .get(etag)
            .cloned()
    }

    pub fn put(&self, etag: String, body: axum::body::Bytes) {
        let mut bodies = self.bodies.lock().expect("cache poisoned");
        if bodies.len() >= Self::CAPACITY {
            bodies.clear();
        }
        bodies.insert(etag, body);
    }
}

/// Request bodies above this are refused with 413.
pub const BODY_LIMIT: usize = 1024 * 1024;

pub fn routes() -> Router<ServerState> {
    Router::new()
        .route(
            "/session",
            axum::routing::post(session::create).delete(session::delete),
        )
        .route("/me", get(session::me))
        .route(
            "/tokens",
            get(session::list_tokens).post(session::create_token),
        )
        .route("/tokens/{id}", axum::routing::delete(session::revoke_token))
        .route("/effective", get(config::effective))
        .route("/chain/{key}", get(config::chain))
        .route("/entries", get(config::list_entries))
        .route(
            "/entries/{key}",
            axum::routing::put(config::put_entry).delete(config::delete_entry),
        )
        .route("/keys", get(config::keys))
        .route("/audit", get(audit::list))
        .route("/audit/verify", get(audit::verify))
        .fallback(error::not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}
