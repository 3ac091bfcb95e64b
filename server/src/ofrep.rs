//! `/ofrep/v1`: the OpenFeature Remote Evaluation Protocol over the effective configuration,
//! so an OpenFeature SDK with the OFREP provider reads Strata with no Strata-specific code.
//! These routes answer in the protocol's own shapes (`{"key", "errorCode", "errorDetails"}`),
//! not in the `/api/v1` ones; authentication and the policy are those of `/effective`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use app::backend::access;
use app::backend::resolution::{self, ContextSpec, Located};
use app::domain::name::{ConfigKey, Slug};
use app::domain::ofrep;
use app::error::WireError;

use crate::api::{ApiError, BODY_LIMIT, Caller, EffectiveKey, etag_matches};
use crate::http::ServerState;

pub fn routes() -> Router<ServerState> {
    Router::new()
        .route("/ofrep/v1/evaluate/flags/{key}", post(evaluate_flag))
        .route("/ofrep/v1/evaluate/flags", post(evaluate_flags))
        .route("/ofrep/v1/configuration", get(configuration))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

/// A refusal in the protocol's shape.
struct Failure {
    status: StatusCode,
    code: Option<&'static str>,
    details: String,
}

impl Failure {
    fn new(status: StatusCode, code: &'static str, details: impl Into<String>) -> Failure {
        Failure {
            status,
            code: Some(code),
            details: details.into(),
        }
    }

    /// The answer, naming `key` for a single flag.
    fn answer(self, key: Option<&str>) -> Response {
        let mut body = json!({"errorDetails": self.details});
        if let Some(code) = self.code {
            body["errorCode"] = json!(code);
        }
        if let (Some(key), Some(_)) = (key, self.code) {
            body["key"] = json!(key);
        }
        (self.status, axum::Json(body)).into_response()
    }
}

impl From<ApiError> for Failure {
    fn from(ApiError(err): ApiError) -> Failure {
        let (status, code) = match &err {
            // A context naming nothing this caller may see (another tenant's user looks
            // missing, as everywhere).
            WireError::NotFound(_) | WireError::InvalidInput(_) => {
                (StatusCode::BAD_REQUEST, Some("INVALID_CONTEXT"))
            }
            WireError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, None),
            WireError::Forbidden(_) => (StatusCode::FORBIDDEN, None),
            WireError::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, None),
            WireError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, None),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, None),
        };
        Failure {
            status,
            code,
            details: err.to_string(),
        }
    }
}

impl From<app::backend::error::ServiceError> for Failure {
    fn from(err: app::backend::error::ServiceError) -> Failure {
        Failure::from(ApiError::from(err))
    }
}

/// The evaluation context: `targetingKey` (a user id), else `tenant` with optional
/// `department` and `groups` (a what-if context). Other attributes are ignored.
fn context(body: &Bytes) -> Result<ContextSpec, Failure> {
    let request: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(body).map_err(|e| {
            Failure::new(
                StatusCode::BAD_REQUEST,
                "PARSE_ERROR",
                format!("the body is not JSON: {e}"),
            )
        })?
    };
    let Some(request) = request.as_object() else {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            "PARSE_ERROR",
            "the body must be an object with a context",
        ));
    };
    let empty = serde_json::Map::new();
    let context = match request.get("context") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(context)) => context,
        Some(_) => {
            return Err(Failure::new(
                StatusCode::BAD_REQUEST,
                "PARSE_ERROR",
                "context: expected an object",
            ));
        }
    };
    let invalid =
        |details: String| Failure::new(StatusCode::BAD_REQUEST, "INVALID_CONTEXT", details);
    let slug = |field: &'static str, value: &Value| -> Result<Slug, Failure> {
        let text = value
            .as_str()
            .ok_or_else(|| invalid(format!("{field}: expected a string")))?;
        Slug::parse(field, text).map_err(|e| invalid(format!("{field}: {e}")))
    };
    if let Some(user) = context.get("targetingKey") {
        return Ok(ContextSpec::User(slug("targetingKey", user)?));
    }
    let Some(tenant) = context.get("tenant") else {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            "TARGETING_KEY_MISSING",
            "the context needs a targetingKey (a user id) or a tenant",
        ));
    };
    let department = context
        .get("department")
        .map(|d| slug("department", d))
        .transpose()?;
    let groups = match context.get("groups") {
        None => Vec::new(),
        Some(Value::Array(groups)) => groups
            .iter()
            .map(|g| slug("groups", g))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(invalid("groups: expected an array of group ids".into())),
    };
    Ok(ContextSpec::WhatIf {
        tenant: slug("tenant", tenant)?,
        department,
        groups,
    }
    .canonical())
}

/// Authenticates, reads the context and finds its snapshot, as `/effective` does (sensitive
/// values stay masked: nothing here reveals).
async fn locate(
    state: &ServerState,
    caller: Result<Caller, ApiError>,
    body: &Bytes,
) -> Result<(ContextSpec, Located), Failure> {
    let caller = caller?;
    let spec = context(body)?;
    access::authorize_context(&state.app, &caller.principal, &spec, false).await?;
    let located = resolution::locate_context(&state.app, &spec)?;
    Ok((spec, located))
}

async fn evaluate_flag(
    State(state): State<ServerState>,
    Path(key): Path<String>,
    caller: Result<Caller, ApiError>,
    body: Bytes,
) -> Response {
    let answer = async {
        let (_, located) = locate(&state, caller, &body).await?;
        let not_found = || {
            Failure::new(
                StatusCode::NOT_FOUND,
                "FLAG_NOT_FOUND",
                format!("there is no key {key:?}"),
            )
        };
        let name = ConfigKey::parse(&key).map_err(|_| not_found())?;
        located
            .effective(|resolved| {
                resolved
                    .iter()
                    .find(|r| r.key.key == name)
                    .map(ofrep::evaluation)
            })
            .ok_or_else(not_found)
    };
    match answer.await {
        Ok(evaluation) => axum::Json(evaluation).into_response(),
        Err(failure) => failure.answer(Some(&key)),
    }
}

async fn evaluate_flags(
    State(state): State<ServerState>,
    caller: Result<Caller, ApiError>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (spec, located) = match locate(&state, caller, &body).await {
        Ok(found) => found,
        Err(failure) => return failure.answer(None),
    };
    let key = EffectiveKey {
        tenant: located.tenant().cloned(),
        version: located.version(),
        context: spec,
        reveal: false,
        env: false,
    };
    // Its own tag: this answer's shape differs from `/effective`'s for the same snapshot.
    let tag = format!("\"ofrep-{}", key.etag().trim_start_matches('"'));
    let mut response = if etag_matches(&headers, &tag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        axum::Json(located.effective(ofrep::bulk)).into_response()
    };
    if let Ok(value) = HeaderValue::from_str(&tag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// What the provider may rely on: polling the bulk evaluation with its ETag, every type.
async fn configuration(caller: Result<Caller, ApiError>) -> Response {
    if let Err(err) = caller {
        return Failure::from(err).answer(None);
    }
    axum::Json(json!({
        "name": "Strata",
        "capabilities": {
            "cacheInvalidation": {"polling": {"enabled": true, "minPollingIntervalMs": 1000}},
            "flagEvaluation": {"supportedTypes": ["int", "float", "string", "boolean", "object"]},
        },
    }))
    .into_response()
}
