//! Types describing the health of the service, shared by the server and the console.

use serde::{Deserialize, Serialize};

/// What the database reported when asked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseStatus {
    /// `SQLite` or `PostgreSQL`.
    pub backend: String,
    pub applied_migrations: usize,
    pub latest_migration: Option<String>,
    pub tenants: u64,
    /// The database server's own clock, so each check is visibly a fresh round trip.
    pub database_time: String,
}
