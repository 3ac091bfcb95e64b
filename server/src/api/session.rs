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
use app::domain::policy::Principal;
use app::error::WireError;

use super::error::{ApiError, Body, internal};
use crate::http::ServerState;

/// The authenticated caller (the console's session cookie).
pub struct Caller(pub Principal);

impl FromRequestParts<ServerState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ServerState,
    ) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|(_, m)| ApiError(internal(m)))?;
        Ok(Caller(principal_of(&state.app, &session).await?))
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

pub async fn me(
    State(state): State<ServerState>,
    Caller(principal): Caller,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(user_json(&state, &principal).await?))
}
