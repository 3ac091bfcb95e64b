//! `POST/DELETE /api/v1/session`, `GET /api/v1/me`, and who the caller is.

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use app::auth::server::{begin, principal_of};
use app::backend::accounts::{self, LoginError};
use app::backend::audit::{Actor, ClientAddress};
use app::backend::resolution::Viewer;
use app::backend::tokens::{self, TokenView};
use app::domain::policy::Principal;
use app::error::WireError;

use super::error::{ApiError, Body, ErrorBody, internal};
use crate::http::ServerState;

/// The authenticated caller: `Authorization: Bearer strata_…`, or the console's session.
pub struct Caller {
    pub principal: Principal,
    /// A read-only token may not change anything.
    pub can_write: bool,
    /// A token without the `secrets` scope may not reveal anything.
    pub can_reveal: bool,
    /// The id of the token the request came with.
    pub token: Option<i64>,
    /// What it authenticated with, to check again later (a stream outlives its request).
    credential: Credential,
}

#[derive(Clone)]
enum Credential {
    Token(String),
    Session(Session),
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

    /// Who sees secrets this caller asks to reveal (the policy has said whether they may):
    /// a token's reveals are audited once per secret version, a person's every time.
    pub fn viewer<'a>(&self, actor: &'a Actor) -> Result<Viewer<'a>, ApiError> {
        if !self.can_reveal {
            return Err(ApiError(WireError::Forbidden(
                "this token may not reveal secrets (it lacks the secrets scope)".into(),
            )));
        }
        Ok(match self.token {
            Some(token_id) => Viewer::Token { actor, token_id },
            None => Viewer::Person(actor),
        })
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
        let credential = match bearer {
            Some(token) => Credential::Token(token.to_owned()),
            None => Credential::Session(
                Session::from_request_parts(parts, state)
                    .await
                    .map_err(|(_, m)| ApiError(internal(m)))?,
            ),
        };
        let address = parts.extensions.get::<ClientAddress>().copied();
        let actor = client(&parts.headers, address, "token".into());
        Caller::authenticate(state, credential, &actor).await
    }
}

impl Caller {
    async fn authenticate(
        state: &ServerState,
        credential: Credential,
        actor: &Actor,
    ) -> Result<Caller, ApiError> {
        match &credential {
            Credential::Token(token) => match tokens::authenticate(&state.app, token, actor).await?
            {
                Some(found) => Ok(Caller {
                    principal: found.principal,
                    can_write: found.can_write,
                    can_reveal: found.can_reveal,
                    token: Some(found.token_id),
                    credential,
                }),
                None => Err(ApiError(WireError::Unauthenticated(
                    "the token is not valid (unknown, expired or revoked)".into(),
                ))),
            },
            Credential::Session(session) => {
                let principal = principal_of(&state.app, session).await?;
                Ok(Caller {
                    principal,
                    can_write: true,
                    can_reveal: true,
                    token: None,
                    credential,
                })
            }
        }
    }

    /// The same credential checked again, for a request that outlives its start (a watch
    /// stream): an error once the token is revoked or expired, the session ended, or the
    /// account disabled; else the caller as it stands now (its traits may have changed).
    pub async fn again(&self, state: &ServerState, actor: &Actor) -> Result<Caller, ApiError> {
        Caller::authenticate(state, self.credential.clone(), actor).await
    }
}

/// The client's address, when the server knows it (see [`ClientAddress`]).
pub struct ClientAddr(pub Option<ClientAddress>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(parts.extensions.get::<ClientAddress>().copied()))
    }
}

/// The client's address and user agent, for the audit.
pub fn client(headers: &HeaderMap, address: Option<ClientAddress>, name: String) -> Actor {
    let agent = headers.get("user-agent").and_then(|v| v.to_str().ok());
    Actor::from_client(name, address, agent)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    username: String,
    password: String,
}

/// The signed-in user.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Me {
    id: String,
    name: Option<String>,
    tenant: Option<String>,
    department: Option<String>,
    groups: Vec<String>,
    traits: Vec<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SignedIn {
    user: Me,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    id: i64,
    /// `strata_…`; shown once, stored only as a hash.
    token: String,
}

async fn me_of(state: &ServerState, p: &Principal) -> Result<Me, ApiError> {
    let name = accounts::display_name(&state.app.db, p.user.as_str()).await?;
    Ok(Me {
        id: p.user.to_string(),
        name,
        tenant: p.tenant.as_ref().map(ToString::to_string),
        department: p.department.as_ref().map(ToString::to_string),
        groups: p.groups.iter().map(ToString::to_string).collect(),
        traits: p.traits.iter().map(|t| t.as_str().to_owned()).collect(),
    })
}

#[utoipa::path(post, path = "/session", tag = "session", security(()), request_body = Credentials,
    responses((status = 200, description = "Signed in; the session cookie is set", body = SignedIn),
        (status = 401, description = "Wrong username or password (the same answer for both)", body = ErrorBody),
        (status = 422, description = "The body is not `{\"username\", \"password\"}`", body = ErrorBody),
        (status = 403, description = "The account may not use the console", body = ErrorBody),
        (status = 429, description = "Too many failed attempts; see Retry-After", body = ErrorBody)))]
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
            let user = me_of(&state, &principal).await?;
            Ok(Json(SignedIn { user }).into_response())
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

#[utoipa::path(delete, path = "/session", tag = "session", security(()),
    responses((status = 204, description = "Signed out; the session, if there was one, is deleted")))]
pub async fn delete(session: Session) -> Result<StatusCode, ApiError> {
    session.flush().await.map_err(|e| ApiError(internal(e)))?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/me", tag = "session",
    responses((status = 200, description = "OK", body = Me), (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody)))]
pub async fn me(State(state): State<ServerState>, caller: Caller) -> Result<Json<Me>, ApiError> {
    Ok(Json(me_of(&state, &caller.principal).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    #[schema(value_type = app::domain::schema::DisplayName)]
    name: String,
    /// `read`, optionally with `write` (change things) and `secrets` (reveal what the
    /// creator may reveal), each once.
    #[schema(value_type = Vec<tokens::TokenScope>, min_items = 1, max_items = 3)]
    scopes: Vec<String>,
    /// Days until the token expires (1 to 3650); none: it does not expire.
    #[schema(minimum = 1, maximum = 3650)]
    #[serde(
        default,
        deserialize_with = "app::domain::document::integral::optional"
    )]
    expires_in_days: Option<u32>,
}

fn session_only(caller: &Caller) -> Result<(), ApiError> {
    if caller.token.is_some() {
        return Err(ApiError(WireError::Forbidden(
            "tokens are managed from a signed-in session".into(),
        )));
    }
    Ok(())
}

#[utoipa::path(post, path = "/tokens", tag = "session", request_body = NewToken,
    responses((status = 201, description = "The token, shown this once", body = CreatedToken),
        (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody),
        (status = 403, description = "Tokens are managed from a signed-in session", body = ErrorBody),
        (status = 422, description = "Invalid input; the message names the field", body = ErrorBody)))]
pub async fn create_token(
    State(state): State<ServerState>,
    caller: Caller,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    Body(body): Body<NewToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
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
    Ok((StatusCode::CREATED, Json(CreatedToken { id, token })))
}

#[utoipa::path(get, path = "/tokens", tag = "session",
    responses((status = 200, description = "The caller's own tokens, never their secrets", body = [TokenView]),
        (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody), (status = 403, description = "The policy refuses; the message says why", body = ErrorBody)))]
pub async fn list_tokens(
    State(state): State<ServerState>,
    caller: Caller,
) -> Result<Json<Vec<TokenView>>, ApiError> {
    session_only(&caller)?;
    Ok(Json(tokens::list(&state.app, &caller.principal).await?))
}

#[utoipa::path(delete, path = "/tokens/{id}", tag = "session",
    params(("id" = i64, Path, minimum = -9223372036854775808i64, maximum = 9223372036854775807i64, description = "Token id")),
    responses((status = 204, description = "Revoked"), (status = 401, description = "Not signed in, or the token is not valid", body = ErrorBody),
        (status = 403, description = "The policy refuses; the message says why", body = ErrorBody), (status = 404, description = "Not found (also anything of another tenant)", body = ErrorBody),
        (status = 422, description = "The id is not a whole number", body = ErrorBody)))]
pub async fn revoke_token(
    State(state): State<ServerState>,
    caller: Caller,
    axum::extract::Path(id): axum::extract::Path<String>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    session_only(&caller)?;
    let id = super::error::id(&id)?;
    let actor = client(&headers, address, caller.principal.user.to_string());
    tokens::revoke(&state.app, &actor, &caller.principal, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
