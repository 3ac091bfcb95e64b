//! What a backend service can answer besides success. Entry points map these to their own
//! surface (exit codes, HTTP statuses, console messages) through [`crate::error::WireError`].

use sea_orm::DbErr;

use super::entries::EntryView;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request is wrong; the message names the field and what was wrong.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    /// The policy refused; the message says why.
    #[error("{0}")]
    Forbidden(String),
    /// The entry changed since the caller read it.
    #[error("{message}")]
    Conflict {
        message: String,
        current: Option<Box<EntryView>>,
    },
    #[error("database error: {0}")]
    Database(#[from] DbErr),
}
