//! `GET /api/v1/audit` (only events the caller may see) and `GET /api/v1/audit/verify`.

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use app::backend::audit::{self, AuditEntry, AuditFilter};
use app::domain::level::Level;
use app::domain::name::Slug;
use app::domain::policy::{Action, Decision, EventPlace, decide};
use app::error::WireError;

use super::error::{ApiError, internal};
use super::session::Caller;
use crate::http::ServerState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    tenant: Option<String>,
    key: Option<String>,
    actor: Option<String>,
    action: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<usize>,
    before_id: Option<i64>,
}

/// Where an event happened, for the policy.
fn place(event: &AuditEntry) -> EventPlace {
    let slug = |s: &Option<String>| s.as_deref().and_then(|v| Slug::parse("id", v).ok());
    EventPlace {
        level: event.level.as_deref().and_then(|l| l.parse::<Level>().ok()),
        tenant: slug(&event.tenant),
        department: slug(&event.department),
    }
}

fn time(name: &str, value: Option<String>) -> Result<Option<String>, ApiError> {
    let Some(value) = value else { return Ok(None) };
    let parsed = chrono::DateTime::parse_from_rfc3339(&value).map_err(|_| {
        ApiError(WireError::InvalidInput(format!(
            "{name}: expected an RFC 3339 time, got {value:?}"
        )))
    })?;
    Ok(Some(
        parsed
            .with_timezone(&chrono::Utc)
            .format("%Y-%m-%dT%H:%M:%S%.6fZ")
            .to_string(),
    ))
}

pub async fn list(
    State(state): State<ServerState>,
    caller: Caller,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query
        .map_err(|e| ApiError(WireError::InvalidInput(format!("query: {}", e.body_text()))))?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError(WireError::InvalidInput(format!(
            "limit: expected 1 to 500, got {limit}"
        ))));
    }
    let filter = AuditFilter {
        tenant: q.tenant,
        key_prefix: q.key,
        actor: q.actor,
        action: q.action,
        since: time("since", q.since)?,
        until: time("until", q.until)?,
        limit: None,
        before_id: q.before_id,
    };
    let principal = &caller.principal;
    let visible = |event: &AuditEntry| {
        decide(principal, &Action::ReadEvent(&place(event))) == Decision::Allow
    };
    let (events, next) = audit::list_visible(&state.app.db, &filter, limit, visible)
        .await
        .map_err(|e| ApiError(internal(e)))?;
    Ok(Json(json!({"events": events, "next_before_id": next})))
}

pub async fn verify(
    State(state): State<ServerState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    if let Decision::Forbidden(reason) = decide(&caller.principal, &Action::Operate) {
        return Err(ApiError(WireError::Forbidden(reason)));
    }
    match audit::verify(&state.app.db)
        .await
        .map_err(|e| ApiError(internal(e)))?
    {
        Ok(events) => Ok(Json(json!({"ok": true, "events": events}))),
        Err(broken) => Ok(Json(
            json!({"ok": false, "first_broken": broken.first_broken()}),
        )),
    }
}
