//! The API's error answer, and a JSON body extractor whose refusals answer in that shape.

use axum::Json;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use app::backend::error::ServiceError;
use app::error::WireError;
use app::views::EntryView;

#[derive(Debug)]
pub struct ApiError(pub WireError);

/// Every refusal's body: `{"error": {"code", "message"}}`, and for a conflict the entry as
/// it is now (`current`, null when it no longer exists).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    error: ErrorDetail,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = true)]
    current: Option<Option<EntryView>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// `invalid_input`, `unauthenticated`, `forbidden`, `not_found`, `conflict`,
    /// `payload_too_large`, `rate_limited`, `unavailable` or `internal`.
    code: String,
    /// What was wrong, naming the field for invalid input.
    message: String,
}

impl ErrorDetail {
    /// An `invalid_input` refusal with its message.
    pub fn invalid(message: impl Into<String>) -> Self {
        ErrorDetail {
            code: "invalid_input".into(),
            message: message.into(),
        }
    }
}

/// A 422 naming the field and what is wrong with it.
pub fn invalid(message: impl Into<String>) -> ApiError {
    ApiError(WireError::InvalidInput(message.into()))
}

impl From<WireError> for ApiError {
    fn from(err: WireError) -> Self {
        ApiError(err)
    }
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        ApiError(err.into_wire(|e| internal(e)))
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(err: sea_orm::DbErr) -> Self {
        ServiceError::from(err).into()
    }
}

/// Logs the cause; the answer carries only an id to find it by.
pub fn internal(err: impl std::fmt::Display) -> WireError {
    let request_id = uuid::Uuid::new_v4().to_string();
    tracing::error!(error_id = %request_id, error = %err, "API request failed");
    WireError::Internal { request_id }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let err = self.0;
        let status =
            StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = ErrorBody {
            error: ErrorDetail {
                code: err.code().into(),
                message: err.to_string(),
            },
            current: match &err {
                WireError::Conflict { current, .. } => Some(current.as_deref().cloned()),
                _ => None,
            },
        };
        let mut headers = HeaderMap::new();
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(
                "www-authenticate",
                "Bearer".parse().expect("a valid header"),
            );
        }
        (status, headers, Json(body)).into_response()
    }
}

/// A numeric id from the path; anything else is a 422 naming it (axum's own answer is a
/// plain-text 400 that no document describes).
pub fn id(text: &str) -> Result<i64, ApiError> {
    text.parse()
        .map_err(|_| invalid(format!("id: expected a whole number, got {text:?}")))
}

pub async fn not_found() -> ApiError {
    ApiError(WireError::NotFound("no such API route".into()))
}

/// A JSON body: unknown fields and wrong types are 422 naming the field; over 1 MiB is 413.
pub struct Body<T>(pub T);

/// Like [`Body`], but an empty body or `null` stands for `T::default()`.
pub struct OptionalBody<T>(pub T);

async fn bytes<S: Send + Sync>(req: Request, state: &S) -> Result<axum::body::Bytes, ApiError> {
    match axum::body::Bytes::from_request(req, state).await {
        Ok(bytes) => Ok(bytes),
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Err(ApiError(WireError::PayloadTooLarge(format!(
                "the request body is larger than {} bytes",
                super::BODY_LIMIT
            ))))
        }
        Err(rejection) => Err(ApiError(WireError::InvalidInput(rejection.body_text()))),
    }
}

/// Every body the API takes is a JSON object: serde would read a struct from an array too.
fn object(bytes: &[u8]) -> Result<(), ApiError> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => Ok(()),
        _ => Err(ApiError(WireError::InvalidInput(
            "body: expected a JSON object".into(),
        ))),
    }
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = if path == "." {
            format!("body: {inner}")
        } else {
            format!("{path}: {inner}")
        };
        ApiError(WireError::InvalidInput(message))
    })
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = bytes(req, state).await?;
        object(&bytes)?;
        parse(&bytes).map(Body)
    }
}

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = bytes(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalBody(T::default()));
        }
        // `null` says "nothing" as well as an empty body does.
        if bytes.trim_ascii() == b"null" {
            return Ok(OptionalBody(T::default()));
        }
        object(&bytes)?;
        parse(&bytes).map(OptionalBody)
    }
}
