use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "config_keys")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    pub key_type: String,
    pub description: String,
    pub category: String,
    /// JSON text, or a sealed value when `default_encrypted`.
    pub default_value: Option<String>,
    pub default_encrypted: bool,
    /// JSON object of the constraints.
    pub constraints: String,
    pub sensitive: bool,
    /// JSON array of level names.
    pub levels: String,
    pub user_editable: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
