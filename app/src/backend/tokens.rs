//! API tokens: `strata_…` secrets shown once, stored as SHA-256 hashes, acting as their
//! creator narrowed to their scopes (`read`, or `read` and `write`). Verified tokens are
//! cached in memory until the next change anywhere (the audit head moves), so a request with a
//! token costs no database round trip while nothing changes.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::AppState;
use super::accounts;
use super::audit::{Actor, AuditWriter};
use super::entity::api_token;
use super::error::ServiceError;
use crate::domain::audit_chain::AuditRecord;
use crate::domain::policy::Principal;

pub const PREFIX: &str = "strata_";

/// A token's rights, as listed.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenView {
    pub id: i64,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
}

/// Who a valid token acts as.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub principal: Principal,
    pub can_write: bool,
    expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Default)]
pub struct TokenCache {
    generation: AtomicI64,
    verified: RwLock<HashMap<String, Authenticated>>,
}

impl TokenCache {
    fn clear(&self) {
        self.verified.write().expect("token cache poisoned").clear();
    }
}

fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn view(row: &api_token::Model) -> TokenView {
    TokenView {
        id: row.id,
        name: row.name.clone(),
        scopes: row.scopes.split(',').map(str::to_owned).collect(),
        created_at: time(row.created_at),
        expires_at: row.expires_at.map(time),
        last_used_at: row.last_used_at.map(time),
    }
}

/// Creates a token for `principal`; returns its id and the token, which is never shown again.
pub async fn create(
    state: &AppState,
    actor: &Actor,
    principal: &Principal,
    name: &str,
    scopes: &[String],
    expires_in_days: Option<u32>,
) -> Result<(i64, String), ServiceError> {
    if name.trim().is_empty() || name.chars().count() > 200 {
        return Err(ServiceError::Invalid(
            "name: must be 1 to 200 characters".into(),
        ));
    }
    let can_write = match scopes {
        [r] if r == "read" => false,
        [r, w] | [w, r] if r == "read" && w == "write" => true,
        _ => {
            return Err(ServiceError::Invalid(
                "scopes: expected [\"read\"] or [\"read\", \"write\"]".into(),
            ));
        }
    };
    if expires_in_days == Some(0) || expires_in_days.is_some_and(|d| d > 3650) {
        return Err(ServiceError::Invalid(
            "expires_in_days: expected 1 to 3650".into(),
        ));
    }
    let user_id = accounts::user_id(&state.db, principal.user.as_str())
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("user {} was not found", principal.user)))?;
    let token = format!(
        "{PREFIX}{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let now = Utc::now();
    let expires_at = expires_in_days.map(|d| now + Duration::days(i64::from(d)));
    let scopes = if can_write { "read,write" } else { "read" };
    let tx = state.db.begin().await?;
    let mut audit = AuditWriter::begin(&tx, now).await?;
    let row = api_token::ActiveModel {
        user_id: Set(user_id),
        name: Set(name.trim().to_owned()),
        scopes: Set(scopes.into()),
        token_hash: Set(hash(&token)),
        created_at: Set(now),
        expires_at: Set(expires_at),
        ..Default::default()
    }
    .insert(&tx)
    .await?;
    audit
        .append(
            &tx,
            actor,
            AuditRecord {
                action: "token.create".into(),
                tenant: principal.tenant.as_ref().map(ToString::to_string),
                new_value: Some(json!({"id": row.id, "name": row.name, "scopes": scopes, "expires_at": expires_at.map(time)}).to_string()),
                ..Default::default()
            },
        )
        .await?;
    audit.finish(&tx).await?;
    tx.commit().await?;
    Ok((row.id, token))
}

/// The principal's tokens that are not revoked, newest first.
pub async fn list(state: &AppState, principal: &Principal) -> Result<Vec<TokenView>, ServiceError> {
    let Some(user_id) = accounts::user_id(&state.db, principal.user.as_str()).await? else {
        return Ok(vec![]);
    };
    let rows = api_token::Entity::find()
        .filter(api_token::Column::UserId.eq(user_id))
        .filter(api_token::Column::RevokedAt.is_null())
        .order_by_desc(api_token::Column::Id)
        .all(&state.db)
        .await?;
    Ok(rows.iter().map(view).collect())
}

/// Revokes one of the principal's own tokens.
pub async fn revoke(
    state: &AppState,
    actor: &Actor,
    principal: &Principal,
    id: i64,
) -> Result<(), ServiceError> {
    let user_id = accounts::user_id(&state.db, principal.user.as_str()).await?;
    let now = Utc::now();
    let tx = state.db.begin().await?;
    let mut audit = AuditWriter::begin(&tx, now).await?;
    let row = api_token::Entity::find_by_id(id)
        .one(&tx)
        .await?
        .filter(|t| Some(t.user_id) == user_id && t.revoked_at.is_none())
        .ok_or_else(|| ServiceError::NotFound(format!("token {id} was not found")))?;
    api_token::ActiveModel {
        id: Set(row.id),
        revoked_at: Set(Some(now)),
        ..Default::default()
    }
    .update(&tx)
    .await?;
    audit
        .append(
            &tx,
            actor,
            AuditRecord {
                action: "token.revoke".into(),
                tenant: principal.tenant.as_ref().map(ToString::to_string),
                old_value: Some(json!({"id": row.id, "name": row.name}).to_string()),
                ..Default::default()
            },
        )
        .await?;
    audit.finish(&tx).await?;
    tx.commit().await?;
    state.tokens.clear();
    Ok(())
}

/// Who `token` acts as, or `None` when it is unknown, expired, revoked or its owner disabled.
/// Using a revoked token is audited.
pub async fn authenticate(
    state: &AppState,
    token: &str,
    client: &Actor,
) -> Result<Option<Authenticated>, ServiceError> {
    if !token.starts_with(PREFIX) {
        return Ok(None);
    }
    let digest = hash(token);
    let head = state.snapshots.loaded_head();
    if state.tokens.generation.swap(head, Ordering::SeqCst) != head {
        state.tokens.clear();
    }
    let now = Utc::now();
    let cached = state
        .tokens
        .verified
        .read()
        .expect("token cache poisoned")
        .get(&digest)
        .cloned();
    if let Some(found) = cached {
        return Ok(found.expires_at.is_none_or(|at| at > now).then_some(found));
    }
    let Some(row) = api_token::Entity::find()
        .filter(api_token::Column::TokenHash.eq(digest.as_str()))
        .one(&state.db)
        .await?
    else {
        return Ok(None);
    };
    if row.revoked_at.is_some() {
        let event = AuditRecord {
            action: "token.revoked_use".into(),
            new_value: Some(json!({"id": row.id, "name": row.name}).to_string()),
            ..Default::default()
        };
        super::audit::record(&state.db, client, event).await?;
        return Ok(None);
    }
    if row.expires_at.is_some_and(|at| at <= now) {
        return Ok(None);
    }
    let Some(principal) = accounts::principal(&state.db, row.user_id).await? else {
        return Ok(None);
    };
    // Recorded once per cache lifetime, not on every request.
    api_token::ActiveModel {
        id: Set(row.id),
        last_used_at: Set(Some(now)),
        ..Default::default()
    }
    .update(&state.db)
    .await?;
    let found = Authenticated {
        principal,
        can_write: row.scopes.split(',').any(|s| s == "write"),
        expires_at: row.expires_at,
    };
    state
        .tokens
        .verified
        .write()
        .expect("token cache poisoned")
        .insert(digest, found.clone());
    Ok(Some(found))
}
