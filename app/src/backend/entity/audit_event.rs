use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub level: Option<String>,
    pub scope: Option<String>,
    pub tenant: Option<String>,
    pub department: Option<String>,
    pub key: Option<String>,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub old_locked: Option<bool>,
    pub new_locked: Option<bool>,
    pub old_ciphertext: Option<String>,
    pub new_ciphertext: Option<String>,
    pub reason: Option<String>,
    pub batch_id: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
