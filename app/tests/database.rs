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

/// The schema itself refuses orphans, duplicates and cross-tenant references.
#[tokio::test]
async fn the_schema_refuses_orphans_duplicates_and_cross_tenant_references() {
    let test = TestDatabase::new().await;
    let db = &test.db;
    let now = match db.get_database_backend() {
        DbBackend::Postgres => "now()",
        _ => "CURRENT_TIMESTAMP",
    };
    let run = |sql: String| async move { db.execute_unprepared(&sql).await.map(|_| ()) };
    insert_tenant(db, "a").await.unwrap();
    insert_tenant(db, "b").await.unwrap();
    run(format!(
        "INSERT INTO departments (tenant_id, slug, name, created_at) VALUES (1, 'd', 'D', {now})"
    ))
    .await
    .unwrap();
    run(format!("INSERT INTO groups (tenant_id, slug, name, priority, created_at) VALUES (1, 'g', 'G', 0, {now})")).await.unwrap();
    run(format!("INSERT INTO config_keys (name, key_type, description, category, constraints, sensitive, levels, user_editable, created_at, updated_at) VALUES ('k', 'json', '', '', '{{}}', false, '[]', false, {now}, {now})")).await.unwrap();
    let entry = |level: &str, cols: &str, vals: &str| {
        format!(
            "INSERT INTO entries (key_id, level{cols}, value, encrypted, locked, version, updated_at, updated_by) VALUES (1, '{level}'{vals}, '1', false, false, 1, {now}, 't')"
        )
    };
    run(entry("global", "", "")).await.unwrap();

    let refused = [
        // a department of an unknown tenant, a duplicate slug
        format!(
            "INSERT INTO departments (tenant_id, slug, name, created_at) VALUES (99, 'x', 'X', {now})"
        ),
        format!(
            "INSERT INTO departments (tenant_id, slug, name, created_at) VALUES (1, 'd', 'again', {now})"
        ),
        // a user in tenant b with tenant a's department; a department without a tenant
        format!(
            "INSERT INTO users (slug, name, tenant_id, department_id, disabled, created_at) VALUES ('u1', 'U', 2, 1, false, {now})"
        ),
        format!(
            "INSERT INTO users (slug, name, tenant_id, department_id, disabled, created_at) VALUES ('u2', 'U', NULL, 1, false, {now})"
        ),
        // a second global entry of one key; a group entry naming another tenant's group
        entry("global", "", ""),
        entry("group", ", tenant_id, group_id", ", 2, 1"),
        // an entry whose scope columns do not fit its level; an unknown key type
        entry("tenant", ", tenant_id, user_id", ", 1, 1"),
        format!(
            "INSERT INTO config_keys (name, key_type, description, category, constraints, sensitive, levels, user_editable, created_at, updated_at) VALUES ('k2', 'text', '', '', '{{}}', false, '[]', false, {now}, {now})"
        ),
    ];
    for sql in refused {
        assert!(run(sql.clone()).await.is_err(), "accepted: {sql}");
    }
    run(entry("group", ", tenant_id, group_id", ", 1, 1"))
        .await
        .unwrap();
    run(entry("tenant", ", tenant_id", ", 1")).await.unwrap();
    assert!(
        run(entry("tenant", ", tenant_id", ", 1")).await.is_err(),
        "a duplicate tenant entry"
    );
}

#[tokio::test]
async fn the_plans_of_existing_tenants_become_the_templates_they_follow() {
    let test = TestDatabase::empty().await;
    // Every migration before the one that turns plans into templates.
    let before_templates = Migrator::migrations()
        .iter()
        .position(|m| m.name() == "m20261202_000007_templates")
        .expect("the templates migration is registered");
    Migrator::up(&test.db, Some(before_templates as u32))
        .await
        .unwrap();
    let backend = test.db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "INSERT INTO tenants (slug, name, plan, created_at) VALUES ($1, $2, $3, now())"
        }
        _ => {
            "INSERT INTO tenants (slug, name, plan, created_at) VALUES (?, ?, ?, CURRENT_TIMESTAMP)"
        }
    };
    for (slug, plan) in [
        ("a", Some("Enterprise Plus")),
        ("b", Some("Enterprise Plus")),
        ("c", Some("basic")),
        ("d", None),
    ] {
        test.db
            .execute_raw(Statement::from_sql_and_values(
                backend,
                sql,
                [slug.into(), format!("Tenant {slug}").into(), plan.into()],
            ))
            .await
            .unwrap();
    }
    db::migrate(&test.db).await.unwrap();

    let rows = test
        .db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT t.slug, p.name, p.target_level FROM tenants t \
             LEFT JOIN templates p ON p.id = t.template_id ORDER BY t.slug",
        ))
        .await
        .unwrap();
    let got: Vec<(String, Option<String>, Option<String>)> = rows
        .iter()
        .map(|r| {
            (
                r.try_get("", "slug").unwrap(),
                r.try_get("", "name").unwrap(),
                r.try_get("", "target_level").unwrap(),
            )
        })
        .collect();
    let tenant = |slug: &str, template: Option<&str>| {
        (
            slug.to_owned(),
            template.map(str::to_owned),
            template.map(|_| "tenant".to_owned()),
        )
    };
    assert_eq!(
        got,
        vec![
            tenant("a", Some("enterprise_plus")),
            tenant("b", Some("enterprise_plus")),
            tenant("c", Some("basic")),
            tenant("d", None),
        ]
    );
    // And the snapshots read those rows (timestamps written by the database included).
    let secrets = app::backend::crypto::SecretBox::from_base64(
        &app::backend::crypto::SecretBox::generate_key(),
        &[],
    )
    .unwrap();
    let loaded = app::backend::state::load(&test.db, &secrets).await.unwrap();
    assert_eq!(loaded.templates.len(), 2);
}
