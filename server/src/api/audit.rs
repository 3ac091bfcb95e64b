//! `GET /api/v1/audit` (only events the caller may see) and `GET /api/v1/audit/verify`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use app::backend::audit::{self, AuditEntry, AuditFilter};
use app::backend::{access, revert};
use app::domain::policy::{Action, Decision, decide};
use app::error::WireError;
use app::views::EntryView;

use super::error::{ApiError, ErrorBody, OptionalBody, internal};
use super::session::{Caller, ClientAddr, client};
use crate::http::ServerState;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    tenant: Option<String>,
    /// `global`, `tenant`, `department`, `group` or `user`.
    level: Option<String>,
    /// A key prefix.
    key: Option<String>,
    actor: Option<String>,
    action: Option<String>,
    /// Events at or after this time (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    since: Option<String>,
    /// Events before this time (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    until: Option<String>,
    /// How many events, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<usize>,
    /// Events before this id (the previous page's `next_before_id`).
    #[param(minimum = -9223372036854775808i64, maximum = 9223372036854775807i64)]
    before_id: Option<i64>,
    /// `json` (default) or `csv` (the events only, with a header row).
    format: Option<AuditFormat>,
}

/// How `/audit` answers.
#[derive(Deserialize, utoipa::ToSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AuditFormat {
    Json,
    Csv,
}

/// A page of events.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    events: Vec<AuditEntry>,
    /// Pass as `before_id` for the next page; null when there is none.
    next_before_id: Option<i64>,
}

/// The chain check.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Verified {
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    events: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_broken: Option<i64>,
}

fn time(name: &str, value: Option<String>) -> Result<Option<String>, ApiError> {
    audit::parse_rfc3339(name, value.as_deref()).map_err(|m| ApiError(WireError::InvalidInput(m)))
}

/// Text as a CSV cell a spreadsheet shows as text: a leading `=`, `+`, `-`, `@`, tab or
/// carriage return would make it a formula, so such text gets a `'` in front. Every cell gets
/// it: besides reasons, actor names (whatever was typed at sign-in), user agents and values
/// are text someone else chose.
fn spreadsheet_safe(text: String) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text
    }
}

/// Events as CSV: a header row, then one row per event.
fn csv(events: &[AuditEntry]) -> Result<Vec<u8>, ApiError> {
    let mut out = ::csv::Writer::from_writer(Vec::new());
    let failed = |e: ::csv::Error| ApiError(internal(e));
    out.write_record([
        "id",
        "at",
        "actor",
        "action",
        "level",
        "scope",
        "key",
        "old_value",
        "new_value",
        "reason",
        "batch_id",
    ])
    .map_err(failed)?;
    for e in events {
        let field = |v: &Option<String>| v.clone().unwrap_or_default();
        let row = [
            e.id.to_string(),
            e.at.clone(),
            e.actor.clone(),
            e.action.clone(),
            field(&e.level),
            field(&e.scope),
            field(&e.key),
            field(&e.old_value),
            field(&e.new_value),
            field(&e.reason),
            field(&e.batch_id),
        ];
        out.write_record(row.map(spreadsheet_safe))
            .map_err(failed)?;
    }
    out.into_inner().map_err(|e| ApiError(internal(e)))
}

#[utoipa::path(get, path = "/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, description = "Events newest first, only those the caller may see (`format=csv`: as CSV)",
            content((AuditPage = "application/json"), (String = "text/csv"))),
        (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody), (status = 422, description = "Invalid input; the message names the field", body = ErrorBody)))]
pub async fn list(
    State(state): State<ServerState>,
    caller: Caller,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query
        .map_err(|e| ApiError(WireError::InvalidInput(format!("query: {}", e.body_text()))))?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError(WireError::InvalidInput(format!(
            "limit: expected 1 to 500, got {limit}"
        ))));
    }
    let as_csv = q.format == Some(AuditFormat::Csv);
    let filter = AuditFilter {
        tenant: q.tenant,
        level: q.level,
        key_prefix: q.key,
        actor: q.actor,
        action: q.action,
        since: time("since", q.since)?,
        until: time("until", q.until)?,
        limit: None,
        before_id: q.before_id,
        ..Default::default()
    };
    let (events, next) = audit::browse(&state.app.db, &caller.principal, &filter, limit).await?;
    if as_csv {
        let body = csv(&events)?;
        return Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response());
    }
    Ok(Json(AuditPage {
        events,
        next_before_id: next,
    })
    .into_response())
}

#[utoipa::path(get, path = "/audit/verify", tag = "audit",
    responses((status = 200, description = "`{\"ok\": true, \"events\": N}` or `{\"ok\": false, \"first_broken\": ID}`", body = Verified),
        (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody), (status = 403, description = "The policy refuses; the message says why", body = ErrorBody)))]
pub async fn verify(
    State(state): State<ServerState>,
    caller: Caller,
) -> Result<Json<Verified>, ApiError> {
    if let Decision::Forbidden(reason) = decide(&caller.principal, &Action::Operate) {
        return Err(ApiError(WireError::Forbidden(reason)));
    }
    match audit::verify(&state.app.db).await? {
        Ok(events) => Ok(Json(Verified {
            ok: true,
            events: Some(events),
            first_broken: None,
        })),
        Err(broken) => Ok(Json(Verified {
            ok: false,
            events: None,
            first_broken: Some(broken.first_broken()),
        })),
    }
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevertRequest {
    /// Recorded with the new change, after "revert of event N".
    reason: Option<String>,
}

#[utoipa::path(post, path = "/audit/{id}/revert", tag = "audit",
    params(("id" = i64, Path, minimum = -9223372036854775808i64, maximum = 9223372036854775807i64, description = "The audit event of an entry change")),
    request_body(content = Option<RevertRequest>, description = "Optional; an empty body is fine"),
    responses((status = 200, description = "The entry as restored", body = EntryView),
        (status = 204, description = "The event created the entry, so reverting removed it"),
        (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody), (status = 403, description = "The policy refuses; the message says why", body = ErrorBody),
        (status = 404, description = "Not found (also anything of another tenant)", body = ErrorBody),
        (status = 409, description = "The entry changed since the event; `current` holds it", body = ErrorBody),
        (status = 422, description = "The event is not an entry change", body = ErrorBody)))]
pub async fn revert(
    State(state): State<ServerState>,
    caller: Caller,
    Path(id): Path<String>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    OptionalBody(body): OptionalBody<RevertRequest>,
) -> Result<Response, ApiError> {
    caller.writing()?;
    let id = super::error::id(&id)?;
    // Whether the event is theirs to see comes first: a refusal says nothing about it.
    let place = revert::place(&state.app, id).await?;
    access::authorize_read_event(&caller.principal, id, &place)?;
    let plan = revert::plan(&state.app, id).await?;
    access::authorize_revert(&state.app, &caller.principal, &plan).await?;
    let actor = client(&headers, address, caller.principal.user.to_string());
    Ok(
        match revert::apply(&state.app, &actor, &plan, body.reason).await? {
            Some(entry) => Json(entry).into_response(),
            None => StatusCode::NO_CONTENT.into_response(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::spreadsheet_safe;

    #[test]
    fn formulas_in_reasons_stay_text() {
        for (reason, cell) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+1", "'+1"),
            ("-1", "'-1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("wrong logo", "wrong logo"),
            ("", ""),
        ] {
            assert_eq!(spreadsheet_safe(reason.into()), cell, "{reason:?}");
        }
    }
}
