//! The schema and the health service against a real database (SQLite, or PostgreSQL with
//! `STRATA_TEST_BACKEND=postgres`).

use app::backend::db;
use app::backend::health;
use app::backend::testing::TestDatabase;
use migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

#[tokio::test]
async fn migrations_apply_from_empty_and_are_idempotent() {
    let test = TestDatabase::empty().await;
    let before = health::database_status(&test.db).await;
    assert!(before.is_err(), "an empty database has no tenants table");

    db::migrate(&test.db).await.unwrap();
    db::migrate(&test.db).await.unwrap();

    let status = health::database_status(&test.db).await.unwrap();
    let expected = Migrator::migrations().len();
    assert_eq!(status.applied_migrations, expected);
    assert_eq!(
        status.latest_migration.as_deref(),
        Migrator::migrations().last().map(|m| m.name())
    );
    assert_eq!(status.tenants, 0);
    let expected_backend = match test.db.get_database_backend() {
        DbBackend::Postgres => "PostgreSQL",
        _ => "SQLite",
    };
    assert_eq!(status.backend, expected_backend);
}

#[tokio::test]
async fn status_reads_what_the_database_holds() {
    let test = TestDatabase::new().await;
    insert_tenant(&test.db, "mercy_hospital").await.unwrap();
    insert_tenant(&test.db, "general_hospital").await.unwrap();
    let status = health::database_status(&test.db).await.unwrap();
    assert_eq!(status.tenants, 2);
    assert!(
        status.database_time.ends_with(" UTC"),
        "{}",
        status.database_time
    );
}

#[tokio::test]
async fn the_database_refuses_a_duplicate_tenant_slug() {
    let test = TestDatabase::new().await;
    insert_tenant(&test.db, "mercy_hospital").await.unwrap();
    assert!(insert_tenant(&test.db, "mercy_hospital").await.is_err());
    let status = health::database_status(&test.db).await.unwrap();
    assert_eq!(status.tenants, 1);
}

#[tokio::test]
async fn readiness_follows_the_connection() {
    let test = TestDatabase::new().await;
    assert!(health::is_ready(&test.db).await);
    test.db.clone().close().await.unwrap();
    assert!(!health::is_ready(&test.db).await);
}

async fn insert_tenant(db: &sea_orm::DatabaseConnection, slug: &str) -> Result<(), sea_orm::DbErr> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "INSERT INTO tenants (slug, name, created_at) VALUES ($1, $2, now())"
        }
        _ => "INSERT INTO tenants (slug, name, created_at) VALUES (?, ?, CURRENT_TIMESTAMP)",
    };
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        sql,
        [slug.into(), format!("Tenant {slug}").into()],
    ))
    .await
    .map(|_| ())
}
