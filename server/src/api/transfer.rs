//! `POST /api/v1/import` and `GET /api/v1/export`: whole documents, through the same import
//! engine as `strata import` and cut to what the caller may see on the way out.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

use app::backend::env_import::{self, EnvImport, EnvImportReport};
use app::backend::transfer::{self, ImportReport};
use app::backend::{access, directory};
use app::domain::document::Document;
use app::domain::dotenv::plan::Mapping;
use app::domain::policy::Action;
use app::domain::scope::Scope;

use super::error::{ApiError, Body, ErrorBody, ErrorDetail, invalid};
use super::session::{Caller, ClientAddr, client};
use crate::http::ServerState;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// Validate and count, write nothing.
    dry_run: Option<bool>,
}

#[utoipa::path(post, path = "/import", tag = "transfer", params(ImportQuery),
    request_body(content = Document, description = "A strata/v1 document"),
    responses((status = 200, description = "Applied (or, with dry_run, what would be)", body = ImportReport),
        (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody), (status = 403, description = "The policy refuses (`forbidden`), or the approval policy asks for review of an entry the document changes (`approval_required`, a dry run too); the message says why", body = ErrorBody),
        (status = 413, description = "The body is larger than 1 MiB", body = ErrorBody),
        (status = 422, description = "Nothing was written: `errors` lists every problem with its JSON path (beside `error`)", body = ImportRefused)))]
pub async fn import(
    State(state): State<ServerState>,
    caller: Caller,
    query: Result<Query<ImportQuery>, axum::extract::rejection::QueryRejection>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    Body(doc): Body<Document>,
) -> Result<Response, ApiError> {
    caller.writing()?;
    let Query(query) = query.map_err(|e| invalid(format!("query: {}", e.body_text())))?;
    access::authorize(&caller.principal, &Action::Import)?;
    let actor = client(&headers, address, caller.principal.user.to_string());
    let dry_run = query.dry_run.unwrap_or(false);
    let report = transfer::import(&state.app, &actor, &doc, dry_run).await?;
    if report.errors.is_empty() {
        return Ok(Json(report).into_response());
    }
    let first = &report.errors[0];
    let message = format!(
        "{} problem(s); nothing was written. First: {}: {}",
        report.errors.len(),
        first.path,
        first.message
    );
    let body = ImportRefused {
        error: ErrorDetail::invalid(message),
        created: Some(report.created),
        updated: Some(report.updated),
        unchanged: Some(report.unchanged),
        errors: Some(report.errors),
    };
    Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response())
}

/// A refused import: the error, and for a document with problems the report listing every
/// one (a body that is no document at all gets the error alone).
#[derive(Serialize, utoipa::ToSchema)]
pub struct ImportRefused {
    error: ErrorDetail,
    #[serde(skip_serializing_if = "Option::is_none")]
    created: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    updated: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unchanged: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<Vec<app::domain::document::Problem>>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EnvImportQuery {
    /// Where the values go: `global`, `tenant:T`, `department:T/D`, `group:T/G` or `user:U`.
    #[param(value_type = app::domain::schema::ScopeText)]
    scope: Option<String>,
    /// Plan only: the rows and the `plan_hash` to apply them with; nothing is written.
    dry_run: Option<bool>,
}

/// A `.env` file and how its names become keys.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvImportBody {
    /// The file's text.
    text: String,
    mapping: Option<Mapping>,
    /// Recorded with every audit event of the import.
    reason: Option<String>,
    /// The dry run's `plan_hash`; required to apply.
    plan_hash: Option<String>,
}

#[utoipa::path(post, path = "/import/env", tag = "transfer", params(EnvImportQuery),
    request_body = EnvImportBody,
    responses((status = 200, description = "The plan, one row per line (with dry_run), or the plan as applied", body = EnvImportReport),
        (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody), (status = 403, description = "The policy refuses (`forbidden`), or applying the plan needs approval (`approval_required`); the message says why", body = ErrorBody),
        (status = 404, description = "Not found (also anything of another tenant)", body = ErrorBody),
        (status = 409, description = "The plan changed since the dry run (`plan_hash` differs, or an entry moved): nothing was written", body = ErrorBody),
        (status = 413, description = "The body is larger than 1 MiB", body = ErrorBody),
        (status = 422, description = "Invalid input, or rows in error: nothing was written; the plan's rows and `errors` are beside `error`", body = EnvImportRefused)))]
pub async fn import_env(
    State(state): State<ServerState>,
    caller: Caller,
    query: Result<Query<EnvImportQuery>, axum::extract::rejection::QueryRejection>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    Body(body): Body<EnvImportBody>,
) -> Result<Response, ApiError> {
    caller.writing()?;
    let Query(query) = query.map_err(|e| invalid(format!("query: {}", e.body_text())))?;
    let scope: Scope = query
        .scope
        .as_deref()
        .ok_or_else(|| {
            invalid("scope: missing (global, tenant:T, department:T/D, group:T/G or user:U)")
        })?
        .parse()
        .map_err(|e: app::domain::scope::ScopeError| invalid(format!("scope: {e}")))?;
    let actor = client(&headers, address, caller.principal.user.to_string());
    let request = EnvImport {
        scope,
        text: body.text,
        mapping: body.mapping.unwrap_or_default(),
        reason: body.reason,
        plan_hash: body.plan_hash,
        dry_run: query.dry_run.unwrap_or(false),
    };
    let report =
        env_import::import_env(&state.app, Some(&caller.principal), &actor, request).await?;
    if report.errors.is_empty() {
        return Ok(Json(report).into_response());
    }
    let first = &report.errors[0];
    let message = format!(
        "{} row(s) in error; nothing was written. First: {}: {}",
        report.errors.len(),
        first.path,
        first.message
    );
    let body = EnvImportRefused {
        error: ErrorDetail::invalid(message),
        plan_hash: Some(report.plan_hash),
        rows: Some(report.rows),
        created: Some(report.created),
        updated: Some(report.updated),
        unchanged: Some(report.unchanged),
        errors: Some(report.errors),
        applied: Some(report.applied),
    };
    Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response())
}

/// A refused `.env` import: the error, and for a plan with rows in error the whole plan beside
/// it (a request refused before planning, such as a bad query, gets the error alone).
#[derive(Serialize, utoipa::ToSchema)]
pub struct EnvImportRefused {
    error: ErrorDetail,
    #[serde(skip_serializing_if = "Option::is_none")]
    plan_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rows: Option<Vec<app::domain::dotenv::plan::Row>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    updated: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unchanged: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<Vec<app::domain::document::Problem>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    applied: Option<bool>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// Sensitive values in plaintext instead of encrypted (needs secrets_read; audited).
    reveal: Option<bool>,
}

#[utoipa::path(get, path = "/export", tag = "transfer", params(ExportQuery),
    responses((status = 200, description = "What the caller may read, as a document that import accepts; sensitive values encrypted unless revealed", body = Document),
        (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody),
        (status = 403, description = "Revealing needs secrets_read", body = ErrorBody),
        (status = 422, description = "Invalid input; the message names the field", body = ErrorBody)))]
pub async fn export(
    State(state): State<ServerState>,
    caller: Caller,
    query: Result<Query<ExportQuery>, axum::extract::rejection::QueryRejection>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
) -> Result<Json<Document>, ApiError> {
    let Query(query) = query.map_err(|e| invalid(format!("query: {}", e.body_text())))?;
    let reveal = query.reveal.unwrap_or(false);
    let actor = client(&headers, address, caller.principal.user.to_string());
    if reveal {
        // The document holds only scopes the caller may read; revealing them needs secrets_read
        // (and, through a token, its secrets scope).
        access::authorize_read(&state.app, &caller.principal, &Scope::Global, true).await?;
        caller.viewer(&actor)?;
    }
    Ok(Json(
        directory::export(&state.app, &actor, &caller.principal, reveal).await?,
    ))
}
