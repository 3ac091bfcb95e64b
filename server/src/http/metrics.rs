//! `GET /metrics` in the Prometheus (OpenMetrics) text format: requests by route, method and
//! status with latency histograms, the snapshots' revision and age, how far this replica may
//! be behind the database, and the connection pool. Served to local clients and to super
//! admins' API tokens, never to anyone else.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

use app::backend::db;
use app::domain::policy::{Action, Decision, decide};
use app::error::WireError;

use super::ServerState;
use crate::api::{ApiError, Caller};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    /// The route as registered (`/api/v1/tenants/{t}`), never the path itself: a label per
    /// distinct path would grow without bound.
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;

/// The registry and the families the request layer and the scrape fill in.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    revision: Gauge,
    snapshot_age: FloatGauge,
    full_loads: Gauge,
    behind: FloatGauge,
    pool_open: Gauge,
    pool_idle: Gauge,
    pool_max: Gauge,
    watch_streams: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("strata");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route, method and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            // 1 ms to about 16 s.
            Histogram::new(exponential_buckets(0.001, 2.0, 15))
        });
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by route and method",
            latency.clone(),
        );
        let revision = Gauge::default();
        registry.register(
            "snapshot_revision",
            "The revision (change feed) the in-memory snapshots have caught up with",
            revision.clone(),
        );
        let snapshot_age = FloatGauge::default();
        registry.register(
            "snapshot_age_seconds",
            "Seconds since the snapshots were last loaded",
            snapshot_age.clone(),
        );
        let full_loads = Gauge::default();
        registry.register(
            "snapshot_full_loads",
            "Times every snapshot was loaded from the database (start-up and recovery; changes are applied in place)",
            full_loads.clone(),
        );
        let behind = FloatGauge::default();
        registry.register(
            "replica_lag_seconds",
            "Seconds since the snapshots were last known to match the database: how far behind this replica may be",
            behind.clone(),
        );
        let pool_open = Gauge::default();
        registry.register(
            "db_pool_connections",
            "Open database connections, idle or in use",
            pool_open.clone(),
        );
        let pool_idle = Gauge::default();
        registry.register(
            "db_pool_idle_connections",
            "Idle database connections",
            pool_idle.clone(),
        );
        let pool_max = Gauge::default();
        registry.register(
            "db_pool_max_connections",
            "The most database connections the pool opens",
            pool_max.clone(),
        );
        let watch_streams = Gauge::default();
        registry.register(
            "watch_streams",
            "Open /api/v1/watch streams",
            watch_streams.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            revision,
            snapshot_age,
            full_loads,
            behind,
            pool_open,
            pool_idle,
            pool_max,
            watch_streams,
        }
    }
}

impl Metrics {
    /// A watch stream opened.
    pub fn watch_opened(&self) {
        self.watch_streams.inc();
    }

    /// A watch stream closed.
    pub fn watch_closed(&self) {
        self.watch_streams.dec();
    }
}

/// A method as a label: the standard ones by name, anything a client invents as `other`, so
/// no client can grow the series without bound.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Counts every answered request under its route.
pub async fn record(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = method_label(request.method()).to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    metrics
        .latency
        .get_or_create(&RouteLabels {
            route: route.clone(),
            method: method.clone(),
        })
        .observe(started.elapsed().as_secs_f64());
    metrics
        .requests
        .get_or_create(&RequestLabels {
            route,
            method,
            status: response.status().as_u16(),
        })
        .inc();
    response
}

/// Whether the caller may scrape: a client on this machine (not through a proxy), or a
/// super admin's API token.
async fn may_scrape(state: &ServerState, parts: &mut Parts) -> Result<(), ApiError> {
    if super::security::from_this_machine(parts) {
        return Ok(());
    }
    if !parts.headers.contains_key(header::AUTHORIZATION) {
        return Err(ApiError(WireError::Unauthenticated(
            "metrics are served to local clients and to super admins' API tokens".into(),
        )));
    }
    let caller = Caller::from_request_parts(parts, state).await?;
    if caller.token.is_none() {
        return Err(ApiError(WireError::Unauthenticated(
            "metrics are served to local clients and to super admins' API tokens".into(),
        )));
    }
    match decide(&caller.principal, &Action::Operate) {
        Decision::Allow => Ok(()),
        _ => Err(ApiError(WireError::Forbidden(
            "only super admins' tokens read the metrics".into(),
        ))),
    }
}

/// Prometheus metrics of this server.
#[utoipa::path(get, path = "/metrics", tag = "health", security((), ("bearer" = [])),
    responses((status = 200, description = "The metrics in the OpenMetrics text format", body = String, content_type = "application/openmetrics-text"),
        (status = 401, description = "Neither a local client nor an API token", body = crate::api::ErrorBody),
        (status = 403, description = "The token is not a super admin's", body = crate::api::ErrorBody)))]
pub async fn scrape(
    State(state): State<ServerState>,
    request: Request,
) -> Result<Response, ApiError> {
    let (mut parts, _) = request.into_parts();
    may_scrape(&state, &mut parts).await?;
    let metrics = &state.metrics;
    let snapshots = &state.app.snapshots;
    metrics.revision.set(snapshots.loaded_revision().max(0));
    let seconds = |d: Option<std::time::Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64());
    metrics.snapshot_age.set(seconds(snapshots.since_loaded()));
    metrics
        .full_loads
        .set(i64::try_from(snapshots.full_loads()).unwrap_or(i64::MAX));
    metrics.behind.set(seconds(snapshots.since_checked()));
    if let Some(pool) = db::pool_status(&state.app.db) {
        metrics.pool_open.set(i64::from(pool.open));
        metrics.pool_idle.set(i64::from(pool.idle));
        metrics.pool_max.set(i64::from(pool.max));
    }
    let mut body = String::new();
    encode(&mut body, &metrics.registry).map_err(|e| ApiError(crate::api::internal(e)))?;
    Ok((
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response())
}
