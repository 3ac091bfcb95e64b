//! Effective configuration, chains, entries and key definitions.

use axum::Json;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use app::backend::entries::{self, SetEntry};
use app::backend::resolution::{self, ContextSpec};
use app::backend::{access, state};
use app::domain::document::key_doc;
use app::domain::name::{ConfigKey, Slug};
use app::domain::resolve::EffectiveView;
use app::domain::scope::Scope;
use app::domain::value::MASK;
use app::error::WireError;
use app::views::EntryView;

use super::error::{ApiError, Body, internal};
use super::session::{Caller, ClientAddr, client};
use crate::http::ServerState;

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError(WireError::InvalidInput(message.into()))
}

fn slug(what: &'static str, value: &str) -> Result<Slug, ApiError> {
    Slug::parse(what, value).map_err(|e| invalid(format!("{what}: {e}")))
}

/// `user=U`, or `tenant=T[&department=D][&group=G…]`, plus `reveal`.
fn context(query: Option<&str>) -> Result<(ContextSpec, bool), ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|e| invalid(format!("query: {e}")))?;
    let (mut user, mut tenant, mut department, mut groups, mut reveal) =
        (None, None, None, Vec::new(), false);
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
    Ok((spec, reveal))
}

/// A strong ETag naming the snapshot version, the context and whether secrets were shown.
fn etag(version: u64, spec: &ContextSpec, reveal: bool) -> String {
    use std::hash::{Hash, Hasher};
    // FNV-1a: stable across processes (replicas answer alike), unlike the std hasher.
    struct Fnv(u64);
    impl Hasher for Fnv {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, bytes: &[u8]) {
            for b in bytes {
                self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x100000001b3);
            }
        }
    }
    let mut h = Fnv(0xcbf29ce484222325);
    spec.describe().hash(&mut h);
    reveal.hash(&mut h);
    format!("\"v{version}-{:016x}\"", h.finish())
}

pub async fn effective(
    State(state): State<ServerState>,
    caller: Caller,
    RawQuery(query): RawQuery,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let principal = &caller.principal;
    let (spec, reveal) = context(query.as_deref())?;
    access::authorize_context(&state.app, principal, &spec, reveal).await?;
    let version = resolution::snapshot_version(&state.app, &spec)?;
    let tag = etag(version, &spec, reveal);
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    if matches && !reveal {
        // Nothing resolved or serialised: the configuration is unchanged.
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, tag)]).into_response());
    }
    let cached = if reveal {
        None
    } else {
        state.effective_cache.get(&tag)
    };
    let body = match cached {
        Some(body) => body,
        None => {
            let body: axum::body::Bytes =
                resolution::with_effective(&state.app, &spec, |resolved, _| {
                    serde_json::to_vec(&EffectiveView { resolved, reveal })
                })?
                .map_err(|e| ApiError(internal(e)))?
                .into();
            if !reveal {
                // Revealed secrets are never kept.
                state.effective_cache.put(tag.clone(), body.clone());
            }
            body
        }
    };
    if reveal {
        let actor = client(&headers, address, principal.user.to_string());
        resolution::audit_reveal(&state.app, &actor, &spec, None).await?;
    }
    let mut response = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&tag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    Ok(response)
}

pub async fn chain(
    State(state): State<ServerState>,
    caller: Caller,
    Path(key): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let key = ConfigKey::parse(&key).map_err(|e| invalid(format!("key: {e}")))?;
    let (spec, reveal) = context(query.as_deref())?;
    access::authorize_context(&state.app, &caller.principal, &spec, reveal).await?;
    Ok(Json(resolution::chain(&state.app, &key, &spec, reveal)?))
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

pub async fn list_entries(
    State(state): State<ServerState>,
    caller: Caller,
    query: ScopeParams,
) -> Result<Json<Vec<EntryView>>, ApiError> {
    let scope = scope(&params(query)?)?;
    access::authorize_read(&state.app, &caller.principal, &scope, false).await?;
    Ok(Json(entries::list(&state.app, &scope, false).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutEntry {
    value: Value,
    locked: Option<bool>,
    expect_version: Option<i64>,
    reason: Option<String>,
}

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
pub async fn keys(
    State(state): State<ServerState>,
    _caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let loaded = state::load(&state.app.db, &state.app.secrets)
        .await
        .map_err(|e| ApiError(internal(e)))?;
    let docs: Vec<Value> = loaded
        .keys
        .iter()
        .map(|k| {
            let default = k
                .def
                .default
                .clone()
                .map(|d| if k.def.sensitive { json!(MASK) } else { d });
            json!(key_doc(&k.def, default))
        })
        .collect();
    Ok(Json(Value::Array(docs)))
}
