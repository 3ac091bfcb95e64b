//! `GET /api/v1/watch`: a context's effective configuration as a server-sent event stream.
//!
//! Each stream is a task of its own that follows the published revisions and hands its events
//! to the response through a small queue. A writer only moves the published revision on, so no
//! stream can hold one up; a client that does not read its events fills the queue and is
//! dropped (it resumes with `Last-Event-ID`). Before each event the caller's credentials are
//! checked again when credentials changed anywhere, and the policy again for the context.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;

use app::backend::access;
use app::backend::audit::Actor;
use app::backend::resolution::{self, ContextSpec};
use app::backend::watch::{WatchEvent, Watcher};
use app::domain::name::Slug;

use super::config::context;
use super::error::{ApiError, ErrorBody};
use super::session::{Caller, ClientAddr, client};
use crate::http::ServerState;

/// Events a stream may have waiting for its client before the client counts as too slow.
const QUEUE: usize = 16;
/// How often an idle stream says it is alive.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

#[utoipa::path(get, path = "/watch", tag = "configuration",
    params(("user" = Option<Slug>, Query, description = "A real user: their tenant, department and groups"),
        ("tenant" = Option<Slug>, Query, description = "What-if context: the tenant"),
        ("department" = Option<Slug>, Query, description = "What-if context: a department of the tenant"),
        ("group" = Option<Vec<Slug>>, Query, description = "What-if context: groups of the tenant (repeat the parameter)"),
        ("reveal" = Option<bool>, Query, description = "Show sensitive values (needs secrets_read; audited once per connection)"),
        ("Last-Event-ID" = Option<String>, Header, description = "The revision of the last event seen: the stream starts with the net change since then (or a fresh snapshot when it is too old)")),
    responses((status = 200, description = "`text/event-stream`: a `snapshot` event (`id:` the revision, data the `/effective` object), then a `change` event per committed change that alters this context's configuration (`{\"revision\", \"changed\": {key: {value, level, scope}}, \"removed\": [key]}`), and a `: keep-alive` comment every 15 s",
            content_type = "text/event-stream", body = Object),
        (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody), (status = 403, description = "The policy refuses; the message says why", body = ErrorBody),
        (status = 404, description = "Not found (also anything of another tenant)", body = ErrorBody), (status = 422, description = "Invalid input; the message names the field", body = ErrorBody)))]
pub async fn watch(
    State(state): State<ServerState>,
    caller: Caller,
    RawQuery(query): RawQuery,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (spec, reveal) = context(query.as_deref())?;
    let spec = spec.canonical();
    access::authorize_context(&state.app, &caller.principal, &spec, reveal).await?;
    let actor = client(&headers, address, caller.principal.user.to_string());
    // Anything that is not a revision this server could have sent is as good as none.
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let (watcher, first) = Watcher::start(&state.app, spec.clone(), reveal, resume)?;
    if reveal {
        // Once per connection, before anything is shown.
        let viewer = caller.viewer(&actor)?;
        let secrets = resolution::locate_context(&state.app, &spec)?.secrets(&state.app);
        resolution::audit_reveal(&state.app, viewer, &spec, None, &secrets).await?;
    }
    let (events, queue) = mpsc::channel(QUEUE);
    if let Some(first) = first {
        // The queue is empty: this cannot fail.
        let _ = events.try_send(first);
    }
    tokio::spawn(follow(state.clone(), caller, actor, watcher, events));
    let stream = ReceiverStream::new(queue).map(|event| Ok::<_, Infallible>(sse(&event)));
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive"))
        .into_response())
}

fn sse(event: &WatchEvent) -> Event {
    Event::default()
        .event(event.name())
        .id(event.revision().to_string())
        .data(event.data().to_string())
}

/// Counts a stream in `/metrics` while it lives.
struct Open(std::sync::Arc<crate::http::metrics::Metrics>);

impl Open {
    fn new(metrics: std::sync::Arc<crate::http::metrics::Metrics>) -> Open {
        metrics.watch_opened();
        Open(metrics)
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.watch_closed();
    }
}

/// One stream's task: until the client goes, the server stops, or the caller may no longer
/// see the context, turns each published revision into this context's events.
async fn follow(
    state: ServerState,
    mut caller: Caller,
    actor: Actor,
    mut watcher: Watcher,
    events: mpsc::Sender<WatchEvent>,
) {
    let _open = Open::new(state.metrics.clone());
    let mut published = state.app.snapshots.subscribe();
    let mut accounts = published.borrow_and_update().accounts_revision;
    loop {
        tokio::select! {
            changed = published.changed() => if changed.is_err() { return },
            () = events.closed() => return,
        }
        let now = *published.borrow_and_update();
        if now.closing {
            return;
        }
        if now.accounts_revision != accounts {
            accounts = now.accounts_revision;
            match caller.again(&state, &actor).await {
                Ok(fresh) => caller = fresh,
                Err(_) => return,
            }
        }
        let event = match watcher.next(&state.app) {
            Ok(Some(event)) => event,
            Ok(None) => continue,
            // The context is gone (a deleted user, say).
            Err(_) => return,
        };
        if allowed(&state, &caller, &actor, watcher.spec(), watcher.reveals())
            .await
            .is_err()
        {
            return;
        }
        if events.try_send(event).is_err() {
            // Full: the client does not keep up. Dropping it frees its queue; it can resume.
            tracing::info!(context = %watcher.spec().describe(), "dropped a watch stream that did not keep up");
            return;
        }
    }
}

/// Whether the caller may still see the context (and its secrets, when revealed); a token's
/// reveal of a secret version it had not seen yet is audited as on `/effective`.
async fn allowed(
    state: &ServerState,
    caller: &Caller,
    actor: &Actor,
    spec: &ContextSpec,
    reveal: bool,
) -> Result<(), ApiError> {
    access::authorize_context(&state.app, &caller.principal, spec, reveal).await?;
    if reveal && let Some(token_id) = caller.token {
        let secrets = resolution::locate_context(&state.app, spec)?.secrets(&state.app);
        let viewer = resolution::Viewer::Token { actor, token_id };
        resolution::audit_reveal(&state.app, viewer, spec, None, &secrets).await?;
    }
    Ok(())
}
