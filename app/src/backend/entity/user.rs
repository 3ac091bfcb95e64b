use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub tenant_id: Option<i64>,
    pub department_id: Option<i64>,
    pub password_hash: Option<String>,
    pub disabled: bool,
    pub created_at: DateTimeUtc,
    /// Sessions signed in under an older epoch are over: a password change, reset or
    /// disable moves it on.
    pub session_epoch: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
