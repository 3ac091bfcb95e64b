//! Change requests and the approval policy (API.md "Change requests and impact"): thin handlers
//! over [`app::backend::changes`], which authorizes every step (the policy for who may see,
//! review and apply a request; the life cycle for when).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

use app::backend::changes::{
    self, ApprovalRule, ChangeState, ChangeSummary, ChangeView, NewChange, Transition,
};
use app::error::WireError;

use super::error::{ApiError, Body, ErrorBody, OptionalBody, invalid};
use super::session::{Caller, ClientAddr, client};
use crate::http::ServerState;

fn change_id(value: &str) -> Result<i64, ApiError> {
    value
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| invalid(format!("id: {value:?} is not a change request id")))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ChangesQuery {
    /// Only requests in this state.
    state: Option<ChangeState>,
}

/// `{"comment"?}`: why, for the history.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    #[serde(default)]
    pub comment: Option<String>,
}

/// The approval policy: `{"rules": [{"level"?, "tenant"?, "sensitive_only"?, "approvals"}]}`.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalPolicy {
    pub rules: Vec<ApprovalRule>,
}

#[utoipa::path(post, path = "/changes", tag = "changes", request_body = NewChange,
    responses((status = 201, description = "A draft, with the impact its operations would have now", body = ChangeView),
        (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody),
        (status = 403, description = "The policy refuses one of the operations; the message says why", body = ErrorBody),
        (status = 404, description = "A scope or key was not found (also anything of another tenant)", body = ErrorBody),
        (status = 413, description = "The body is larger than 1 MiB", body = ErrorBody),
        (status = 422, description = "Invalid input; the message names the operation and field", body = ErrorBody)))]
pub async fn create_change(
    State(state): State<ServerState>,
    caller: Caller,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    Body(change): Body<NewChange>,
) -> Result<(StatusCode, Json<ChangeView>), ApiError> {
    caller.writing()?;
    let actor = client(&headers, address, caller.principal.user.to_string());
    let created = changes::create(&state.app, &caller.principal, &actor, change).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(get, path = "/changes", tag = "changes", params(ChangesQuery),
    responses((status = 200, description = "Change requests the caller may see (their own, and those whose every scope they may read), newest first, at most 200", body = [ChangeSummary]),
        (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody),
        (status = 422, description = "Invalid input; the message names the field", body = ErrorBody)))]
pub async fn list_changes(
    State(state): State<ServerState>,
    caller: Caller,
    query: Result<Query<ChangesQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<ChangeSummary>>, ApiError> {
    let Query(q) = query
        .map_err(|e| ApiError(WireError::InvalidInput(format!("query: {}", e.body_text()))))?;
    Ok(Json(
        changes::list(&state.app, &caller.principal, q.state).await?,
    ))
}

#[utoipa::path(get, path = "/changes/{id}", tag = "changes",
    params(("id" = i64, Path, description = "Change request id")),
    responses((status = 200, description = "The request: operations with base, current and proposed values (sensitive ones masked), approvals, history, its impact now and what the caller may do", body = ChangeView),
        (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody),
        (status = 404, description = "Not found, or not the caller's to see", body = ErrorBody),
        (status = 422, description = "The id is not a change request id", body = ErrorBody)))]
pub async fn get_change(
    State(state): State<ServerState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ChangeView>, ApiError> {
    Ok(Json(
        changes::get(&state.app, &caller.principal, change_id(&id)?).await?,
    ))
}

#[utoipa::path(put, path = "/changes/{id}", tag = "changes",
    params(("id" = i64, Path, description = "Change request id")), request_body = NewChange,
    responses((status = 200, description = "Edited by its author: a request in review goes back to review in a new round, its approvals cleared", body = ChangeView),
        (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody),
        (status = 403, description = "Not its author, or the policy refuses an operation", body = ErrorBody),
        (status = 404, description = "Not found, or not the caller's to see", body = ErrorBody),
        (status = 409, description = "It is applied, rejected or cancelled, or changed meanwhile", body = ErrorBody),
        (status = 413, description = "The body is larger than 1 MiB", body = ErrorBody),
        (status = 422, description = "Invalid input; the message names the operation and field", body = ErrorBody)))]
pub async fn edit_change(
    State(state): State<ServerState>,
    caller: Caller,
    Path(id): Path<String>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    Body(change): Body<NewChange>,
) -> Result<Json<ChangeView>, ApiError> {
    caller.writing()?;
    let actor = client(&headers, address, caller.principal.user.to_string());
    Ok(Json(
        changes::edit(
            &state.app,
            &caller.principal,
            &actor,
            change_id(&id)?,
            change,
        )
        .await?,
    ))
}

#[utoipa::path(post, path = "/changes/{id}/{action}", tag = "changes",
    params(("id" = i64, Path, description = "Change request id"),
        ("action" = String, Path, description = "`submit`, `approve`, `reject`, `apply`, `cancel` or `comment`")),
    request_body(content = Option<ActionBody>, description = "`{\"comment\"?}`: kept in the request's history and its audit event; required for `comment`"),
    responses((status = 200, description = "The request after the action. Applying writes every operation as one audited batch, or, when an entry moved since the request was submitted, leaves everything as it is and answers the request `conflicted`", body = ChangeView),
        (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody),
        (status = 403, description = "Not allowed: approving one's own request, reviewing without write access to every scope of it, acting on another's draft", body = ErrorBody),
        (status = 404, description = "Not found, or not the caller's to see", body = ErrorBody),
        (status = 409, description = "Not in a state for this action (applying without enough approvals, approving a draft), or changed meanwhile", body = ErrorBody),
        (status = 413, description = "The body is larger than 1 MiB", body = ErrorBody),
        (status = 422, description = "Invalid input; the message names the field", body = ErrorBody)))]
pub async fn act_on_change(
    State(state): State<ServerState>,
    caller: Caller,
    Path((id, action)): Path<(String, String)>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    OptionalBody(body): OptionalBody<ActionBody>,
) -> Result<Json<ChangeView>, ApiError> {
    caller.writing()?;
    let id = change_id(&id)?;
    let transition = match action.parse::<Transition>() {
        Ok(Transition::Edit) | Err(_) => {
            return Err(invalid(format!(
                "action: {action:?} is not one of submit, approve, reject, apply, cancel, comment"
            )));
        }
        Ok(t) => t,
    };
    let actor = client(&headers, address, caller.principal.user.to_string());
    Ok(Json(
        changes::act(
            &state.app,
            &caller.principal,
            &actor,
            id,
            transition,
            body.comment,
        )
        .await?,
    ))
}

#[utoipa::path(get, path = "/approval-policy", tag = "changes",
    responses((status = 200, description = "Which changes need approval, and how many: a change needs the most any matching rule asks of any of its operations. Rules naming another tenant are left out (super admins see all)", body = ApprovalPolicy),
        (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody)))]
pub async fn get_approval_policy(
    State(state): State<ServerState>,
    caller: Caller,
) -> Result<Json<ApprovalPolicy>, ApiError> {
    Ok(Json(ApprovalPolicy {
        rules: changes::policy(&state.app, &caller.principal).await?,
    }))
}

#[utoipa::path(put, path = "/approval-policy", tag = "changes", request_body = ApprovalPolicy,
    responses((status = 200, description = "The policy, replaced (super admins with config_write); one audited event", body = ApprovalPolicy),
        (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody),
        (status = 403, description = "The policy refuses; the message says why", body = ErrorBody),
        (status = 413, description = "The body is larger than 1 MiB", body = ErrorBody),
        (status = 422, description = "Invalid input; the message names the rule and field", body = ErrorBody)))]
pub async fn put_approval_policy(
    State(state): State<ServerState>,
    caller: Caller,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    Body(policy): Body<ApprovalPolicy>,
) -> Result<Json<ApprovalPolicy>, ApiError> {
    caller.writing()?;
    let actor = client(&headers, address, caller.principal.user.to_string());
    let rules = changes::set_policy(&state.app, &caller.principal, &actor, policy.rules).await?;
    Ok(Json(ApprovalPolicy { rules }))
}
