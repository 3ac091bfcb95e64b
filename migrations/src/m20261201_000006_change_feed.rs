//! The change feed: every committed change to the configuration or to credentials gets a
//! revision (one counter, assigned under the audit chain's lock, so the same on every replica)
//! and a row saying what it touched. Sign-ins, reveals and other events that change nothing
//! get none. The counter starts at the audit head, so a revision never repeats a snapshot
//! version (and an ETag) handed out before.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditHead {
    Table,
    Revision,
}

#[derive(DeriveIden)]
enum Changes {
    Table,
    Revision,
    At,
    Touched,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(AuditHead::Table)
                    .add_column(
                        ColumnDef::new(AuditHead::Revision)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared("UPDATE audit_head SET revision = last_id")
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Changes::Table)
                    .col(
                        ColumnDef::new(Changes::Revision)
                            .big_integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Changes::At).string_len(32).not_null())
                    .col(ColumnDef::new(Changes::Touched).text().not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Changes::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AuditHead::Table)
                    .drop_column(AuditHead::Revision)
                    .to_owned(),
            )
            .await
    }
}
