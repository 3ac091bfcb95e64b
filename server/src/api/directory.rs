//! Tenants, departments, groups and users in the document format's shapes. Lists show only
//! what the caller may read; changes need the policy's ManageTenants / ManageDirectory /
//! GrantTraits, and another tenant's objects answer 404.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use app::backend::access;
use app::backend::accounts;
use app::backend::directory::{self, Doomed};
use app::domain::document::{DepartmentDoc, GroupDoc, TenantDoc, UserDoc};
use app::domain::name::Slug;
use app::domain::policy::Action;
use app::domain::schema::{DisplayName, SlugSet};
use app::domain::scope::Scope;
use app::domain::traits::Trait;

use super::error::{ApiError, Body, ErrorBody, invalid};
use super::session::{Caller, ClientAddr, client};
use crate::http::ServerState;

fn slug(what: &'static str, value: &str) -> Result<Slug, ApiError> {
    Slug::parse(what, value).map_err(|e| invalid(format!("{what}: {e}")))
}

/// Optional comment recorded with a delete.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeleteQuery {
    /// Recorded in the audit event.
    reason: Option<String>,
}

pub type DeleteParams = Result<Query<DeleteQuery>, axum::extract::rejection::QueryRejection>;

pub fn delete_reason(query: DeleteParams) -> Result<Option<String>, ApiError> {
    query
        .map(|q| q.0.reason)
        .map_err(|e| invalid(format!("query: {}", e.body_text())))
}

/// Refuses a caller who may not read `scope` (another tenant's: 404).
async fn readable(state: &ServerState, caller: &Caller, scope: Scope) -> Result<(), ApiError> {
    access::authorize_read(&state.app, &caller.principal, &scope, false).await?;
    Ok(())
}

/// Tenant `t` as the caller may see it, once the policy lets it read the tenant (none: there
/// is no such tenant any more).
async fn readable_tenant(
    state: &ServerState,
    caller: &Caller,
    t: &str,
) -> Result<Option<TenantDoc>, ApiError> {
    let tenant = slug("tenant", t)?;
    readable(
        state,
        caller,
        Scope::Tenant {
            tenant: tenant.clone(),
        },
    )
    .await?;
    Ok(directory::visible_tenant(&state.app, &caller.principal, &tenant).await?)
}

/// Serde: a field that is present, even as `null` (`Some(None)`), apart from an absent one.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// What a tenant's PATCH may change. Ids, departments and groups change through their own
/// routes, so the body names them not at all.
#[derive(Deserialize, serde::Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<DisplayName>)]
    name: Option<String>,
    /// The tenant template it follows; `null`: none.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<Slug>, nullable = true)]
    template: Option<Option<String>>,
    /// The older name of `template` (a tenant's plan is its template); one not defined yet is
    /// made, empty.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, nullable = true, deprecated)]
    plan: Option<Option<String>>,
}

/// What a department's PATCH may change.
#[derive(Deserialize, serde::Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepartmentPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<DisplayName>)]
    name: Option<String>,
    /// The department template it follows; `null`: none.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<Slug>, nullable = true)]
    template: Option<Option<String>>,
}

/// What a group's PATCH may change.
#[derive(Deserialize, serde::Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<DisplayName>)]
    name: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "app::domain::document::integral::optional"
    )]
    priority: Option<i64>,
    /// The group template it follows; `null`: none.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<Slug>, nullable = true)]
    template: Option<Option<String>>,
}

/// What a user's PATCH may change (everything but the id).
#[derive(Deserialize, serde::Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<DisplayName>)]
    name: Option<String>,
    /// `null`: a platform user.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<Slug>, nullable = true)]
    tenant: Option<Option<String>>,
    /// `null`: no department.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<Slug>, nullable = true)]
    department: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<SlugSet>)]
    groups: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Trait>>)]
    traits: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    disabled: Option<bool>,
}

/// A typed patch as the JSON object the directory services merge.
fn patch_object(patch: impl serde::Serialize) -> Result<Value, ApiError> {
    serde_json::to_value(patch).map_err(|e| ApiError(super::error::internal(e)))
}

// Tenants.

#[utoipa::path(get, path = "/tenants", tag = "directory",
    responses((status = 200, description = "The tenants the caller may read, with the departments and groups they may read", body = [TenantDoc]),
        (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody)))]
pub async fn list_tenants(
    State(state): State<ServerState>,
    caller: Caller,
) -> Result<Json<Vec<TenantDoc>>, ApiError> {
    Ok(Json(
        directory::visible(&state.app, &caller.principal)
            .await?
            .tenants,
    ))
}

#[utoipa::path(post, path = "/tenants", tag = "directory", request_body = TenantDoc,
    responses((status = 201, description = "Created, with any departments and groups it lists", body = TenantDoc),
        (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody), (status = 403, description = "The policy refuses; the message says why", body = ErrorBody),
        (status = 409, description = "The tenant exists", body = ErrorBody),
        (status = 422, description = "Invalid input; the message names the field", body = ErrorBody)))]
pub async fn create_tenant(
    State(state): State<ServerState>,
    caller: Caller,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    Body(doc): Body<TenantDoc>,
) -> Result<(StatusCode, Json<TenantDoc>), ApiError> {
    caller.writing()?;
    access::authorize(&caller.principal, &Action::ManageTenants)?;
    let actor = client(&headers, address, caller.principal.user.to_string());
    let created = directory::create_tenant(&state.app, &actor, doc).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(get, path = "/tenants/{t}", tag = "directory",
    params(("t" = Slug, Path, description = "Tenant id")),
    responses((status = 200, description = "OK", body = TenantDoc), (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody),
        (status = 404, description = "Not found (also anything of another tenant)", body = ErrorBody)))]
pub async fn get_tenant(
    State(state): State<ServerState>,
    caller: Caller,
    Path(t): Path<String>,
) -> Result<Json<TenantDoc>, ApiError> {
    readable_tenant(&state, &caller, &t)
        .await?
        .map(Json)
        .ok_or_else(|| {
            ApiError(app::error::WireError::NotFound(format!(
                "tenant {t} was not found"
            )))
        })
}

#[utoipa::path(patch, path = "/tenants/{t}", tag = "directory",
    params(("t" = Slug, Path, description = "Tenant id")),
    request_body = TenantPatch,
    responses((status = 200, description = "OK", body = TenantDoc), (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody),
        (status = 403, description = "The policy refuses (`forbidden`), or the approval policy covers the entries a change of template brings or takes away (`approval_required`); the message says why", body = ErrorBody), (status = 404, description = "Not found (also anything of another tenant)", body = ErrorBody),
        (status = 422, description = "Invalid input; the message names the field", body = ErrorBody)))]
pub async fn update_tenant(
    State(state): State<ServerState>,
    caller: Caller,
    Path(t): Path<String>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    Body(patch): Body<TenantPatch>,
) -> Result<Json<TenantDoc>, ApiError> {
    caller.writing()?;
    let tenant = slug("tenant", &t)?;
    access::authorize_tenant_change(&state.app, &caller.principal, &tenant).await?;
    let actor = client(&headers, address, caller.principal.user.to_string());
    let patch = patch_object(patch)?;
    Ok(Json(
        directory::update_tenant(&state.app, &actor, &tenant, patch).await?,
    ))
}

#[utoipa::path(delete, path = "/tenants/{t}", tag = "directory",
    params(("t" = Slug, Path, description = "Tenant id"), DeleteQuery),
    responses((status = 204, description = "Deleted with its departments, groups, users and entries, in one transaction"),
        (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody), (status = 403, description = "The policy refuses; the message says why", body = ErrorBody),
        (status = 404, description = "Not found (also anything of another tenant)", body = ErrorBody),
        (status = 422, description = "Invalid input; the message names the field", body = ErrorBody)))]
pub async fn delete_tenant(
    State(state): State<ServerState>,
    caller: Caller,
    Path(t): Path<String>,
    query: DeleteParams,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    caller.writing()?;
    let tenant = slug("tenant", &t)?;
    let reason = delete_reason(query)?;
    access::authorize_tenant_change(&state.app, &caller.principal, &tenant).await?;
    let actor = client(&headers, address, caller.principal.user.to_string());
    directory::delete(&state.app, &actor, &Doomed::Tenant(tenant), reason).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/tenants/{t}/status", tag = "directory",
    params(("t" = Slug, Path, description = "Tenant id")),
    responses((status = 200, description = "Counts, the snapshot revision and the latest change (the tenant's admins and super admins)", body = app::backend::overview::TenantStatus),
        (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody),
        (status = 403, description = "The policy refuses; the message says why", body = ErrorBody),
        (status = 404, description = "Not found (also anything of another tenant)", body = ErrorBody)))]
pub async fn tenant_status(
    State(state): State<ServerState>,
    caller: Caller,
    Path(t): Path<String>,
) -> Result<Json<app::backend::overview::TenantStatus>, ApiError> {
    let tenant = slug("tenant", &t)?;
    access::enforce(
        app::domain::policy::decide(
            &caller.principal,
            &Action::ViewTenantStatus { tenant: &tenant },
        ),
        || format!("tenant {tenant}"),
    )?;
    Ok(Json(
        app::backend::overview::tenant_status(&state.app, &caller.principal, &tenant).await?,
    ))
}

// Departments and groups.

/// The tenant must be one the caller may read (else 404/403) and manage.
async fn manageable(state: &ServerState, caller: &Caller, t: &str) -> Result<Slug, ApiError> {
    caller.writing()?;
    let tenant = slug("tenant", t)?;
    access::authorize_directory_change(&state.app, &caller.principal, &tenant).await?;
    Ok(tenant)
}

#[utoipa::path(get, path = "/tenants/{t}/departments", tag = "directory",
    params(("t" = Slug, Path, description = "Tenant id")),
    responses((status = 200, description = "The departments the caller may read", body = [DepartmentDoc]),
        (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody), (status = 404, description = "Not found (also anything of another tenant)", body = ErrorBody)))]
pub async fn list_departments(
    State(state): State<ServerState>,
    caller: Caller,
    Path(t): Path<String>,
) -> Result<Json<Vec<DepartmentDoc>>, ApiError> {
    Ok(Json(
        readable_tenant(&state, &caller, &t)
            .await?
            .map(|doc| doc.departments)
            .unwrap_or_default(),
    ))
}

#[utoipa::path(post, path = "/tenants/{t}/departments", tag = "directory",
    params(("t" = Slug, Path, description = "Tenant id")), request_body = DepartmentDoc,
    responses((status = 201, description = "Created", body = DepartmentDoc), (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody),
        (status = 403, description = "The policy refuses; the message says why", body = ErrorBody), (status = 404, description = "Not found (also anything of another tenant)", body = ErrorBody),
        (status = 409, description = "Conflict", body = ErrorBody), (status = 422, description = "Invalid input; the message names the field", body = ErrorBody)))]
pub async fn create_department(
    State(state): State<ServerState>,
    caller: Caller,
    Path(t): Path<String>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    Body(doc): Body<DepartmentDoc>,
) -> Result<(StatusCode, Json<DepartmentDoc>), ApiError> {
    let tenant = manageable(&state, &caller, &t).await?;
    let actor = client(&headers, address, caller.principal.user.to_string());
    let created = directory::create_department(&state.app, &actor, &tenant, doc).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(patch, path = "/tenants/{t}/departments/{d}", tag = "directory",
    params(("t" = Slug, Path, description = "Tenant id"), ("d" = Slug, Path, description = "Department id")),
    request_body = DepartmentPatch,
    responses((status = 200, description = "OK", body = DepartmentDoc), (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody),
        (status = 403, description = "The policy refuses (`forbidden`), or the approval policy covers the entries a change of template brings or takes away (`approval_required`); the message says why", body = ErrorBody), (status = 404, description = "Not found (also anything of another tenant)", body = ErrorBody),
        (status = 422, description = "Invalid input; the message names the field", body = ErrorBody)))]
pub async fn update_department(
    State(state): State<ServerState>,
    caller: Caller,
    Path((t, d)): Path<(String, String)>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    Body(patch): Body<DepartmentPatch>,
) -> Result<Json<DepartmentDoc>, ApiError> {
    let tenant = manageable(&state, &caller, &t).await?;
    let department = slug("department", &d)?;
    let actor = client(&headers, address, caller.principal.user.to_string());
    let patch = patch_object(patch)?;
    Ok(Json(
        directory::update_department(&state.app, &actor, &tenant, &department, patch).await?,
    ))
}

#[utoipa::path(delete, path = "/tenants/{t}/departments/{d}", tag = "directory",
    params(("t" = Slug, Path, description = "Tenant id"), ("d" = Slug, Path, description = "Department id"), DeleteQuery),
    responses((status = 204, description = "Deleted with its entries; its users keep no department"),
        (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody), (status = 403, description = "The policy refuses; the message says why", body = ErrorBody),
        (status = 404, description = "Not found (also anything of another tenant)", body = ErrorBody),
        (status = 422, description = "Invalid input; the message names the field", body = ErrorBody)))]
pub async fn delete_department(
    State(state): State<ServerState>,
    caller: Caller,
    Path((t, d)): Path<(String, String)>,
    query: DeleteParams,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let tenant = manageable(&state, &caller, &t).await?;
    let department = slug("department", &d)?;
    let reason = delete_reason(query)?;
    let actor = client(&headers, address, caller.principal.user.to_string());
    let doomed = Doomed::Department(tenant, department);
    directory::delete(&state.app, &actor, &doomed, reason).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/tenants/{t}/groups", tag = "directory",
    params(("t" = Slug, Path, description = "Tenant id")),
    responses((status = 200, description = "The groups the caller may read", body = [GroupDoc]),
        (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody), (status = 404, description = "Not found (also anything of another tenant)", body = ErrorBody)))]
pub async fn list_groups(
    State(state): State<ServerState>,
    caller: Caller,
    Path(t): Path<String>,
) -> Result<Json<Vec<GroupDoc>>, ApiError> {
    Ok(Json(
        readable_tenant(&state, &caller, &t)
            .await?
            .map(|doc| doc.groups)
            .unwrap_or_default(),
    ))
}

#[utoipa::path(post, path = "/tenants/{t}/groups", tag = "directory",
    params(("t" = Slug, Path, description = "Tenant id")), request_body = GroupDoc,
    responses((status = 201, description = "Created", body = GroupDoc), (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody),
        (status = 403, description = "The policy refuses; the message says why", body = ErrorBody), (status = 404, description = "Not found (also anything of another tenant)", body = ErrorBody),
        (status = 409, description = "Conflict", body = ErrorBody), (status = 422, description = "Invalid input; the message names the field", body = ErrorBody)))]
pub async fn create_group(
    State(state): State<ServerState>,
    caller: Caller,
    Path(t): Path<String>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    Body(doc): Body<GroupDoc>,
) -> Result<(StatusCode, Json<GroupDoc>), ApiError> {
    let tenant = manageable(&state, &caller, &t).await?;
    let actor = client(&headers, address, caller.principal.user.to_string());
    let created = directory::create_group(&state.app, &actor, &tenant, doc).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(patch, path = "/tenants/{t}/groups/{g}", tag = "directory",
    params(("t" = Slug, Path, description = "Tenant id"), ("g" = Slug, Path, description = "Group id")),
    request_body = GroupPatch,
    responses((status = 200, description = "OK", body = GroupDoc), (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody),
        (status = 403, description = "The policy refuses (`forbidden`), or the approval policy covers the entries a change of template brings or takes away (`approval_required`); the message says why", body = ErrorBody), (status = 404, description = "Not found (also anything of another tenant)", body = ErrorBody),
        (status = 422, description = "Invalid input; the message names the field", body = ErrorBody)))]
pub async fn update_group(
    State(state): State<ServerState>,
    caller: Caller,
    Path((t, g)): Path<(String, String)>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    Body(patch): Body<GroupPatch>,
) -> Result<Json<GroupDoc>, ApiError> {
    let tenant = manageable(&state, &caller, &t).await?;
    let group = slug("group", &g)?;
    let actor = client(&headers, address, caller.principal.user.to_string());
    let patch = patch_object(patch)?;
    Ok(Json(
        directory::update_group(&state.app, &actor, &tenant, &group, patch).await?,
    ))
}

#[utoipa::path(delete, path = "/tenants/{t}/groups/{g}", tag = "directory",
    params(("t" = Slug, Path, description = "Tenant id"), ("g" = Slug, Path, description = "Group id"), DeleteQuery),
    responses((status = 204, description = "Deleted with its entries and memberships"),
        (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody), (status = 403, description = "The policy refuses; the message says why", body = ErrorBody),
        (status = 404, description = "Not found (also anything of another tenant)", body = ErrorBody),
        (status = 422, description = "Invalid input; the message names the field", body = ErrorBody)))]
pub async fn delete_group(
    State(state): State<ServerState>,
    caller: Caller,
    Path((t, g)): Path<(String, String)>,
    query: DeleteParams,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let tenant = manageable(&state, &caller, &t).await?;
    let group = slug("group", &g)?;
    let reason = delete_reason(query)?;
    let actor = client(&headers, address, caller.principal.user.to_string());
    directory::delete(&state.app, &actor, &Doomed::Group(tenant, group), reason).await?;
    Ok(StatusCode::NO_CONTENT)
}

// Users.

/// User `u` if the caller may read it (another tenant's: 404).
async fn visible_user(state: &ServerState, caller: &Caller, u: &str) -> Result<UserDoc, ApiError> {
    let user = slug("user", u)?;
    let doc = directory::user_doc(&state.app, &user).await?;
    access::authorize_read_user(&caller.principal, &doc)?;
    Ok(doc)
}

#[utoipa::path(get, path = "/users", tag = "directory",
    responses((status = 200, description = "The users the caller may read", body = [UserDoc]),
        (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody)))]
pub async fn list_users(
    State(state): State<ServerState>,
    caller: Caller,
) -> Result<Json<Vec<UserDoc>>, ApiError> {
    Ok(Json(
        directory::visible(&state.app, &caller.principal)
            .await?
            .users,
    ))
}

#[utoipa::path(post, path = "/users", tag = "directory", request_body = UserDoc,
    responses((status = 201, description = "Created without a password", body = UserDoc),
        (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody), (status = 403, description = "The policy refuses; the message says why", body = ErrorBody),
        (status = 404, description = "Not found (also anything of another tenant)", body = ErrorBody), (status = 409, description = "Conflict", body = ErrorBody),
        (status = 422, description = "Invalid input; the message names the field", body = ErrorBody)))]
pub async fn create_user(
    State(state): State<ServerState>,
    caller: Caller,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    Body(doc): Body<UserDoc>,
) -> Result<(StatusCode, Json<UserDoc>), ApiError> {
    caller.writing()?;
    access::authorize_user_change(&caller.principal, None, Some(&doc))?;
    let actor = client(&headers, address, caller.principal.user.to_string());
    let created = directory::create_user(&state.app, &actor, doc).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(get, path = "/users/{u}", tag = "directory",
    params(("u" = Slug, Path, description = "User id")),
    responses((status = 200, description = "OK", body = UserDoc), (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody),
        (status = 403, description = "The policy refuses; the message says why", body = ErrorBody), (status = 404, description = "Not found (also anything of another tenant)", body = ErrorBody)))]
pub async fn get_user(
    State(state): State<ServerState>,
    caller: Caller,
    Path(u): Path<String>,
) -> Result<Json<UserDoc>, ApiError> {
    Ok(Json(visible_user(&state, &caller, &u).await?))
}

#[utoipa::path(patch, path = "/users/{u}", tag = "directory",
    params(("u" = Slug, Path, description = "User id")),
    request_body = UserPatch,
    responses((status = 200, description = "OK", body = UserDoc), (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody),
        (status = 403, description = "The policy refuses; the message says why", body = ErrorBody), (status = 404, description = "Not found (also anything of another tenant)", body = ErrorBody),
        (status = 422, description = "Invalid input; the message names the field", body = ErrorBody)))]
pub async fn update_user(
    State(state): State<ServerState>,
    caller: Caller,
    Path(u): Path<String>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    Body(patch): Body<UserPatch>,
) -> Result<Json<UserDoc>, ApiError> {
    caller.writing()?;
    let before = visible_user(&state, &caller, &u).await?;
    let user = slug("user", &u)?;
    let patch = patch_object(patch)?;
    let (before, after) = directory::patched_user(&state.app, &user, patch)
        .await
        .map(|(_, after)| (before, after))?;
    access::authorize_user_change(&caller.principal, Some(&before), Some(&after))?;
    let actor = client(&headers, address, caller.principal.user.to_string());
    Ok(Json(
        directory::update_user(&state.app, &actor, after).await?,
    ))
}

#[utoipa::path(delete, path = "/users/{u}", tag = "directory",
    params(("u" = Slug, Path, description = "User id"), DeleteQuery),
    responses((status = 204, description = "Deleted with their entries, memberships and tokens"),
        (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody), (status = 403, description = "The policy refuses; the message says why", body = ErrorBody),
        (status = 404, description = "Not found (also anything of another tenant)", body = ErrorBody), (status = 422, description = "Invalid input; the message names the field", body = ErrorBody)))]
pub async fn delete_user(
    State(state): State<ServerState>,
    caller: Caller,
    Path(u): Path<String>,
    query: DeleteParams,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    caller.writing()?;
    let reason = delete_reason(query)?;
    let before = visible_user(&state, &caller, &u).await?;
    access::authorize_user_change(&caller.principal, Some(&before), None)?;
    let user = slug("user", &u)?;
    let actor = client(&headers, address, caller.principal.user.to_string());
    directory::delete(&state.app, &actor, &Doomed::User(user), reason).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPassword {
    /// At least 12 characters; stored only as an argon2id hash.
    #[schema(min_length = 12)]
    password: String,
}

#[utoipa::path(put, path = "/users/{u}/password", tag = "directory",
    params(("u" = Slug, Path, description = "User id")), request_body = NewPassword,
    responses((status = 204, description = "The password is replaced"),
        (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody), (status = 403, description = "The policy refuses; the message says why", body = ErrorBody),
        (status = 404, description = "Not found (also anything of another tenant)", body = ErrorBody), (status = 422, description = "Invalid input; the message names the field", body = ErrorBody)))]
pub async fn set_password(
    State(state): State<ServerState>,
    caller: Caller,
    session: tower_sessions::Session,
    Path(u): Path<String>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    Body(body): Body<NewPassword>,
) -> Result<StatusCode, ApiError> {
    caller.writing()?;
    let before = visible_user(&state, &caller, &u).await?;
    // Setting a password is managing the account, like any other change to it.
    access::authorize_user_change(&caller.principal, Some(&before), Some(&before))?;
    let user = slug("user", &u)?;
    let actor = client(&headers, address, caller.principal.user.to_string());
    let epoch = accounts::set_password(&state.app, &actor, &user, body.password).await?;
    // Every other session of the account is over; the one that changed it stays.
    if caller.token.is_none() && caller.principal.user == user {
        app::auth::server::keep_after_password_change(&session, epoch).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}
