use sea_orm::entity::prelude::*;

/// A ciphertext an audit event needs for a revert, kept outside the hashed event row so a
/// master key rotation can re-encrypt it without breaking the chain. The event's hash covers
/// the value's masked fingerprint instead.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_secrets")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub event_id: i64,
    /// `old` or `new`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub side: String,
    pub ciphertext: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
