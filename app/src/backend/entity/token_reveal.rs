use sea_orm::entity::prelude::*;

/// A secret version an API token has revealed: its reveal was audited once, and later reads
/// of the same version through the same token are not audited again.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "token_reveals")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub token_id: i64,
    /// `key@scope#version`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub secret: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
