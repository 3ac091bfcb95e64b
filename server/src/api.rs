//! The HTTP API `/api/v1` of ../shared/API.md: thin handlers over the same services and
//! policy as the console. Errors answer `{"error": {"code", "message"}}` with their status.

mod config;
mod error;
mod session;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;

use crate::http::ServerState;

pub use error::ApiError;

/// Request bodies above this are refused with 413.
pub const BODY_LIMIT: usize = 1024 * 1024;

pub fn routes() -> Router<ServerState> {
    Router::new()
        .route(
            "/session",
            axum::routing::post(session::create).delete(session::delete),
        )
        .route("/me", get(session::me))
        .route("/effective", get(config::effective))
        .route("/chain/{key}", get(config::chain))
        .route("/entries", get(config::list_entries))
        .route(
            "/entries/{key}",
            axum::routing::put(config::put_entry).delete(config::delete_entry),
        )
        .route("/keys", get(config::keys))
        .fallback(error::not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}
