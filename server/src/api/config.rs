//! Effective configuration, chains, entries and key definitions.

use axum::Json;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use app::backend::access;
use app::backend::directory::{self, Doomed};
use app::backend::entries::{self, SetEntry};
use app::backend::resolution::{self, ContextSpec};
use app::domain::document::KeyDoc;
use app::domain::name::{ConfigKey, Slug};
use app::domain::policy::Action;
use app::domain::resolve::EffectiveView;
use app::domain::scope::Scope;
use app::views::EntryView;

use super::directory::{DeleteParams, DeleteQuery, delete_reason};
use super::error::{ApiError, Body, ErrorBody, internal, invalid};
use super::session::{Caller, ClientAddr, client};
use crate::api::EffectiveKey;
use crate::http::ServerState;

fn slug(what: &'static str, value: &str) -> Result<Slug, ApiError> {
    Slug::parse(what, value).map_err(|e| invalid(format!("{what}: {e}")))
}

/// How `/effective` answers.
#[derive(Deserialize, utoipa::ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum EffectiveFormat {
    Json,
    Env,
}

/// `user=U`, or `tenant=T[&department=D][&group=G…]`, plus `reveal`.
pub(super) fn context(query: Option<&str>) -> Result<(ContextSpec, bool), ApiError> {
    let q = effective_query(query)?;
    if q.env {
        return Err(invalid("format: only GET /effective offers format=env"));
    }
    if q.wait.is_some() {
        return Err(invalid("wait: only GET /effective offers a long poll"));
    }
    Ok((q.spec, q.reveal))
}

/// The longest a long poll is held.
const MAX_WAIT_SECONDS: u64 = 60;

/// What `/effective` was asked: the context, `reveal`, `format=env`, and `wait=S`.
struct EffectiveQuery {
    spec: ContextSpec,
    reveal: bool,
    env: bool,
    wait: Option<std::time::Duration>,
}

fn effective_query(query: Option<&str>) -> Result<EffectiveQuery, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|e| invalid(format!("query: {e}")))?;
    let (mut user, mut tenant, mut department, mut groups, mut reveal, mut env) =
        (None, None, None, Vec::new(), false, false);
    let mut wait = None;
    for (name, value) in pairs {
        match name.as_str() {
            "user" => user = Some(slug("user", &value)?),
            "tenant" => tenant = Some(slug("tenant", &value)?),
            "department" => department = Some(slug("department", &value)?),
            "group" => groups.push(slug("group", &value)?),
            "reveal" => {
                reveal = value.parse().map_err(|_| {
                    invalid(format!("reveal: expected true or false, got {value:?}"))
                })?
            }
            "format" => {
                let format: EffectiveFormat = serde_json::from_value(Value::String(value.clone()))
                    .map_err(|_| invalid(format!("format: expected json or env, got {value:?}")))?;
                env = format == EffectiveFormat::Env;
            }
            "wait" => {
                let seconds = value
                    .parse::<u64>()
                    .ok()
                    .filter(|s| *s <= MAX_WAIT_SECONDS)
                    .ok_or_else(|| {
                        invalid(format!(
                            "wait: expected whole seconds from 0 to {MAX_WAIT_SECONDS}, got {value:?}"
                        ))
                    })?;
                wait = Some(std::time::Duration::from_secs(seconds));
            }
            other => return Err(invalid(format!("{other}: unknown query parameter"))),
        }
    }
    let spec = match (user, tenant) {
        (Some(user), None) if department.is_none() && groups.is_empty() => ContextSpec::User(user),
        (None, Some(tenant)) => ContextSpec::WhatIf {
            tenant,
            department,
            groups,
        },
        (Some(_), _) => {
            return Err(invalid(
                "user: give either user=U or tenant=T with department and groups, not both",
            ));
        }
        (None, None) => return Err(invalid("user: a context needs user=U or tenant=T")),
    };
    Ok(EffectiveQuery {
        spec,
        reveal,
        env,
        wait,
    })
}

/// Holds a long poll until the snapshot `spec` resolves from is no longer at `version`, or
/// `wait` passed, or the server stops; answers with where the context stands then.
async fn wait_for_change(
    state: &ServerState,
    spec: &ContextSpec,
    version: u64,
    wait: std::time::Duration,
) -> Result<resolution::Located, ApiError> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut published = state.app.snapshots.subscribe();
    loop {
        // Looked at after subscribing, so no revision slips between the look and the wait.
        published.borrow_and_update();
        let located = resolution::locate_context(&state.app, spec)?;
        if located.version() != version || published.borrow().closing {
            return Ok(located);
        }
        match tokio::time::timeout_at(deadline, published.changed()).await {
            Ok(Ok(())) => continue,
            // Timed out, or the snapshots are gone: answer with what stands.
            Ok(Err(_)) | Err(_) => return Ok(located),
        }
    }
}

#[utoipa::path(get, path = "/effective", tag = "configuration",
    params(("user" = Option<Slug>, Query, description = "A real user: their tenant, department and groups"),
        ("tenant" = Option<Slug>, Query, description = "What-if context: the tenant"),
        ("department" = Option<Slug>, Query, description = "What-if context: a department of the tenant"),
        ("group" = Option<Vec<Slug>>, Query, description = "What-if context: groups of the tenant (repeat the parameter)"),
        ("reveal" = Option<bool>, Query, description = "Show sensitive values (needs secrets_read; audited)"),
        ("format" = Option<EffectiveFormat>, Query, description = "`json` (default) or `env`: `NAME=value` lines as `strata resolve --format env` prints them"),
        ("wait" = Option<u64>, Query, description = "Long poll: with `If-None-Match`, hold the request up to this many seconds (0 to 60) until the ETag changes", maximum = 60),
        ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier answer")),
    responses((status = 200, description = "Every key with its effective value and source, as `strata resolve --format json`: `{key: {value, level, scope}}` (`format=env`: `NAME=value` lines)",
            content((Object = "application/json"), (String = "text/plain")),
            headers(("ETag" = String, description = "Changes whenever anything in the context's chain changes"),
                ("X-Strata-Revision" = u64, description = "The revision of the last change this answer reflects"))),
        (status = 304, description = "Unchanged since the given ETag (after `wait`: still unchanged)",
            headers(("ETag" = String, description = "The ETag given"), ("X-Strata-Revision" = u64, description = "The revision of the last change this answer reflects"))),
        (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody), (status = 403, description = "The policy refuses; the message says why", body = ErrorBody),
        (status = 404, description = "Not found (also anything of another tenant)", body = ErrorBody), (status = 422, description = "Invalid input; the message names the field", body = ErrorBody)))]
pub async fn effective(
    State(state): State<ServerState>,
    caller: Caller,
    RawQuery(query): RawQuery,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let principal = &caller.principal;
    let EffectiveQuery {
        spec,
        reveal,
        env,
        wait,
    } = effective_query(query.as_deref())?;
    let spec = spec.canonical();
    access::authorize_context(&state.app, principal, &spec, reveal).await?;
    // Who a reveal is audited as (only a reveal needs it).
    let actor = reveal.then(|| client(&headers, address, principal.user.to_string()));
    let viewer = actor.as_ref().map(|a| caller.viewer(a)).transpose()?;
    let answer_key = |located: &resolution::Located| EffectiveKey {
        tenant: located.tenant().cloned(),
        version: located.version(),
        context: spec.clone(),
        reveal,
        env,
    };
    let matches = |tag: &str| crate::api::etag_matches(&headers, tag);
    // One snapshot answers: the ETag, the audited secrets and the body all come from it.
    let mut located = resolution::locate_context(&state.app, &spec)?;
    if let Some(wait) = wait
        && matches(&answer_key(&located).etag())
    {
        located = wait_for_change(&state, &spec, located.version(), wait).await?;
    }
    let key = answer_key(&located);
    let tag = key.etag();
    let revision = located.version();
    if let Some(viewer) = viewer {
        // Audited before anything is shown, a 304 included (it confirms what was shown).
        let secrets = located.secrets(&state.app);
        resolution::audit_reveal(&state.app, viewer, &spec, None, &secrets).await?;
    }
    if matches(&tag) {
        // Nothing resolved or serialised: the configuration is unchanged.
        return Ok((
            StatusCode::NOT_MODIFIED,
            [
                (header::ETAG, tag),
                (REVISION.clone(), revision.to_string()),
            ],
        )
            .into_response());
    }
    let body: axum::body::Bytes = if !reveal && !env {
        // The shared layers' rendering is the cache: a copy of it and the user's own few
        // entries cost less than keeping (and hashing, and churning) every user's answer.
        located
            .masked_json(|key, make| state.shared_renderings.get_or_make(key, make))
            .into()
    } else {
        match state.effective_cache.get(&key) {
            Some(body) => body,
            None => {
                let body: axum::body::Bytes = located
                    .effective(|resolved| {
                        let view = EffectiveView { resolved, reveal };
                        if env {
                            serde_json::to_value(&view).map(|json| {
                                app::domain::dotenv::render(
                                    json.as_object().unwrap_or(&Default::default()),
                                )
                                .into_bytes()
                            })
                        } else {
                            Ok(view.to_json())
                        }
                    })
                    .map_err(|e| ApiError(internal(e)))?
                    .into();
                state.effective_cache.put(key, body.clone());
                body
            }
        }
    };
    let content_type = if env {
        "text/plain; charset=utf-8"
    } else {
        "application/json"
    };
    let mut response =
        (StatusCode::OK, [(header::CONTENT_TYPE, content_type)], body).into_response();
    if let Ok(value) = HeaderValue::from_str(&tag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
        .headers_mut()
        .insert(REVISION.clone(), HeaderValue::from(revision));
    Ok(response)
}

/// The revision an answer reflects.
pub static REVISION: header::HeaderName = header::HeaderName::from_static("x-strata-revision");

#[utoipa::path(get, path = "/chain/{key}", tag = "configuration",
    params(("key" = ConfigKey, Path, description = "Dotted key name"), ("user" = Option<Slug>, Query, description = "A real user: their tenant, department and groups"),
        ("tenant" = Option<Slug>, Query, description = "What-if context: the tenant"),
        ("department" = Option<Slug>, Query, description = "What-if context: a department of the tenant"),
        ("group" = Option<Vec<Slug>>, Query, description = "What-if context: groups of the tenant (repeat the parameter)"),
        ("reveal" = Option<bool>, Query, description = "Show sensitive values (needs secrets_read; audited)")),
    responses((status = 200, description = "The candidates from general to specific, as `strata chain --format json`: `[{level, scope, value, state}]`", body = [Object]),
        (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody), (status = 403, description = "The policy refuses; the message says why", body = ErrorBody),
        (status = 404, description = "Not found (also anything of another tenant)", body = ErrorBody), (status = 422, description = "Invalid input; the message names the field", body = ErrorBody)))]
pub async fn chain(
    State(state): State<ServerState>,
    caller: Caller,
    Path(key): Path<String>,
    RawQuery(query): RawQuery,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let key = ConfigKey::parse(&key).map_err(|e| invalid(format!("key: {e}")))?;
    let (spec, reveal) = context(query.as_deref())?;
    access::authorize_context(&state.app, &caller.principal, &spec, reveal).await?;
    let actor = client(&headers, address, caller.principal.user.to_string());
    let viewer = reveal.then(|| caller.viewer(&actor)).transpose()?;
    Ok(Json(
        resolution::chain(&state.app, &key, &spec, viewer).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeQuery {
    scope: Option<String>,
    expect_version: Option<i64>,
}

fn scope(query: &ScopeQuery) -> Result<Scope, ApiError> {
    let text = query.scope.as_deref().ok_or_else(|| {
        invalid("scope: missing (global, tenant:T, department:T/D, group:T/G or user:U)")
    })?;
    text.parse()
        .map_err(|e: app::domain::scope::ScopeError| invalid(format!("scope: {e}")))
}

type ScopeParams = Result<Query<ScopeQuery>, axum::extract::rejection::QueryRejection>;

fn params(query: ScopeParams) -> Result<ScopeQuery, ApiError> {
    query
        .map(|q| q.0)
        .map_err(|e| invalid(format!("query: {}", e.body_text())))
}

#[utoipa::path(get, path = "/entries", tag = "configuration",
    params(("scope" = app::domain::schema::ScopeText, Query, description = "`global`, `tenant:T`, `department:T/D`, `group:T/G` or `user:U`")),
    responses((status = 200, description = "The entries set at the scope, sensitive values masked", body = [EntryView]),
        (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody), (status = 403, description = "The policy refuses; the message says why", body = ErrorBody),
        (status = 404, description = "Not found (also anything of another tenant)", body = ErrorBody), (status = 422, description = "Invalid input; the message names the field", body = ErrorBody)))]
pub async fn list_entries(
    State(state): State<ServerState>,
    caller: Caller,
    query: ScopeParams,
) -> Result<Json<Vec<EntryView>>, ApiError> {
    let scope = scope(&params(query)?)?;
    access::authorize_read(&state.app, &caller.principal, &scope, false).await?;
    Ok(Json(entries::list(&state.app, &scope, false).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutEntry {
    value: Value,
    locked: Option<bool>,
    #[serde(
        default,
        deserialize_with = "app::domain::document::integral::optional"
    )]
    expect_version: Option<i64>,
    reason: Option<String>,
}

#[utoipa::path(put, path = "/entries/{key}", tag = "configuration",
    params(("key" = ConfigKey, Path, description = "Dotted key name"), ("scope" = app::domain::schema::ScopeText, Query, description = "`global`, `tenant:T`, `department:T/D`, `group:T/G` or `user:U`")),
    request_body = PutEntry,
    responses((status = 200, description = "The entry as stored", body = EntryView),
        (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody), (status = 403, description = "The policy refuses (`forbidden`), or the approval policy asks for review (`approval_required`: propose a change request instead); the message says why", body = ErrorBody),
        (status = 404, description = "Not found (also anything of another tenant)", body = ErrorBody),
        (status = 409, description = "It changed since `expect_version`; `current` holds it", body = ErrorBody),
        (status = 413, description = "The body is larger than 1 MiB", body = ErrorBody), (status = 422, description = "Invalid input; the message names the field", body = ErrorBody)))]
pub async fn put_entry(
    State(state): State<ServerState>,
    caller: Caller,
    Path(key): Path<String>,
    query: ScopeParams,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    Body(body): Body<PutEntry>,
) -> Result<Json<EntryView>, ApiError> {
    caller.writing()?;
    let principal = &caller.principal;
    let scope = scope(&params(query)?)?;
    let key = ConfigKey::parse(&key).map_err(|e| invalid(format!("key: {e}")))?;
    access::authorize_write(&state.app, principal, &scope, &key).await?;
    let actor = client(&headers, address, principal.user.to_string());
    let request = SetEntry {
        key,
        scope,
        value: body.value,
        locked: body.locked,
        expect_version: body.expect_version,
        reason: body.reason,
    };
    Ok(Json(entries::set_entry(&state.app, &actor, request).await?))
}

#[utoipa::path(delete, path = "/entries/{key}", tag = "configuration",
    params(("key" = ConfigKey, Path, description = "Dotted key name"), ("scope" = app::domain::schema::ScopeText, Query, description = "`global`, `tenant:T`, `department:T/D`, `group:T/G` or `user:U`"),
        ("expect_version" = Option<i64>, Query, minimum = -9223372036854775808i64, maximum = 9223372036854775807i64, description = "Refuse with 409 unless the entry is at this version")),
    responses((status = 204, description = "Removed"), (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody),
        (status = 403, description = "The policy refuses (`forbidden`), or the approval policy asks for review (`approval_required`: propose a change request instead); the message says why", body = ErrorBody), (status = 404, description = "Not found (also anything of another tenant)", body = ErrorBody),
        (status = 409, description = "Conflict", body = ErrorBody), (status = 422, description = "Invalid input; the message names the field", body = ErrorBody)))]
pub async fn delete_entry(
    State(state): State<ServerState>,
    caller: Caller,
    Path(key): Path<String>,
    query: ScopeParams,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    caller.writing()?;
    let principal = &caller.principal;
    let query = params(query)?;
    let scope = scope(&query)?;
    let key = ConfigKey::parse(&key).map_err(|e| invalid(format!("key: {e}")))?;
    access::authorize_write(&state.app, principal, &scope, &key).await?;
    let actor = client(&headers, address, principal.user.to_string());
    entries::unset_entry(&state.app, &actor, &key, &scope, query.expect_version, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Key definitions in the document format; sensitive defaults masked.
#[utoipa::path(get, path = "/keys", tag = "configuration",
    responses((status = 200, description = "Every key definition", body = [KeyDoc]),
        (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody)))]
pub async fn keys(
    State(state): State<ServerState>,
    _caller: Caller,
) -> Result<Json<Vec<KeyDoc>>, ApiError> {
    Ok(Json(directory::key_docs(&state.app).await?))
}

#[utoipa::path(put, path = "/keys/{key}", tag = "configuration",
    params(("key" = ConfigKey, Path, description = "Dotted key name")),
    request_body(content = KeyDoc, description = "A key definition as in the document format; `key` may be left out"),
    responses((status = 200, description = "The definition was replaced", body = KeyDoc),
        (status = 201, description = "The key was defined", body = KeyDoc),
        (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody), (status = 403, description = "The policy refuses; the message says why", body = ErrorBody),
        (status = 422, description = "Invalid, or existing entries would no longer fit", body = ErrorBody)))]
pub async fn put_key(
    State(state): State<ServerState>,
    caller: Caller,
    Path(key): Path<String>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    Body(mut body): Body<Value>,
) -> Result<(StatusCode, Json<KeyDoc>), ApiError> {
    caller.writing()?;
    let key = ConfigKey::parse(&key).map_err(|e| invalid(format!("key: {e}")))?;
    access::authorize(&caller.principal, &Action::ManageKeys)?;
    if let Value::Object(fields) = &mut body {
        fields
            .entry("key")
            .or_insert_with(|| Value::String(key.to_string()));
    }
    let doc: KeyDoc = serde_path_to_error::deserialize(body).map_err(|e| {
        let path = e.path().to_string();
        invalid(format!("{path}: {}", e.into_inner()))
    })?;
    let actor = client(&headers, address, caller.principal.user.to_string());
    let (doc, created) = directory::define_key(&state.app, &actor, &key, doc).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(directory::masked_key(doc))))
}

#[utoipa::path(delete, path = "/keys/{key}", tag = "configuration",
    params(("key" = ConfigKey, Path, description = "Dotted key name"), DeleteQuery),
    responses((status = 204, description = "The key and all its entries are removed, in one transaction"),
        (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody), (status = 403, description = "The policy refuses; the message says why", body = ErrorBody),
        (status = 404, description = "Not found (also anything of another tenant)", body = ErrorBody),
        (status = 422, description = "Invalid input; the message names the field", body = ErrorBody)))]
pub async fn delete_key(
    State(state): State<ServerState>,
    caller: Caller,
    Path(key): Path<String>,
    query: DeleteParams,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    caller.writing()?;
    let reason = delete_reason(query)?;
    let key = ConfigKey::parse(&key).map_err(|e| invalid(format!("key: {e}")))?;
    access::authorize(&caller.principal, &Action::ManageKeys)?;
    let actor = client(&headers, address, caller.principal.user.to_string());
    directory::delete(&state.app, &actor, &Doomed::Key(key), reason).await?;
    Ok(StatusCode::NO_CONTENT)
}
