use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "change_requests")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub title: String,
    pub reason: Option<String>,
    pub author: String,
    /// The one tenant its operations lie in, if there is one.
    pub tenant: Option<String>,
    /// The one department its operations lie in, if there is one (audit visibility).
    pub department: Option<String>,
    pub state: String,
    /// JSON array of stored operations (sensitive values sealed).
    pub ops: String,
    /// Bumped by every edit: approvals of an earlier round no longer count.
    pub round: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
