//! `POST/DELETE /api/v1/session`, `GET /api/v1/me`, and who the caller is.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use tower_sessions::Session;

use app::auth::server::{begin, principal_of};
use app::backend::accounts::{self, LoginError};
use app::backend::audit::Actor;
use app::backend::tokens;
use app::domain::policy::Principal;
use app::error::WireError;

use super::error::{ApiError, Body, internal};
use crate::http::ServerState;

/// The authenticated caller: `Authorization: Bearer strata_…`, or the console's session.
pub struct Caller {
    pub principal: Principal,
    /// A read-only token may not change anything.
    pub can_write: bool,
    pub via_token: bool,
}

impl Caller {
    /// Refuses a token without the `write` scope.
    pub fn writing(&self) -> Result<(), ApiError> {
        if self.can_write {
            Ok(())
        } else {
            Err(ApiError(WireError::Forbidden(
                "this token may only read (scope read)".into(),
            )))
        }
    }
}

impl FromRequestParts<ServerState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ServerState,
    ) -> Result<Self, Self::Rejection> {
        let bearer = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        if let Some(token) = bearer {
            let address = parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0);
            let actor = client(&parts.headers, address, "token".into());
            return match tokens::authenticate(&state.app, token, &actor).await? {
                Some(found) => Ok(Caller {
                    principal: found.principal,
                    can_write: found.can_write,
                    via_token: true,
                }),
                None => Err(ApiError(WireError::Unauthenticated(
                    "the token is not valid (unknown, expired or revoked)".into(),
                ))),
            };
        }
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|(_, m)| ApiError(internal(m)))?;
        let principal = principal_of(&state.app, &session).await?;
        Ok(Caller {
            principal,
            can_write: true,
            via_token: false,
        })
    }
}

/// The client's address, when the server knows it.
pub struct ClientAddr(pub Option<SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0),
        ))
    }
}

/// The client's address and user agent, for the audit.
pub fn client(headers: &HeaderMap, address: Option<SocketAddr>, name: String) -> Actor {
    Actor {
        name,
        client_ip: address.map(|a| a.ip().to_string()),
        user_agent: headers
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    username: String,
    password: String,
}

async fn user_json(state: &ServerState, p: &Principal) -> Result<Value, ApiError> {
    let name = accounts::display_name(&state.app.db, p.user.as_str())
        .await
        .map_err(internal)?;
    Ok(json!({
        "id": p.user,
        "name": name,
        "tenant": p.tenant,
        "department": p.department,
        "groups": p.groups,
        "traits": p.traits,
    }))
}

pub async fn create(
    State(state): State<ServerState>,
    session: Session,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    Body(credentials): Body<Credentials>,
) -> Result<Response, ApiError> {
    let actor = client(&headers, address, String::new());
    match accounts::login(
        &state.app,
        &credentials.username,
        credentials.password,
        &actor,
    )
    .await
    {
        Ok(principal) => {
            begin(&state.app, &session, &principal).await?;
            Ok(Json(json!({"user": user_json(&state, &principal).await?})).into_response())
        }
        Err(LoginError::Invalid) => Err(ApiError(WireError::Unauthenticated(
            LoginError::Invalid.to_string(),
        ))),
        Err(e @ LoginError::Throttled { .. }) => {
            let retry = match &e {
                LoginError::Throttled { retry_after } => retry_after.num_seconds().max(1),
                _ => 1,
            };
            let mut response = ApiError(WireError::RateLimited(e.to_string())).into_response();
            response.headers_mut().insert("retry-after", retry.into());
            Ok(response)
        }
        Err(LoginError::Service(e)) => Err(e.into()),
    }
}

pub async fn delete(session: Session) -> Result<StatusCode, ApiError> {
    session.flush().await.map_err(|e| ApiError(internal(e)))?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn me(State(state): State<ServerState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    Ok(Json(user_json(&state, &caller.principal).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    name: String,
    scopes: Vec<String>,
    expires_in_days: Option<u32>,
}

fn session_only(caller: &Caller) -> Result<(), ApiError> {
    if caller.via_token {
        return Err(ApiError(WireError::Forbidden(
            "tokens are managed from a signed-in session".into(),
        )));
    }
    Ok(())
}

pub async fn create_token(
    State(state): State<ServerState>,
    caller: Caller,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    Body(body): Body<NewToken>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    session_only(&caller)?;
    let actor = client(&headers, address, caller.principal.user.to_string());
    let (id, token) = tokens::create(
        &state.app,
        &actor,
        &caller.principal,
        &body.name,
        &body.scopes,
        body.expires_in_days,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!({"id": id, "token": token}))))
}

pub async fn list_tokens(
    State(state): State<ServerState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    session_only(&caller)?;
    Ok(Json(json!(
        tokens::list(&state.app, &caller.principal).await?
    )))
}

pub async fn revoke_token(
    State(state): State<ServerState>,
    caller: Caller,
    axum::extract::Path(id): axum::extract::Path<i64>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    session_only(&caller)?;
    let actor = client(&headers, address, caller.principal.user.to_string());
    tokens::revoke(&state.app, &actor, &caller.principal, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
