//! The one error type that crosses the wire (server functions and, later, the HTTP API).
//!
//! Domain and backend errors are mapped into it at the edge; internal failures become
//! [`WireError::Internal`], which carries only a request id so details stay in the server log.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
pub enum WireError {
    /// The request was malformed; the message names the field and what was wrong.
    #[error("{0}")]
    InvalidInput(String),
    /// Not signed in, or the sign-in failed; the message says which.
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The approval policy asks for a change request instead of a direct write.
    #[error("{0}")]
    ApprovalRequired(String),
    /// The entry changed since it was read; `current` is what it holds now.
    #[error("{message}")]
    Conflict {
        message: String,
        current: Option<Box<crate::views::EntryView>>,
    },
    /// The request body is too large.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// Too many attempts; the message says when to try again.
    #[error("{0}")]
    RateLimited(String),
    /// The database (or another dependency) did not answer.
    #[error("the service is temporarily unavailable; try again shortly")]
    Unavailable,
    /// Something failed on the server; the details are in its log under this request id.
    #[error("something went wrong on the server (request {request_id})")]
    Internal { request_id: String },
    /// The call never reached the server function (network, encoding).
    #[error("{0}")]
    Transport(String),
}

impl WireError {
    /// The stable machine-readable code of API.md.
    pub fn code(&self) -> &'static str {
        match self {
            WireError::InvalidInput(_) => "invalid_input",
            WireError::Unauthenticated(_) => "unauthenticated",
            WireError::RateLimited(_) => "rate_limited",
            WireError::PayloadTooLarge(_) => "payload_too_large",
            WireError::Forbidden(_) => "forbidden",
            WireError::ApprovalRequired(_) => "approval_required",
            WireError::NotFound(_) => "not_found",
            WireError::Conflict { .. } => "conflict",
            WireError::Unavailable => "unavailable",
            WireError::Internal { .. } | WireError::Transport(_) => "internal",
        }
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> u16 {
        match self {
            WireError::InvalidInput(_) => 422,
            WireError::Unauthenticated(_) => 401,
            WireError::RateLimited(_) => 429,
            WireError::PayloadTooLarge(_) => 413,
            WireError::Forbidden(_) | WireError::ApprovalRequired(_) => 403,
            WireError::NotFound(_) => 404,
            WireError::Conflict { .. } => 409,
            WireError::Unavailable => 503,
            WireError::Internal { .. } | WireError::Transport(_) => 500,
        }
    }
}

impl WireError {
    pub fn sign_in() -> Self {
        WireError::Unauthenticated("sign in to continue".into())
    }
}

impl FromServerFnError for WireError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        WireError::Transport(value.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_reveal_only_the_request_id() {
        let err = WireError::Internal {
            request_id: "abc-123".into(),
        };
        assert_eq!(
            err.to_string(),
            "something went wrong on the server (request abc-123)"
        );
        assert_eq!(err.status(), 500);
        assert_eq!(err.code(), "internal");
    }

    #[test]
    fn codes_and_statuses_follow_the_api_contract() {
        let cases = [
            (WireError::InvalidInput("x".into()), "invalid_input", 422),
            (
                WireError::Unauthenticated("x".into()),
                "unauthenticated",
                401,
            ),
            (WireError::RateLimited("x".into()), "rate_limited", 429),
            (WireError::Forbidden("x".into()), "forbidden", 403),
            (
                WireError::ApprovalRequired("x".into()),
                "approval_required",
                403,
            ),
            (WireError::NotFound("x".into()), "not_found", 404),
            (WireError::Unavailable, "unavailable", 503),
        ];
        for (err, code, status) in cases {
            assert_eq!(err.code(), code, "{err:?}");
            assert_eq!(err.status(), status, "{err:?}");
        }
    }
}
