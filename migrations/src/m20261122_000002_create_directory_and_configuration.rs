//! Departments, groups, users with memberships and traits, key definitions, entries and the
//! audit chain. Foreign keys and unique indexes make the database itself refuse orphans,
//! duplicates and cross-tenant references (a user's department and groups must be of the
//! user's tenant; an entry's department or group must be of its tenant).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Departments {
    Table,
    Id,
    TenantId,
    Slug,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Groups {
    Table,
    Id,
    TenantId,
    Slug,
    Name,
    Priority,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Slug,
    Name,
    TenantId,
    DepartmentId,
    PasswordHash,
    Disabled,
    CreatedAt,
}

#[derive(DeriveIden)]
enum UserGroups {
    Table,
    UserId,
    TenantId,
    GroupId,
}

#[derive(DeriveIden)]
enum UserTraits {
    Table,
    UserId,
    Name,
}

#[derive(DeriveIden)]
enum ConfigKeys {
    Table,
    Id,
    Name,
    KeyType,
    Description,
    Category,
    DefaultValue,
    DefaultEncrypted,
    Constraints,
    Sensitive,
    Levels,
    UserEditable,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Entries {
    Table,
    Id,
    KeyId,
    Level,
    TenantId,
    DepartmentId,
    GroupId,
    UserId,
    Value,
    Encrypted,
    Locked,
    Version,
    UpdatedAt,
    UpdatedBy,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    At,
    Actor,
    Action,
    Level,
    Scope,
    Tenant,
    Department,
    Key,
    OldValue,
    NewValue,
    OldLocked,
    NewLocked,
    OldCiphertext,
    NewCiphertext,
    Reason,
    BatchId,
    ClientIp,
    UserAgent,
    PrevHash,
    Hash,
}

#[derive(DeriveIden)]
enum AuditHead {
    Table,
    Id,
    LastId,
    LastHash,
}

fn id<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .big_integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .to_owned()
}

fn fk(name: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .on_delete(ForeignKeyAction::Restrict)
        .on_update(ForeignKeyAction::Restrict)
        .to_owned()
}

fn unique(name: &str, table: impl IntoIden, cols: Vec<DynIden>) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table).unique();
    for col in cols {
        index.col(col);
    }
    index.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Departments::Table)
                    .col(id(Departments::Id))
                    .col(
                        ColumnDef::new(Departments::TenantId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Departments::Slug).string_len(64).not_null())
                    .col(ColumnDef::new(Departments::Name).string().not_null())
                    .col(
                        ColumnDef::new(Departments::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        fk("fk_departments_tenant")
                            .from(Departments::Table, Departments::TenantId)
                            .to(Tenants::Table, Tenants::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique(
                "ux_departments_tenant_slug",
                Departments::Table,
                vec![
                    Departments::TenantId.into_iden(),
                    Departments::Slug.into_iden(),
                ],
            ))
            .await?;
        // Referenced by the composite foreign keys that keep departments inside their tenant.
        manager
            .create_index(unique(
                "ux_departments_tenant_id",
                Departments::Table,
                vec![
                    Departments::TenantId.into_iden(),
                    Departments::Id.into_iden(),
                ],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Groups::Table)
                    .col(id(Groups::Id))
                    .col(ColumnDef::new(Groups::TenantId).big_integer().not_null())
                    .col(ColumnDef::new(Groups::Slug).string_len(64).not_null())
                    .col(ColumnDef::new(Groups::Name).string().not_null())
                    .col(
                        ColumnDef::new(Groups::Priority)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(Groups::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        fk("fk_groups_tenant")
                            .from(Groups::Table, Groups::TenantId)
                            .to(Tenants::Table, Tenants::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique(
                "ux_groups_tenant_slug",
                Groups::Table,
                vec![Groups::TenantId.into_iden(), Groups::Slug.into_iden()],
            ))
            .await?;
        manager
            .create_index(unique(
                "ux_groups_tenant_id",
                Groups::Table,
                vec![Groups::TenantId.into_iden(), Groups::Id.into_iden()],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(id(Users::Id))
                    .col(
                        ColumnDef::new(Users::Slug)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Users::Name).string().not_null())
                    .col(ColumnDef::new(Users::TenantId).big_integer())
                    .col(ColumnDef::new(Users::DepartmentId).big_integer())
                    .col(ColumnDef::new(Users::PasswordHash).string())
                    .col(
                        ColumnDef::new(Users::Disabled)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(
                        ColumnDef::new(Users::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        fk("fk_users_tenant")
                            .from(Users::Table, Users::TenantId)
                            .to(Tenants::Table, Tenants::Id),
                    )
                    .foreign_key(
                        fk("fk_users_department_in_tenant")
                            .from(Users::Table, (Users::TenantId, Users::DepartmentId))
                            .to(Departments::Table, (Departments::TenantId, Departments::Id)),
                    )
                    // A composite key with a null tenant is not checked, so say it outright.
                    .check(Expr::cust("department_id IS NULL OR tenant_id IS NOT NULL"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique(
                "ux_users_tenant_id",
                Users::Table,
                vec![Users::TenantId.into_iden(), Users::Id.into_iden()],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(UserGroups::Table)
                    .col(ColumnDef::new(UserGroups::UserId).big_integer().not_null())
                    .col(
                        ColumnDef::new(UserGroups::TenantId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(UserGroups::GroupId).big_integer().not_null())
                    .primary_key(
                        Index::create()
                            .col(UserGroups::UserId)
                            .col(UserGroups::GroupId),
                    )
                    .foreign_key(
                        fk("fk_user_groups_user_in_tenant")
                            .from(
                                UserGroups::Table,
                                (UserGroups::TenantId, UserGroups::UserId),
                            )
                            .to(Users::Table, (Users::TenantId, Users::Id)),
                    )
                    .foreign_key(
                        fk("fk_user_groups_group_in_tenant")
                            .from(
                                UserGroups::Table,
                                (UserGroups::TenantId, UserGroups::GroupId),
                            )
                            .to(Groups::Table, (Groups::TenantId, Groups::Id)),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(UserTraits::Table)
                    .col(ColumnDef::new(UserTraits::UserId).big_integer().not_null())
                    .col(ColumnDef::new(UserTraits::Name).string_len(32).not_null())
                    .primary_key(
                        Index::create()
                            .col(UserTraits::UserId)
                            .col(UserTraits::Name),
                    )
                    .foreign_key(
                        fk("fk_user_traits_user")
                            .from(UserTraits::Table, UserTraits::UserId)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ConfigKeys::Table)
                    .col(id(ConfigKeys::Id))
                    .col(
                        ColumnDef::new(ConfigKeys::Name)
                            .string_len(200)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(ConfigKeys::KeyType)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(ConfigKeys::Description).text().not_null())
                    .col(ColumnDef::new(ConfigKeys::Category).string().not_null())
                    .col(ColumnDef::new(ConfigKeys::DefaultValue).text())
                    .col(
                        ColumnDef::new(ConfigKeys::DefaultEncrypted)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(ColumnDef::new(ConfigKeys::Constraints).text().not_null())
                    .col(ColumnDef::new(ConfigKeys::Sensitive).boolean().not_null())
                    .col(ColumnDef::new(ConfigKeys::Levels).text().not_null())
                    .col(
                        ColumnDef::new(ConfigKeys::UserEditable)
                            .boolean()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ConfigKeys::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ConfigKeys::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .check(Expr::cust(
                        "key_type IN ('string', 'integer', 'float', 'boolean', 'json', 'enum')",
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Entries::Table)
                    .col(id(Entries::Id))
                    .col(ColumnDef::new(Entries::KeyId).big_integer().not_null())
                    .col(ColumnDef::new(Entries::Level).string_len(16).not_null())
                    .col(ColumnDef::new(Entries::TenantId).big_integer())
                    .col(ColumnDef::new(Entries::DepartmentId).big_integer())
                    .col(ColumnDef::new(Entries::GroupId).big_integer())
                    .col(ColumnDef::new(Entries::UserId).big_integer())
                    .col(ColumnDef::new(Entries::Value).text().not_null())
                    .col(ColumnDef::new(Entries::Encrypted).boolean().not_null())
                    .col(ColumnDef::new(Entries::Locked).boolean().not_null())
                    .col(ColumnDef::new(Entries::Version).big_integer().not_null())
                    .col(ColumnDef::new(Entries::UpdatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Entries::UpdatedBy).string().not_null())
                    .foreign_key(
                        fk("fk_entries_key")
                            .from(Entries::Table, Entries::KeyId)
                            .to(ConfigKeys::Table, ConfigKeys::Id),
                    )
                    .foreign_key(
                        fk("fk_entries_tenant")
                            .from(Entries::Table, Entries::TenantId)
                            .to(Tenants::Table, Tenants::Id),
                    )
                    .foreign_key(
                        fk("fk_entries_department_in_tenant")
                            .from(Entries::Table, (Entries::TenantId, Entries::DepartmentId))
                            .to(Departments::Table, (Departments::TenantId, Departments::Id)),
                    )
                    .foreign_key(
                        fk("fk_entries_group_in_tenant")
                            .from(Entries::Table, (Entries::TenantId, Entries::GroupId))
                            .to(Groups::Table, (Groups::TenantId, Groups::Id)),
                    )
                    .foreign_key(
                        fk("fk_entries_user")
                            .from(Entries::Table, Entries::UserId)
                            .to(Users::Table, Users::Id),
                    )
                    // Exactly the scope columns of the entry's level are set.
                    .check(Expr::cust(
                        "(level = 'global' AND tenant_id IS NULL AND department_id IS NULL AND group_id IS NULL AND user_id IS NULL) \
                         OR (level = 'tenant' AND tenant_id IS NOT NULL AND department_id IS NULL AND group_id IS NULL AND user_id IS NULL) \
                         OR (level = 'department' AND tenant_id IS NOT NULL AND department_id IS NOT NULL AND group_id IS NULL AND user_id IS NULL) \
                         OR (level = 'group' AND tenant_id IS NOT NULL AND department_id IS NULL AND group_id IS NOT NULL AND user_id IS NULL) \
                         OR (level = 'user' AND tenant_id IS NULL AND department_id IS NULL AND group_id IS NULL AND user_id IS NOT NULL)",
                    ))
                    .to_owned(),
            )
            .await?;
        // One entry per key and scope. Partial indexes, because the scope columns are nullable
        // and NULLs never collide in a plain unique index (on SQLite nor PostgreSQL).
        let db = manager.get_connection();
        for (name, cols, level) in [
            ("ux_entries_global", "key_id", "global"),
            ("ux_entries_tenant", "key_id, tenant_id", "tenant"),
            (
                "ux_entries_department",
                "key_id, department_id",
                "department",
            ),
            ("ux_entries_group", "key_id, group_id", "group"),
            ("ux_entries_user", "key_id, user_id", "user"),
        ] {
            db.execute_unprepared(&format!(
                "CREATE UNIQUE INDEX {name} ON entries ({cols}) WHERE level = '{level}'"
            ))
            .await?;
        }
        for (name, col) in [
            ("ix_entries_tenant", Entries::TenantId),
            ("ix_entries_user", Entries::UserId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Entries::Table)
                        .col(col)
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(id(AuditEvents::Id))
                    // RFC 3339 text with a fixed precision: hashed exactly as stored.
                    .col(ColumnDef::new(AuditEvents::At).string_len(32).not_null())
                    .col(ColumnDef::new(AuditEvents::Actor).string().not_null())
                    .col(
                        ColumnDef::new(AuditEvents::Action)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(ColumnDef::new(AuditEvents::Level).string_len(16))
                    .col(ColumnDef::new(AuditEvents::Scope).string())
                    .col(ColumnDef::new(AuditEvents::Tenant).string_len(64))
                    .col(ColumnDef::new(AuditEvents::Department).string_len(64))
                    .col(ColumnDef::new(AuditEvents::Key).string_len(200))
                    .col(ColumnDef::new(AuditEvents::OldValue).text())
                    .col(ColumnDef::new(AuditEvents::NewValue).text())
                    .col(ColumnDef::new(AuditEvents::OldLocked).boolean())
                    .col(ColumnDef::new(AuditEvents::NewLocked).boolean())
                    .col(ColumnDef::new(AuditEvents::OldCiphertext).text())
                    .col(ColumnDef::new(AuditEvents::NewCiphertext).text())
                    .col(ColumnDef::new(AuditEvents::Reason).text())
                    .col(ColumnDef::new(AuditEvents::BatchId).string_len(64))
                    .col(ColumnDef::new(AuditEvents::ClientIp).string_len(64))
                    .col(ColumnDef::new(AuditEvents::UserAgent).text())
                    .col(
                        ColumnDef::new(AuditEvents::PrevHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(ColumnDef::new(AuditEvents::Hash).string_len(64).not_null())
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("ix_audit_tenant", AuditEvents::Tenant),
            ("ix_audit_key", AuditEvents::Key),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(AuditEvents::Table)
                        .col(col)
                        .to_owned(),
                )
                .await?;
        }

        // The chain's head: every writer locks this row first, which serialises appends (and,
        // on SQLite, takes the write lock before anything is read). A deleted last event no
        // longer matches it.
        manager
            .create_table(
                Table::create()
                    .table(AuditHead::Table)
                    .col(
                        ColumnDef::new(AuditHead::Id)
                            .integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AuditHead::LastId).big_integer().not_null())
                    .col(
                        ColumnDef::new(AuditHead::LastHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        db.execute_unprepared(&format!(
            "INSERT INTO audit_head (id, last_id, last_hash) VALUES (1, 0, '{}')",
            "0".repeat(64)
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditHead::Table.into_iden(),
            AuditEvents::Table.into_iden(),
            Entries::Table.into_iden(),
            ConfigKeys::Table.into_iden(),
            UserTraits::Table.into_iden(),
            UserGroups::Table.into_iden(),
            Users::Table.into_iden(),
            Groups::Table.into_iden(),
            Departments::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
