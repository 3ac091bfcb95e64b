//! The HTTP API `/api/v1` of ../shared/API.md: thin handlers over the same services and
//! policy as the console. Errors answer `{"error": {"code", "message"}}` with their status.

mod audit;
mod changes;
mod config;
mod contract;
mod directory;
mod error;
mod impact;
mod session;
mod templates;
mod transfer;
mod watch;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::ServerState;

pub use error::{ApiError, ErrorBody, internal};
pub use session::{Caller, ClientAddr};

use std::collections::HashMap;
use std::sync::Mutex;

use app::backend::resolution::{self, ContextSpec};
use app::domain::name::Slug;
use app::domain::resolve;

/// What an `/effective` answer depends on. The cache is keyed by all of it, never by a hash of
/// it: two answers share an entry only when they are the same answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EffectiveKey {
    /// The snapshot the answer comes from: its tenant and version.
    pub tenant: Option<Slug>,
    pub version: u64,
    /// In its canonical form.
    pub context: ContextSpec,
    pub reveal: bool,
    pub env: bool,
}

impl EffectiveKey {
    /// A strong ETag naming exactly this answer: a SHA-256 over the whole key. Versions mean
    /// the same content on every replica, so replicas agree on it.
    pub fn etag(&self) -> String {
        use sha2::{Digest, Sha256};
        use std::fmt::Write;
        let text = format!(
            "{}\n{}\n{}\n{}\n{}",
            self.tenant.as_ref().map_or("", |t| t.as_str()),
            self.version,
            self.context.query(),
            self.reveal,
            self.env
        );
        let digest = Sha256::digest(text.as_bytes());
        let mut tag = format!("\"v{}-", self.version);
        for byte in &digest[..16] {
            // Writing to a String cannot fail.
            let _ = write!(tag, "{byte:02x}");
        }
        tag.push('"');
        tag
    }
}

/// Whether an `If-None-Match` header names `tag` (or `*`).
pub fn etag_matches(headers: &axum::http::HeaderMap, tag: &str) -> bool {
    headers
        .get(axum::http::header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"))
}

/// Serialised effective configurations (the API's hottest answer). An entry can never be
/// stale, since its key names the snapshot version, only unused; bounded by clearing when full.
#[derive(Debug, Default)]
pub struct EffectiveCache {
    bodies: Mutex<HashMap<EffectiveKey, axum::body::Bytes>>,
}

impl EffectiveCache {
    const CAPACITY: usize = 4096;

    pub fn get(&self, key: &EffectiveKey) -> Option<axum::body::Bytes> {
        self.bodies
            .lock()
            .expect("cache poisoned")
            .get(key)
            .cloned()
    }

    pub fn put(&self, key: EffectiveKey, body: axum::body::Bytes) {
        let mut bodies = self.bodies.lock().expect("cache poisoned");
        if bodies.len() >= Self::CAPACITY {
            bodies.clear();
        }
        bodies.insert(key, body);
    }
}

/// Renderings of chains' shared layers (see [`resolution::Located::masked_json`]), which
/// every user of one department and groups shares: with them a random user's `/effective` is
/// a copy and their few own entries, not a resolution of every key. Bounded by bytes; an entry
/// is never stale (its key names the snapshot version), and unused ones are evicted.
pub struct SharedRenderings {
    cache: quick_cache::sync::Cache<
        resolution::SharedKey,
        std::sync::Arc<resolve::RenderedShared>,
        RenderingWeight,
    >,
}

#[derive(Clone)]
struct RenderingWeight;

impl quick_cache::Weighter<resolution::SharedKey, std::sync::Arc<resolve::RenderedShared>>
    for RenderingWeight
{
    fn weight(
        &self,
        _: &resolution::SharedKey,
        rendering: &std::sync::Arc<resolve::RenderedShared>,
    ) -> u64 {
        rendering.weight() as u64
    }
}

impl SharedRenderings {
    /// At most this many bytes of renderings: on the platform of DESIGN §8 (1,000 tenants of
    /// 10 department-and-groups combinations, 200 keys), every one of them.
    const BUDGET: u64 = 160 * 1024 * 1024;

    /// The rendering for `key`, made with `make` when missing.
    pub fn get_or_make(
        &self,
        key: resolution::SharedKey,
        make: &dyn Fn() -> resolve::RenderedShared,
    ) -> std::sync::Arc<resolve::RenderedShared> {
        match self
            .cache
            .get_or_insert_with(&key, || Ok::<_, std::convert::Infallible>(make().into()))
        {
            Ok(rendering) => rendering,
            Err(never) => match never {},
        }
    }
}

impl Default for SharedRenderings {
    fn default() -> Self {
        SharedRenderings {
            cache: quick_cache::sync::Cache::with_weighter(16_384, Self::BUDGET, RenderingWeight),
        }
    }
}

impl std::fmt::Debug for SharedRenderings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedRenderings")
            .field("renderings", &self.cache.len())
            .finish()
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
    // Schemas that only parameters name: utoipa registers those of bodies by itself.
    components(schemas(
        app::domain::schema::ScopeText,
        app::domain::name::Slug,
        app::domain::name::ConfigKey,
        config::EffectiveFormat,
        audit::AuditFormat,
        app::domain::approval::ChangeState,
    )),
    security(("bearer" = []), ("session" = [])),
    tags(
        (name = "session", description = "Signing in, the caller, API tokens"),
        (name = "configuration", description = "Effective values, chains, entries, keys"),
        (name = "directory", description = "Tenants, departments, groups, users"),
        (name = "changes", description = "Change requests, their review, and the approval policy"),
        (name = "templates", description = "Templates that tenants, departments and groups follow"),
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
        .routes(routes!(watch::watch))
        .routes(routes!(config::chain))
        .routes(routes!(config::list_entries))
        .routes(routes!(config::put_entry, config::delete_entry))
        .routes(routes!(config::keys))
        .routes(routes!(config::put_key, config::delete_key))
        .routes(routes!(impact::impact))
        .routes(routes!(changes::list_changes, changes::create_change))
        .routes(routes!(changes::get_change, changes::edit_change))
        .routes(routes!(changes::act_on_change))
        .routes(routes!(
            changes::get_approval_policy,
            changes::put_approval_policy
        ))
        .routes(routes!(directory::list_tenants, directory::create_tenant))
        .routes(routes!(
            directory::get_tenant,
            directory::update_tenant,
            directory::delete_tenant
        ))
        .routes(routes!(directory::tenant_status))
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
        .routes(routes!(
            templates::list_templates,
            templates::create_template
        ))
        .routes(routes!(
            templates::get_template,
            templates::replace_template,
            templates::delete_template
        ))
        .routes(routes!(templates::template_drift))
        .routes(routes!(templates::template_impact))
        .routes(routes!(audit::list))
        .routes(routes!(audit::verify))
        .routes(routes!(audit::revert))
        .routes(routes!(transfer::import))
        .routes(routes!(transfer::import_env))
        .routes(routes!(transfer::export))
        .routes(routes!(openapi))
        .fallback(error::not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT));
    let (router, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", v1)
        .routes(routes!(crate::http::healthz))
        .routes(routes!(crate::http::readyz))
        .routes(routes!(crate::http::metrics::scrape))
        .split_for_parts();
    (router, api)
}

/// The OpenAPI document of [`routes`], made exact where utoipa's attributes cannot say it.
pub fn document() -> serde_json::Value {
    let generated = serde_json::to_value(routes().1).expect("the OpenAPI document serialises");
    contract::exact(generated)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn slug(s: &str) -> Slug {
        Slug::parse("id", s).unwrap()
    }

    fn key(tenant: &str, context: ContextSpec) -> EffectiveKey {
        EffectiveKey {
            tenant: Some(slug(tenant)),
            version: 7,
            context: context.canonical(),
            reveal: false,
            env: false,
        }
    }

    #[test]
    fn answers_share_an_etag_and_a_cache_entry_only_when_they_are_one_answer() {
        let user = || ContextSpec::User(slug("pat"));
        // One user at one version, served from two tenants' snapshots (the user moved).
        let (a, b) = (key("t1", user()), key("t2", user()));
        assert_ne!(a.etag(), b.etag());
        let cache = EffectiveCache::default();
        cache.put(a.clone(), axum::body::Bytes::from_static(b"t1's answer"));
        assert_eq!(cache.get(&b), None);
        assert_eq!(cache.get(&a).as_deref(), Some(b"t1's answer".as_slice()));
        // Revealed, as .env, or at another version: other answers.
        for other in [
            EffectiveKey {
                reveal: true,
                ..a.clone()
            },
            EffectiveKey {
                env: true,
                ..a.clone()
            },
            EffectiveKey {
                version: 8,
                ..a.clone()
            },
        ] {
            assert_ne!(other.etag(), a.etag());
            assert_eq!(cache.get(&other), None);
        }
        // Groups in another order are the same context.
        let what_if = |groups: &[&str]| ContextSpec::WhatIf {
            tenant: slug("t1"),
            department: None,
            groups: groups.iter().map(|g| slug(g)).collect(),
        };
        assert_eq!(
            key("t1", what_if(&["b", "a", "a"])),
            key("t1", what_if(&["a", "b"]))
        );
        // The ETag names the version, so a client sees which snapshot answered.
        assert!(a.etag().starts_with("\"v7-"), "{}", a.etag());
    }
}
