//! Templates (API.md "Templates"): anyone signed in reads them (like key definitions, they are
//! platform-wide; secrets stay sealed); super admins with config_write define, change and
//! delete them. Editing one changes every scope that follows it at once.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};

use app::backend::access;
use app::backend::impact::{self, ImpactView, TemplateOpRequest};
use app::backend::templates::{self, Drift, TemplateView};
use app::domain::document::TemplateDoc;
use app::domain::name::Slug;
use app::domain::policy::Action;

use super::directory::{DeleteParams, DeleteQuery, delete_reason};
use super::error::{ApiError, Body, ErrorBody, invalid};
use super::session::{Caller, ClientAddr, client};
use crate::http::ServerState;

fn name(value: &str) -> Result<Slug, ApiError> {
    Slug::parse("template", value).map_err(|e| invalid(format!("name: {e}")))
}

#[utoipa::path(get, path = "/templates", tag = "templates",
    responses((status = 200, description = "Every template, by name (sensitive values sealed)", body = [TemplateView]),
        (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody)))]
pub async fn list_templates(
    State(state): State<ServerState>,
    _caller: Caller,
) -> Result<Json<Vec<TemplateView>>, ApiError> {
    Ok(Json(templates::list(&state.app).await?))
}

#[utoipa::path(post, path = "/templates", tag = "templates", request_body = TemplateDoc,
    responses((status = 201, description = "Created", body = TemplateView),
        (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody),
        (status = 403, description = "The policy refuses; the message says why", body = ErrorBody),
        (status = 409, description = "A template of that name exists", body = ErrorBody),
        (status = 413, description = "The body is larger than 1 MiB", body = ErrorBody),
        (status = 422, description = "Invalid input; the message names the field", body = ErrorBody)))]
pub async fn create_template(
    State(state): State<ServerState>,
    caller: Caller,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    Body(doc): Body<TemplateDoc>,
) -> Result<(StatusCode, Json<TemplateView>), ApiError> {
    caller.writing()?;
    access::authorize(&caller.principal, &Action::ManageTemplates)?;
    let actor = client(&headers, address, caller.principal.user.to_string());
    let created = templates::create(&state.app, &actor, doc).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(get, path = "/templates/{name}", tag = "templates",
    params(("name" = Slug, Path, description = "Template name")),
    responses((status = 200, description = "OK", body = TemplateView),
        (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 422, description = "Invalid input; the message names the field", body = ErrorBody)))]
pub async fn get_template(
    State(state): State<ServerState>,
    _caller: Caller,
    Path(template): Path<String>,
) -> Result<Json<TemplateView>, ApiError> {
    Ok(Json(templates::get(&state.app, &name(&template)?).await?))
}

#[utoipa::path(put, path = "/templates/{name}", tag = "templates",
    params(("name" = Slug, Path, description = "Template name")), request_body = TemplateDoc,
    responses((status = 200, description = "Replaced (description, entries, skeleton); every scope that follows it changes at once", body = TemplateView),
        (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody),
        (status = 403, description = "The policy refuses (`forbidden`), or the approval policy covers a scope that follows the template (`approval_required`); the message says why", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 413, description = "The body is larger than 1 MiB", body = ErrorBody),
        (status = 422, description = "Invalid input; the message names the field", body = ErrorBody)))]
pub async fn replace_template(
    State(state): State<ServerState>,
    caller: Caller,
    Path(template): Path<String>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    Body(doc): Body<TemplateDoc>,
) -> Result<Json<TemplateView>, ApiError> {
    caller.writing()?;
    access::authorize(&caller.principal, &Action::ManageTemplates)?;
    let template = name(&template)?;
    let actor = client(&headers, address, caller.principal.user.to_string());
    Ok(Json(
        templates::replace(&state.app, &actor, &template, doc).await?,
    ))
}

#[utoipa::path(delete, path = "/templates/{name}", tag = "templates",
    params(("name" = Slug, Path, description = "Template name"), DeleteQuery),
    responses((status = 204, description = "Deleted"),
        (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody),
        (status = 403, description = "The policy refuses; the message says why", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "Scopes still follow it (the message says how many)", body = ErrorBody),
        (status = 422, description = "Invalid input; the message names the field", body = ErrorBody)))]
pub async fn delete_template(
    State(state): State<ServerState>,
    caller: Caller,
    Path(template): Path<String>,
    query: DeleteParams,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    caller.writing()?;
    access::authorize(&caller.principal, &Action::ManageTemplates)?;
    let template = name(&template)?;
    let reason = delete_reason(query)?;
    let actor = client(&headers, address, caller.principal.user.to_string());
    templates::delete(&state.app, &actor, &template, reason).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/templates/{name}/drift", tag = "templates",
    params(("name" = Slug, Path, description = "Template name")),
    responses((status = 200, description = "Each following scope the caller may read, with its own entries that differ from the template's (sensitive values masked)", body = [Drift]),
        (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 422, description = "Invalid input; the message names the field", body = ErrorBody)))]
pub async fn template_drift(
    State(state): State<ServerState>,
    caller: Caller,
    Path(template): Path<String>,
) -> Result<Json<Vec<Drift>>, ApiError> {
    let template = name(&template)?;
    Ok(Json(
        templates::drift(&state.app, &caller.principal, &template).await?,
    ))
}

/// `{"ops": [op…]}`: operations on the template's entries.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateImpactRequest {
    pub ops: Vec<TemplateOpRequest>,
}

#[utoipa::path(post, path = "/templates/{name}/impact", tag = "templates",
    params(("name" = Slug, Path, description = "Template name")), request_body = TemplateImpactRequest,
    responses((status = 200, description = "Whom editing the template by these operations would affect: the users of every scope that follows it whose effective values change, overrides a new lock would hide, overrides that would equal what they inherit. Nothing is written.", body = ImpactView),
        (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody),
        (status = 403, description = "The policy refuses (templates are changed by super admins with config_write)", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 413, description = "The body is larger than 1 MiB", body = ErrorBody),
        (status = 422, description = "Invalid input; the message names the operation and field", body = ErrorBody)))]
pub async fn template_impact(
    State(state): State<ServerState>,
    caller: Caller,
    Path(template): Path<String>,
    Body(request): Body<TemplateImpactRequest>,
) -> Result<Json<ImpactView>, ApiError> {
    let template = name(&template)?;
    Ok(Json(
        impact::preview_template(&state.app, &caller.principal, &template, &request.ops).await?,
    ))
}
