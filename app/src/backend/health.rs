//! Whether the database answers, and what it holds: used by `/readyz` and the overview page.

use migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};

use super::db::backend_name;
use crate::health::DatabaseStatus;

/// True when the database answers a trivial query.
pub async fn is_ready(db: &DatabaseConnection) -> bool {
    db.ping().await.is_ok()
}

/// Reads the schema state and the database's own clock, so a caller sees a real round trip.
pub async fn database_status(db: &DatabaseConnection) -> Result<DatabaseStatus, DbErr> {
    let backend = db.get_database_backend();
    let applied: Vec<String> = Migrator::get_applied_migrations(db)
        .await?
        .into_iter()
        .map(|m| m.name().to_owned())
        .collect();
    let clock_sql = match backend {
        DbBackend::Postgres => {
            "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS') AS now"
        }
        _ => "SELECT strftime('%Y-%m-%d %H:%M:%f', 'now') AS now",
    };
    let now: String = scalar(db, clock_sql, "now").await?;
    let tenants: i64 = scalar(db, "SELECT COUNT(*) AS n FROM tenants", "n").await?;
    Ok(DatabaseStatus {
        backend: backend_name(db).to_owned(),
        applied_migrations: applied.len(),
        latest_migration: applied.last().cloned(),
        tenants: tenants.try_into().unwrap_or_default(),
        database_time: format!("{now} UTC"),
    })
}

async fn scalar<T: sea_orm::TryGetable>(
    db: &DatabaseConnection,
    sql: &str,
    column: &str,
) -> Result<T, DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?
        .ok_or_else(|| DbErr::Custom(format!("no row from `{sql}`")))?;
    row.try_get("", column)
}
