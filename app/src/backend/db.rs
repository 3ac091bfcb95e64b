//! Connecting to the database (SQLite or PostgreSQL, chosen by URL) and migrating it.

use std::path::Path;

use migrations::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr,
    TransactionTrait,
};

/// How long opening one connection may take.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);
/// How long a request waits for a pooled connection before it is answered `unavailable`.
pub const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// The embedded default: a SQLite file under `./data/`, created on first use.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/strata.db?mode=rwc";

/// Opens a pool for `url`. For a SQLite file its directory is created first, so a fresh
/// checkout starts without any set-up.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    if let Some(path) = sqlite_file_path(url)
        && let Some(dir) = Path::new(path).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| DbErr::Custom(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut options = ConnectOptions::new(url.to_owned());
    // Statements are not logged: values in them may be sensitive, and request logs say enough.
    options.sqlx_logging(false);
    // A database that is down or unreachable is answered within seconds (503, and `/readyz`
    // says so) instead of holding requests until the operating system gives up.
    options
        .connect_timeout(CONNECT_TIMEOUT)
        .acquire_timeout(ACQUIRE_TIMEOUT);
    let db = Database::connect(options).await?;
    if db.get_database_backend() == DbBackend::Sqlite {
        // WAL lets readers proceed while a writer commits; it is a property of the file.
        db.execute_unprepared("PRAGMA journal_mode = WAL").await?;
    }
    Ok(db)
}

/// Applies every pending migration. One process migrates at a time: replicas started together
/// on a new database (a rolling deploy's first start) wait for the first, then find nothing
/// left to do, instead of creating the same tables twice.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    match db.get_database_backend() {
        DbBackend::Postgres => {
            // A transaction-scoped advisory lock on a connection of its own, held while the
            // migrations run on the others; committing releases it.
            let lock = db.begin().await?;
            lock.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
                .await?;
            let migrated = Migrator::up(db, None).await;
            lock.commit().await?;
            migrated
        }
        _ => {
            let _lock = match sqlite_main_file(db).await? {
                Some(file) => Some(lock_file(format!("{file}.migrate-lock")).await?),
                None => None,
            };
            Migrator::up(db, None).await
        }
    }
}

/// The advisory lock id of migrations (any constant; "strata" in ASCII).
const MIGRATION_LOCK: i64 = 0x7374_7261_7461;

/// The file of the main SQLite database (none in memory).
async fn sqlite_main_file(db: &DatabaseConnection) -> Result<Option<String>, DbErr> {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            DbBackend::Sqlite,
            "SELECT file FROM pragma_database_list WHERE name = 'main'",
        ))
        .await?;
    Ok(row
        .map(|r| r.try_get::<String>("", "file"))
        .transpose()?
        .filter(|file| !file.is_empty()))
}

/// An exclusive lock on `path` (created when missing), held until the file is dropped.
async fn lock_file(path: String) -> Result<std::fs::File, DbErr> {
    tokio::task::spawn_blocking(move || {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        file.lock()?;
        Ok::<_, std::io::Error>(file)
    })
    .await
    .map_err(|e| DbErr::Custom(format!("migration lock: {e}")))?
    .map_err(|e| DbErr::Custom(format!("migration lock: {e}")))
}

/// The file behind a `sqlite:` URL, if it names one (not an in-memory database).
fn sqlite_file_path(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.starts_with(":memory:")).then_some(path)
}

/// The connection pool as `/metrics` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// Open connections, idle or in use.
    pub open: u32,
    pub idle: u32,
    pub max: u32,
}

pub fn pool_status(db: &DatabaseConnection) -> Option<PoolStatus> {
    fn of<D: sea_orm::sqlx::Database>(pool: &sea_orm::sqlx::Pool<D>) -> PoolStatus {
        PoolStatus {
            open: pool.size(),
            idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
            max: pool.options().get_max_connections(),
        }
    }
    match db.get_database_backend() {
        DbBackend::Sqlite => Some(of(db.get_sqlite_connection_pool())),
        DbBackend::Postgres => Some(of(db.get_postgres_connection_pool())),
        _ => None,
    }
}

/// A human name for the database product behind a connection.
pub fn backend_name(db: &DatabaseConnection) -> &'static str {
    match db.get_database_backend() {
        DbBackend::Sqlite => "SQLite",
        DbBackend::Postgres => "PostgreSQL",
        DbBackend::MySql => "MySQL",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::sqlite_file_path;

    #[test]
    fn finds_the_file_of_a_sqlite_url() {
        assert_eq!(
            sqlite_file_path("sqlite://data/strata.db?mode=rwc"),
            Some("data/strata.db")
        );
        assert_eq!(sqlite_file_path("sqlite:/tmp/x.db"), Some("/tmp/x.db"));
        assert_eq!(sqlite_file_path("sqlite::memory:"), None);
        assert_eq!(sqlite_file_path("postgres://localhost/strata"), None);
    }
}
