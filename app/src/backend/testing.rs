//! A fresh, migrated database per test, on SQLite by default or on PostgreSQL when
//! `STRATA_TEST_BACKEND=postgres` (then `TEST_DATABASE_URL` names the server; each test gets its
//! own schema there, so tests run in parallel without seeing each other).

use sea_orm::{ConnectionTrait, DatabaseConnection};

use super::crypto::SecretBox;
use super::{AppState, db};

/// The master key of every test (base64 of `strata-test-master-key-32-bytes!`).
pub const TEST_MASTER_KEY: &str = "c3RyYXRhLXRlc3QtbWFzdGVyLWtleS0zMi1ieXRlcyE=";

pub struct TestDatabase {
    /// A URL that reaches this test's database, for subprocesses such as the CLI.
    pub url: String,
    pub db: DatabaseConnection,
    // Keeps the SQLite file alive for the test's duration.
    _dir: Option<tempfile::TempDir>,
}

impl TestDatabase {
    /// Creates and migrates a new database. Panics when the test environment is unusable:
    /// a test without its database cannot say anything.
    pub async fn new() -> Self {
        let this = Self::empty().await;
        db::migrate(&this.db)
            .await
            .expect("migrate the test database");
        this
    }

    /// The services over this database, with [`TEST_MASTER_KEY`].
    pub async fn state(&self) -> AppState {
        let secrets = SecretBox::from_base64(TEST_MASTER_KEY, &[]).expect("the test key is valid");
        AppState::start(self.db.clone(), secrets)
            .await
            .expect("load the snapshots")
    }

    /// Creates a new database without migrating it.
    pub async fn empty() -> Self {
        if std::env::var("STRATA_TEST_BACKEND").as_deref() == Ok("postgres") {
            let base = std::env::var("TEST_DATABASE_URL")
                .expect("STRATA_TEST_BACKEND=postgres needs TEST_DATABASE_URL");
            let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
            let admin = db::connect(&base)
                .await
                .expect("connect to TEST_DATABASE_URL");
            admin
                .execute_unprepared(&format!("CREATE SCHEMA {schema}"))
                .await
                .expect("create the test schema");
            admin.close().await.expect("close");
            let separator = if base.contains('?') { '&' } else { '?' };
            let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
            let db = db::connect(&url).await.expect("connect to the test schema");
            Self {
                url,
                db,
                _dir: None,
            }
        } else {
            let dir = tempfile::tempdir().expect("temporary directory");
            let url = format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("strata.db").display()
            );
            let db = db::connect(&url).await.expect("open the SQLite file");
            Self {
                url,
                db,
                _dir: Some(dir),
            }
        }
    }
}
