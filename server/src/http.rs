//! The HTTP server: the console (Leptos pages and server functions), health probes and
//! request logging.

mod assets;
pub mod metrics;
mod security;

use std::net::SocketAddr;
use std::time::Duration;

use app::backend::sessions::DbSessionStore;
use app::backend::{AppState, db, health};
use app::{App, shell};
use axum::Router;
use axum::body::Body;
use axum::extract::{FromRef, State};
use axum::http::{Request, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list, handle_server_fns_with_context};
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::session_store::ExpiredDeletion;
use tower_sessions::{Expiry, SessionManagerLayer};
use tracing::{Span, info, info_span};

use crate::cli::CliError;
use crate::settings::{Environment, Settings};

/// The router's state: the application's services plus Leptos' own options. Cloned for every
/// request (each extractor and layer takes its own), so it is one shared allocation.
#[derive(Clone)]
pub struct ServerState(std::sync::Arc<Shared>);

impl std::ops::Deref for ServerState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`ServerState`] shares.
pub struct Shared {
    pub app: AppState,
    pub leptos: LeptosOptions,
    /// Serialised effective configurations by ETag (the API's hottest answer).
    pub effective_cache: std::sync::Arc<crate::api::EffectiveCache>,
    pub shared_renderings: std::sync::Arc<crate::api::SharedRenderings>,
    /// The OpenAPI document of the routes below, serialised once.
    pub openapi: axum::body::Bytes,
    pub metrics: std::sync::Arc<metrics::Metrics>,
}

impl FromRef<ServerState> for LeptosOptions {
    fn from_ref(state: &ServerState) -> Self {
        state.leptos.clone()
    }
}

/// Leptos options for the site built by `make site` under `settings.site_root` (the bundle
/// under the content-hashed name the build gave it).
pub fn leptos_options(settings: &Settings) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name(assets::output_name(&settings.site_root.join("pkg")))
        .site_root(settings.site_root.to_string_lossy().into_owned())
        .site_pkg_dir("pkg")
        .site_addr(settings.addr)
        .env(leptos::config::Env::PROD)
        .build()
}

/// Builds the whole application. Tests call this with their own database.
pub fn router(mut app: AppState, leptos: LeptosOptions, settings: &Settings) -> Router {
    app.session_max_age = settings.session_max_age;
    let (api, _) = crate::api::routes();
    let state = ServerState(std::sync::Arc::new(Shared {
        app,
        leptos,
        effective_cache: Default::default(),
        shared_renderings: Default::default(),
        openapi: serde_json::to_vec(&crate::api::document())
            .expect("the OpenAPI document serialises")
            .into(),
        metrics: Default::default(),
    }));
    let routes = generate_route_list(App);
    // One context recipe for pages and server functions alike: the services, and the nonce
    // the Content-Security-Policy of this response allows inline scripts with.
    let context = {
        let app = state.app.clone();
        move || {
            provide_context(app.clone());
            if let Some(nonce) = use_context::<http::request::Parts>()
                .and_then(|parts| parts.extensions.get::<security::CspNonce>().cloned())
            {
                provide_context(leptos::nonce::Nonce::from_value(nonce.0));
            }
        }
    };
    let sessions = SessionManagerLayer::new(DbSessionStore::new(state.app.db.clone()))
        .with_name("strata_session")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(settings.environment == Environment::Production)
        .with_expiry(Expiry::OnInactivity(time::Duration::seconds(
            settings.session_idle.as_secs() as i64,
        )));

    let pkg = std::path::Path::new(state.leptos.site_root.as_ref()).join("pkg");
    Router::new()
        .route("/fn/{*name}", get(server_fn).post(server_fn))
        .nest_service("/pkg", assets::service(pkg))
        .merge(api)
        .merge(crate::ofrep::routes())
        .leptos_routes_with_context(&state, routes, context.clone(), {
            let options = state.leptos.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            ServerState,
            _,
        >(context, shell))
        .with_state(state.clone())
        .layer(middleware::from_fn(security::require_sign_in))
        .layer(sessions)
        .layer(middleware::from_fn(security::reject_cross_site))
        .layer(middleware::from_fn_with_state(
            std::sync::Arc::new(settings.trusted_proxies.clone()),
            security::client_address,
        ))
        .layer(middleware::from_fn(security::limit_server_fn_bodies))
        .layer(middleware::from_fn(security::cache_control))
        .layer(middleware::from_fn(security::headers))
        // Pages, server functions and API answers go out compressed when the client accepts
        // it (the bundle is precompressed; event streams and small bodies are left alone),
        // except what could reveal a secret's length to a guesser (see `compress_safely`).
        .layer(CompressionLayer::new())
        .layer(middleware::from_fn(security::compress_safely))
        .layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            metrics::record,
        ))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<Body>| {
                    let request_id = request
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    // The path only: query strings may carry values that do not belong in logs.
                    info_span!(
                        "request",
                        method = %request.method(),
                        path = %request.uri().path(),
                        request_id = %request_id,
                    )
                })
                .on_request(())
                .on_response(|response: &Response, latency: Duration, _span: &Span| {
                    info!(
                        status = response.status().as_u16(),
                        latency_ms = latency.as_secs_f64() * 1000.0,
                        "handled"
                    );
                })
                .on_failure(()),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

async fn server_fn(State(state): State<ServerState>, request: Request<Body>) -> impl IntoResponse {
    handle_server_fns_with_context(move || provide_context(state.app.clone()), request).await
}

/// Runs every request that may write (anything but GET, HEAD and OPTIONS) on the writer
/// runtime. A write takes a dozen database steps, and on a busy server each step would
/// otherwise queue behind every request in flight for its next turn on a worker (with a
/// thousand readers: a quarter of a second per write); on its own runtime it waits for none.
async fn writes_apart(
    State(writer): State<tokio::runtime::Handle>,
    request: Request<Body>,
    next: middleware::Next,
) -> Response {
    use axum::http::Method;
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    match writer.spawn(next.run(request)).await {
        Ok(response) => response,
        Err(err) => {
            tracing::error!(error = %err, "a write's task failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// 200 while the process runs.
#[utoipa::path(get, path = "/healthz", tag = "health", security(()),
    responses((status = 200, description = "The process runs", body = String)))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// How long `/readyz` waits for the database.
const READY_TIMEOUT: Duration = Duration::from_millis(1500);

/// 200 when the database answers, else 503.
#[utoipa::path(get, path = "/readyz", tag = "health", security(()),
    responses((status = 200, description = "The database answers", body = String),
        (status = 503, description = "The database does not answer", body = String)))]
pub async fn readyz(State(state): State<ServerState>) -> (StatusCode, &'static str) {
    // A database that does not answer within the probe's budget is as good as down.
    let ping = tokio::time::timeout(READY_TIMEOUT, health::is_ready(&state.app.db));
    if ping.await.unwrap_or(false) {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
    }
}

/// Connects, migrates and serves until SIGTERM or Ctrl-C, then finishes open requests.
pub async fn serve(settings: Settings) -> Result<(), CliError> {
    let state = crate::cli::open_state(&settings).await?;
    let admin_password = settings.admin_password.as_ref().map(|p| p.0.clone());
    if let Some(generated) = app::backend::accounts::ensure_super_admin(&state, admin_password)
        .await
        .map_err(|e| CliError::Service(e.to_string()))?
    {
        // Shown once, so the first operator can sign in; change it right away.
        tracing::warn!(
            "created the super admin `admin` with password {generated} (shown once; change it)"
        );
    }
    let database = state.db.clone();
    // Other replicas' (and the CLI's) changes reach this one's snapshots.
    let follower = tokio::spawn(app::backend::feed::follow_any(
        state.clone(),
        settings.database_url.clone(),
        settings.refresh_interval,
    ));
    let sweeper = tokio::spawn(delete_expired_sessions(DbSessionStore::new(
        state.db.clone(),
    )));
    let snapshots = state.snapshots.clone();
    // Writes run on a runtime of their own (see `writes_apart`).
    let writer = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("strata-writer")
        .enable_all()
        .build()?;
    let app = router(state, leptos_options(&settings), &settings).layer(
        middleware::from_fn_with_state(writer.handle().clone(), writes_apart),
    );

    let listener = tokio::net::TcpListener::bind(settings.addr).await?;
    let addr = listener.local_addr()?;
    info!(
        backend = db::backend_name(&database),
        "Strata is listening on http://{addr}"
    );
    println!("Strata console: http://{addr}");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        // Open watch streams and long polls end, or they would hold the shutdown up.
        snapshots.close();
    })
    .await?;
    follower.abort();
    sweeper.abort();
    // Inside the server's runtime a runtime may only be let go, not waited for.
    writer.shutdown_background();
    database.close().await?;
    info!("stopped");
    Ok(())
}

async fn delete_expired_sessions(store: DbSessionStore) {
    let mut ticks = tokio::time::interval(Duration::from_secs(600));
    loop {
        ticks.tick().await;
        if let Err(err) = store.delete_expired().await {
            tracing::warn!(error = %err, "could not delete expired sessions");
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    info!("shutting down");
}
