//! What a backend service can answer besides success. Entry points map these to their own
//! surface (exit codes, HTTP statuses, console messages) through [`crate::error::WireError`].

use sea_orm::{DbErr, RuntimeErr};

use super::entries::EntryView;
use crate::error::WireError;

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
    /// The approval policy asks for review: the change must go through a change request.
    #[error("{0}")]
    ApprovalRequired(String),
    /// The entry changed since the caller read it.
    #[error("{message}")]
    Conflict {
        message: String,
        current: Option<Box<EntryView>>,
    },
    #[error("database error: {0}")]
    Database(#[from] DbErr),
}

impl ServiceError {
    /// The wire form of this answer. A database that cannot be reached is `unavailable`
    /// (503, try again); any other failure goes to `internal`, which logs it and names it by
    /// request id only.
    pub fn into_wire(self, internal: impl FnOnce(&DbErr) -> WireError) -> WireError {
        match self {
            ServiceError::Invalid(m) => WireError::InvalidInput(m),
            ServiceError::NotFound(m) => WireError::NotFound(m),
            ServiceError::Forbidden(m) => WireError::Forbidden(m),
            ServiceError::ApprovalRequired(m) => WireError::ApprovalRequired(m),
            ServiceError::Conflict { message, current } => WireError::Conflict { message, current },
            ServiceError::Database(e) if unavailable(&e) => {
                tracing::warn!(error = %e, "the database is unavailable");
                WireError::Unavailable
            }
            ServiceError::Database(e) => internal(&e),
        }
    }
}

/// Whether `err` says the database cannot be reached (down, restarting, out of connections,
/// or busy past the wait) rather than that a statement failed.
pub fn unavailable(err: &DbErr) -> bool {
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            use sea_orm::sqlx::Error;
            match e.as_ref() {
                Error::Io(_)
                | Error::Tls(_)
                | Error::PoolTimedOut
                | Error::PoolClosed
                | Error::WorkerCrashed => true,
                Error::Database(db) => db.code().is_some_and(|code| {
                    // PostgreSQL: connection exceptions (08…), shutting down or starting up
                    // (57P01–57P03); SQLite: busy or locked past the busy timeout.
                    code.starts_with("08")
                        || ["57P01", "57P02", "57P03", "5", "6", "517"].contains(&code.as_ref())
                }),
                _ => false,
            }
        }
        _ => false,
    }
}
