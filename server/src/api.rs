//! The HTTP API `/api/v1` of ../shared/API.md: thin handlers over the same services and
//! policy as the console. Errors answer `{"error": {"code", "message"}}` with their status.

mod audit;
mod config;
mod directory;
mod error;
mod session;
mod transfer;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Strata",
        description = "Hierarchical, multi-tenant configuration. Authenticate with the console's \
            session cookie (`POST /api/v1/session`) or `Authorization: Bearer strata_…`. Errors \
            answer `{\"error\": {\"code\", \"message\"}}`; another tenant's objects answer 404."
    ),
    modifiers(&Security),
    security(("bearer" = []), ("session" = [])),
    tags(
        (name = "session", description = "Signing in, the caller, API tokens"),
        (name = "configuration", description = "Effective values, chains, entries, keys"),
        (name = "directory", description = "Tenants, departments, groups, users"),
        (name = "audit", description = "The audit history"),
        (name = "transfer", description = "Whole documents in and out"),
        (name = "health", description = "Liveness and readiness"),
    )
)]
struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            utoipa::openapi::security::SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("strata_…")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            utoipa::openapi::security::SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                "strata_session",
            ))),
        );
    }
}

/// The API routes (under `/api/v1`) and the health checks, with the OpenAPI document that
/// the same registrations produce: a handler cannot be routed without being documented.
pub fn routes() -> (Router<ServerState>, utoipa::openapi::OpenApi) {
    let v1 = OpenApiRouter::new()
        .routes(routes!(session::create, session::delete))
        .routes(routes!(session::me))
        .routes(routes!(session::list_tokens, session::create_token))
        .routes(routes!(session::revoke_token))
        .routes(routes!(config::effective))
        .routes(routes!(config::chain))
        .routes(routes!(config::list_entries))
        .routes(routes!(config::put_entry, config::delete_entry))
        .routes(routes!(config::keys))
        .routes(routes!(config::put_key, config::delete_key))
        .routes(routes!(directory::list_tenants, directory::create_tenant))
        .routes(routes!(
            directory::get_tenant,
            directory::update_tenant,
            directory::delete_tenant
        ))
        .routes(routes!(
            directory::list_departments,
            directory::create_department
        ))
        .routes(routes!(
            directory::update_department,
            directory::delete_department
        ))
        .routes(routes!(directory::list_groups, directory::create_group))
        .routes(routes!(directory::update_group, directory::delete_group))
        .routes(routes!(directory::list_users, directory::create_user))
        .routes(routes!(
            directory::get_user,
            directory::update_user,
            directory::delete_user
        ))
        .routes(routes!(directory::set_password))
        .routes(routes!(audit::list))
        .routes(routes!(audit::verify))
        .routes(routes!(audit::revert))
        .routes(routes!(transfer::import))
        .routes(routes!(transfer::export))
        .routes(routes!(openapi))
        .fallback(error::not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT));
    let (router, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", v1)
        .routes(routes!(crate::http::healthz))
        .routes(routes!(crate::http::readyz))
        .split_for_parts();
    (router, api)
}

/// The document is built once, at start-up, from the route registrations.
#[utoipa::path(get, path = "/openapi.json", tag = "health", security(()),
    responses((status = 200, description = "This OpenAPI 3 document", body = Object)))]
async fn openapi(axum::extract::State(state): axum::extract::State<ServerState>) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        state.openapi.clone(),
    )
        .into_response()
}
