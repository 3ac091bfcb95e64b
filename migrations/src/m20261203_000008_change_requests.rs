//! Change requests and the approval policy (DESIGN §5). A request keeps its operations as JSON
//! (sensitive values sealed like entries), the round it is in (an edit starts a new one, so
//! earlier approvals stop counting without being forgotten), and every review, comment and
//! transition as a row of its history.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ApprovalRules {
    Table,
    Id,
    Level,
    Tenant,
    SensitiveOnly,
    Approvals,
}

#[derive(DeriveIden)]
enum ChangeRequests {
    Table,
    Id,
    Title,
    Reason,
    Author,
    Tenant,
    Department,
    State,
    Ops,
    Round,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ChangeReviews {
    Table,
    Id,
    ChangeId,
    Round,
    Actor,
    Kind,
    Comment,
    At,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ApprovalRules::Table)
                    .col(
                        ColumnDef::new(ApprovalRules::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(ApprovalRules::Level).string_len(16))
                    .col(ColumnDef::new(ApprovalRules::Tenant).string_len(64))
                    .col(
                        ColumnDef::new(ApprovalRules::SensitiveOnly)
                            .boolean()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ApprovalRules::Approvals)
                            .integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ChangeRequests::Table)
                    .col(
                        ColumnDef::new(ChangeRequests::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ChangeRequests::Title)
                            .string_len(200)
                            .not_null(),
                    )
                    .col(ColumnDef::new(ChangeRequests::Reason).text())
                    .col(
                        ColumnDef::new(ChangeRequests::Author)
                            .string_len(64)
                            .not_null(),
                    )
                    // The one tenant its operations lie in (none: the global level or
                    // platform users, or several tenants): who may see it is decided per scope,
                    // this only lets a list skip other tenants' requests.
                    .col(ColumnDef::new(ChangeRequests::Tenant).string_len(64))
                    .col(ColumnDef::new(ChangeRequests::Department).string_len(64))
                    .col(
                        ColumnDef::new(ChangeRequests::State)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(ChangeRequests::Ops).text().not_null())
                    .col(ColumnDef::new(ChangeRequests::Round).integer().not_null())
                    .col(
                        ColumnDef::new(ChangeRequests::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ChangeRequests::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_change_requests_tenant")
                    .table(ChangeRequests::Table)
                    .col(ChangeRequests::Tenant)
                    .col(ChangeRequests::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_change_requests_author")
                    .table(ChangeRequests::Table)
                    .col(ChangeRequests::Author)
                    .col(ChangeRequests::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ChangeReviews::Table)
                    .col(
                        ColumnDef::new(ChangeReviews::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ChangeReviews::ChangeId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ChangeReviews::Round).integer().not_null())
                    .col(
                        ColumnDef::new(ChangeReviews::Actor)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ChangeReviews::Kind)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(ChangeReviews::Comment).text())
                    .col(
                        ColumnDef::new(ChangeReviews::At)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_change_reviews_change")
                            .from(ChangeReviews::Table, ChangeReviews::ChangeId)
                            .to(ChangeRequests::Table, ChangeRequests::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_change_reviews_change")
                    .table(ChangeReviews::Table)
                    .col(ChangeReviews::ChangeId)
                    .col(ChangeReviews::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ChangeReviews::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(ChangeRequests::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(ApprovalRules::Table).to_owned())
            .await
    }
}
