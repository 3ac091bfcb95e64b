//! The API's error answer, and a JSON body extractor whose refusals answer in that shape.

use axum::Json;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::json;

use app::backend::error::ServiceError;
use app::error::WireError;

#[derive(Debug)]
pub struct ApiError(pub WireError);

impl From<WireError> for ApiError {
    fn from(err: WireError) -> Self {
        ApiError(err)
    }
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        ApiError(match err {
            ServiceError::Invalid(m) => WireError::InvalidInput(m),
            ServiceError::NotFound(m) => WireError::NotFound(m),
            ServiceError::Forbidden(m) => WireError::Forbidden(m),
            ServiceError::Conflict { message, current } => WireError::Conflict { message, current },
            ServiceError::Database(e) => internal(e),
        })
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
        let mut body = json!({"error": {"code": err.code(), "message": err.to_string()}});
        if let WireError::Conflict { current, .. } = &err {
            body["current"] = json!(current);
        }
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

pub async fn not_found() -> ApiError {
    ApiError(WireError::NotFound("no such API route".into()))
}

/// A JSON body: unknown fields and wrong types are 422 naming the field; over 1 MiB is 413.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = match axum::body::Bytes::from_request(req, state).await {
            Ok(bytes) => bytes,
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(ApiError(WireError::PayloadTooLarge(format!(
                    "the request body is larger than {} bytes",
                    super::BODY_LIMIT
                ))));
            }
            Err(rejection) => return Err(ApiError(WireError::InvalidInput(rejection.body_text()))),
        };
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(de).map(Body).map_err(|e| {
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
}
