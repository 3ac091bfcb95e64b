use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "entries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub key_id: i64,
    pub level: String,
    pub tenant_id: Option<i64>,
    pub department_id: Option<i64>,
    pub group_id: Option<i64>,
    pub user_id: Option<i64>,
    /// JSON text, or a sealed value when `encrypted`.
    pub value: String,
    pub encrypted: bool,
    pub locked: bool,
    pub version: i64,
    pub updated_at: DateTimeUtc,
    pub updated_by: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
