//! Impact before saving (API.md "Change requests and impact"): whom a set of entry operations
//! would affect, from the snapshots. Nothing is written, nothing is audited; the caller must
//! be allowed to make every operation.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;

use app::backend::impact::{self, ImpactView, OpRequest};

use super::error::{ApiError, Body, ErrorBody};
use super::session::Caller;
use crate::http::ServerState;

/// `{"ops": [op…]}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImpactRequest {
    pub ops: Vec<OpRequest>,
}

#[utoipa::path(post, path = "/impact", tag = "configuration", request_body = ImpactRequest,
    responses((status = 200, description = "Whom the operations would affect: users whose effective values change (in all, per tenant, a sample with from → to), overrides a new lock would hide, overrides that would equal what they inherit. Nothing is written.", body = ImpactView),
        (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody),
        (status = 403, description = "The policy refuses one of the operations; the message says why", body = ErrorBody),
        (status = 404, description = "A scope was not found (also anything of another tenant)", body = ErrorBody),
        (status = 413, description = "The body is larger than 1 MiB", body = ErrorBody),
        (status = 422, description = "Invalid input; the message names the operation and field", body = ErrorBody)))]
pub async fn impact(
    State(state): State<ServerState>,
    caller: Caller,
    Body(request): Body<ImpactRequest>,
) -> Result<Json<ImpactView>, ApiError> {
    Ok(Json(
        impact::preview(&state.app, &caller.principal, &request.ops).await?,
    ))
}
