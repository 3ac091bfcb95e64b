//! Templates (DESIGN §2 rule 5): named sets of entries a tenant, department or group follows
//! as a layer just before its own. A tenant template also carries a skeleton of departments
//! and groups that provisioning a tenant from it creates. A tenant's plan becomes its
//! template: each plan in use turns into an (empty) tenant template of that name, followed by
//! the tenants on it, so per-plan settings become template entries.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Templates {
    Table,
    Id,
    Name,
    Description,
    TargetLevel,
    Skeleton,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum TemplateEntries {
    Table,
    Id,
    TemplateId,
    KeyId,
    Value,
    Encrypted,
    Locked,
    Version,
    UpdatedAt,
    UpdatedBy,
}

#[derive(DeriveIden)]
enum ConfigKeys {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    TemplateId,
}

#[derive(DeriveIden)]
enum Departments {
    Table,
    TemplateId,
}

#[derive(DeriveIden)]
enum Groups {
    Table,
    TemplateId,
}

/// A plan's name as a template name (a slug): lowercase, other characters as `_`.
fn template_name(plan: &str) -> Option<String> {
    let mut name: String = plan
        .trim()
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let start = name.find(|c: char| c.is_ascii_alphanumeric())?;
    name.drain(..start);
    name.truncate(64);
    Some(name)
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Templates::Table)
                    .col(
                        ColumnDef::new(Templates::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Templates::Name)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Templates::Description).text())
                    .col(
                        ColumnDef::new(Templates::TargetLevel)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Templates::Skeleton).text().not_null())
                    .col(ColumnDef::new(Templates::Version).big_integer().not_null())
                    .col(
                        ColumnDef::new(Templates::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Templates::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TemplateEntries::Table)
                    .col(
                        ColumnDef::new(TemplateEntries::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(TemplateEntries::TemplateId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(TemplateEntries::KeyId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(TemplateEntries::Value).text().not_null())
                    .col(
                        ColumnDef::new(TemplateEntries::Encrypted)
                            .boolean()
                            .not_null(),
                    )
                    .col(ColumnDef::new(TemplateEntries::Locked).boolean().not_null())
                    .col(
                        ColumnDef::new(TemplateEntries::Version)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(TemplateEntries::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(TemplateEntries::UpdatedBy)
                            .string()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_template_entries_template")
                            .from(TemplateEntries::Table, TemplateEntries::TemplateId)
                            .to(Templates::Table, Templates::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_template_entries_key")
                            .from(TemplateEntries::Table, TemplateEntries::KeyId)
                            .to(ConfigKeys::Table, ConfigKeys::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_template_entries")
                    .table(TemplateEntries::Table)
                    .col(TemplateEntries::TemplateId)
                    .col(TemplateEntries::KeyId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // Who follows a template. No foreign key (SQLite cannot add one to an existing
        // table); the service refuses to delete a template anything follows.
        for (table, column) in [
            (Tenants::Table.into_iden(), Tenants::TemplateId.into_iden()),
            (
                Departments::Table.into_iden(),
                Departments::TemplateId.into_iden(),
            ),
            (Groups::Table.into_iden(), Groups::TemplateId.into_iden()),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(ColumnDef::new(column).big_integer().null())
                        .to_owned(),
                )
                .await?;
        }

        // Each plan in use becomes a tenant template its tenants follow.
        let db = manager.get_connection();
        let backend = db.get_database_backend();
        let plans = db
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT DISTINCT plan FROM tenants WHERE plan IS NOT NULL",
            ))
            .await?;
        let now = chrono_now(backend);
        for row in plans {
            let plan: String = row.try_get("", "plan")?;
            let Some(name) = template_name(&plan) else {
                continue;
            };
            let exists = db
                .query_one_raw(Statement::from_sql_and_values(
                    backend,
                    format!("SELECT id FROM templates WHERE name = {}", ph(backend, 1)),
                    [name.clone().into()],
                ))
                .await?;
            if exists.is_none() {
                db.execute_raw(Statement::from_sql_and_values(
                    backend,
                    format!(
                        "INSERT INTO templates (name, description, target_level, skeleton, \
                         version, created_at, updated_at) VALUES ({}, {}, 'tenant', '{{}}', 1, \
                         {now}, {now})",
                        ph(backend, 1),
                        ph(backend, 2)
                    ),
                    [
                        name.clone().into(),
                        format!("The tenants on the {plan} plan").into(),
                    ],
                ))
                .await?;
            }
            db.execute_raw(Statement::from_sql_and_values(
                backend,
                format!(
                    "UPDATE tenants SET template_id = (SELECT id FROM templates WHERE name = {}) \
                     WHERE plan = {}",
                    ph(backend, 1),
                    ph(backend, 2)
                ),
                [name.into(), plan.into()],
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, column) in [
            (Tenants::Table.into_iden(), Tenants::TemplateId.into_iden()),
            (
                Departments::Table.into_iden(),
                Departments::TemplateId.into_iden(),
            ),
            (Groups::Table.into_iden(), Groups::TemplateId.into_iden()),
        ] {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        manager
            .drop_table(Table::drop().table(TemplateEntries::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Templates::Table).to_owned())
            .await
    }
}

/// The `n`th bind parameter.
fn ph(backend: sea_orm_migration::sea_orm::DbBackend, n: usize) -> String {
    match backend {
        sea_orm_migration::sea_orm::DbBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    }
}

/// The database's "now" as SQL.
fn chrono_now(backend: sea_orm_migration::sea_orm::DbBackend) -> &'static str {
    match backend {
        sea_orm_migration::sea_orm::DbBackend::Sqlite => "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
        _ => "CURRENT_TIMESTAMP",
    }
}

#[cfg(test)]
mod tests {
    use super::template_name;

    #[test]
    fn plans_become_template_names() {
        assert_eq!(template_name("enterprise").as_deref(), Some("enterprise"));
        assert_eq!(
            template_name("Enterprise Plus").as_deref(),
            Some("enterprise_plus")
        );
        assert_eq!(template_name("  _Gold ").as_deref(), Some("gold"));
        assert_eq!(template_name("***"), None);
    }
}
