//! Schema migrations for Strata, shared by SQLite and PostgreSQL.
//!
//! Migrations are append-only: once one has landed on main, change the schema with a new one.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_create_tenants;
mod m20261122_000002_create_directory_and_configuration;
mod m20261122_000003_create_sessions_and_login_failures;
mod m20261122_000004_create_api_tokens;
mod m20261201_000005_hardening;
mod m20261201_000006_change_feed;
mod m20261202_000007_templates;
mod m20261203_000008_change_requests;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_tenants::Migration),
            Box::new(m20261122_000002_create_directory_and_configuration::Migration),
            Box::new(m20261122_000003_create_sessions_and_login_failures::Migration),
            Box::new(m20261122_000004_create_api_tokens::Migration),
            Box::new(m20261201_000005_hardening::Migration),
            Box::new(m20261201_000006_change_feed::Migration),
            Box::new(m20261202_000007_templates::Migration),
            Box::new(m20261203_000008_change_requests::Migration),
        ]
    }
}
