//! Hardening: a per-account session epoch (a password change or a disable ends every session
//! of the account), the ciphertexts that reverts need kept beside the audit chain (so a master
//! key rotation can re-encrypt them without touching hashed rows), and the secrets each API
//! token has revealed (audited once per token, key and secret version).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    SessionEpoch,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum AuditSecrets {
    Table,
    EventId,
    Side,
    Ciphertext,
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum TokenReveals {
    Table,
    TokenId,
    Secret,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(
                        ColumnDef::new(Users::SessionEpoch)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditSecrets::Table)
                    .col(
                        ColumnDef::new(AuditSecrets::EventId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(AuditSecrets::Side).string_len(3).not_null())
                    .col(ColumnDef::new(AuditSecrets::Ciphertext).text().not_null())
                    .primary_key(
                        Index::create()
                            .col(AuditSecrets::EventId)
                            .col(AuditSecrets::Side),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_audit_secrets_event")
                            .from(AuditSecrets::Table, AuditSecrets::EventId)
                            .to(AuditEvents::Table, AuditEvents::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TokenReveals::Table)
                    .col(
                        ColumnDef::new(TokenReveals::TokenId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(TokenReveals::Secret)
                            .string_len(600)
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(TokenReveals::TokenId)
                            .col(TokenReveals::Secret),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_token_reveals_token")
                            .from(TokenReveals::Table, TokenReveals::TokenId)
                            .to(ApiTokens::Table, ApiTokens::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TokenReveals::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(AuditSecrets::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Users::SessionEpoch)
                    .to_owned(),
            )
            .await
    }
}
