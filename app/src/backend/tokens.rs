//! API tokens: `strata_…` secrets shown once, stored as SHA-256 hashes, acting as their
//! creator narrowed to their scopes: `read`, plus `write` to change things and `secrets` to
//! reveal sensitive values (for an application that reads its own credentials). Verified
//! tokens are cached in memory, so a request with a token costs no database round trip; an
//! entry is served only while nothing that could change it has happened since it was read
//! (see [`TokenCache`]).

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    TransactionTrait, TryInsertResult,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::AppState;
use super::accounts;
use super::audit::{Actor, AuditWriter};
use super::entity::{api_token, token_reveal};
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
    pub token_id: i64,
    pub principal: Principal,
    pub can_write: bool,
    /// The `secrets` scope: the token may reveal what its owner may reveal.
    pub can_reveal: bool,
    expires_at: Option<DateTime<Utc>>,
}

/// Verified tokens. An entry remembers when it was read: the cache's epoch (moved on when this
/// process cannot tell what a change touched) and the last revision that changed credentials,
/// here or on another replica. It is served only while both are unchanged, so a token read
/// just before its revocation or its owner's disable committed is never served after it, while
/// ordinary configuration writes leave the cache alone (a stampede of every reader to the
/// database on each write would starve the writes).
#[derive(Debug, Default)]
pub struct TokenCache {
    epoch: AtomicU64,
    verified: RwLock<HashMap<String, Cached>>,
    /// `(token id, secret)` pairs whose reveal is already audited.
    revealed: RwLock<HashSet<(i64, String)>>,
}

#[derive(Debug, Clone)]
struct Cached {
    found: Authenticated,
    epoch: u64,
    revision: i64,
}

impl TokenCache {
    /// Bounds the memory a flood of distinct tokens can take.
    const CAPACITY: usize = 10_000;

    /// Forgets every verified token: a change committed that may affect one.
    pub fn invalidate(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.verified.write().expect("token cache poisoned").clear();
    }

    fn get(&self, digest: &str, epoch: u64, revision: i64) -> Option<Authenticated> {
        let map = self.verified.read().expect("token cache poisoned");
        map.get(digest)
            .filter(|c| c.epoch == epoch && c.revision == revision)
            .map(|c| c.found.clone())
    }

    fn put(&self, digest: String, cached: Cached) {
        let mut map = self.verified.write().expect("token cache poisoned");
        if map.len() >= Self::CAPACITY {
            map.clear();
        }
        map.insert(digest, cached);
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

/// What a token may do: `read` always, `write` to change things, `secrets` to reveal what its
/// creator may reveal.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenScope {
    Read,
    Write,
    Secrets,
}

impl TokenScope {
    fn as_str(self) -> &'static str {
        match self {
            TokenScope::Read => "read",
            TokenScope::Write => "write",
            TokenScope::Secrets => "secrets",
        }
    }
}

/// The stored form of `scopes` (`read`, `read,write`, `read,secrets`, `read,write,secrets`).
fn stored_scopes(scopes: &[String]) -> Result<String, ServiceError> {
    let wrong = || {
        ServiceError::Invalid(
            "scopes: expected \"read\", optionally with \"write\" and \"secrets\", each once"
                .into(),
        )
    };
    let mut seen = std::collections::BTreeSet::new();
    for scope in scopes {
        let scope: TokenScope = serde_json::from_value(serde_json::Value::String(scope.clone()))
            .map_err(|_| wrong())?;
        if !seen.insert(scope) {
            return Err(wrong());
        }
    }
    if !seen.contains(&TokenScope::Read) {
        return Err(wrong());
    }
    Ok(seen
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(","))
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
    let scopes = stored_scopes(scopes)?;
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
    let tx = state.db.begin().await?;
    let mut audit = AuditWriter::begin(&tx, now).await?;
    let row = api_token::ActiveModel {
        user_id: Set(user_id),
        name: Set(name.trim().to_owned()),
        scopes: Set(scopes.clone()),
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
    state.tokens.invalidate();
    Ok(())
}

/// Who `token` acts as, or `None` when it is unknown, expired, revoked or its owner disabled.
/// Using a revoked token is audited, filed under its owner.
pub async fn authenticate(
    state: &AppState,
    token: &str,
    client: &Actor,
) -> Result<Option<Authenticated>, ServiceError> {
    if !token.starts_with(PREFIX) {
        return Ok(None);
    }
    let digest = hash(token);
    // Read before the database is: a change committed after this moves one of them on.
    let epoch = state.tokens.epoch.load(Ordering::SeqCst);
    let revision = state.snapshots.accounts_revision();
    let now = Utc::now();
    if let Some(found) = state.tokens.get(&digest, epoch, revision) {
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
        let owner = super::entity::user::Entity::find_by_id(row.user_id)
            .one(&state.db)
            .await?;
        let (tenant, department) = match &owner {
            Some(u) => accounts::place_of(&state.db, u).await?,
            None => (None, None),
        };
        let event = AuditRecord {
            action: "token.revoked_use".into(),
            level: Some("user".into()),
            scope: owner.map(|u| u.slug),
            tenant,
            department,
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
    let scopes: Vec<&str> = row.scopes.split(',').collect();
    let found = Authenticated {
        token_id: row.id,
        principal,
        can_write: scopes.contains(&"write"),
        can_reveal: scopes.contains(&"secrets"),
        expires_at: row.expires_at,
    };
    state.tokens.put(
        digest,
        Cached {
            found: found.clone(),
            epoch,
            revision,
        },
    );
    Ok(Some(found))
}

/// One revealed secret: which key, where its value came from, and a keyed fingerprint of the
/// value (so a changed secret is a new one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevealedSecret {
    pub key: String,
    /// The source's level (`default` for the key's default).
    pub level: String,
    pub scope: Option<String>,
    pub fingerprint: String,
}

impl RevealedSecret {
    fn id(&self) -> String {
        format!(
            "{}@{}:{}#{}",
            self.key,
            self.level,
            self.scope.as_deref().unwrap_or(""),
            self.fingerprint
        )
    }
}

/// Audits what token `token_id` revealed, once per token and secret version however often it
/// reads it: an application reading its credentials on every request leaves one event per
/// secret, not one per request. `context` names whose configuration it read.
pub async fn audit_reveals(
    state: &AppState,
    actor: &Actor,
    token_id: i64,
    context: &str,
    tenant: Option<String>,
    secrets: &[RevealedSecret],
) -> Result<(), ServiceError> {
    let fresh: Vec<&RevealedSecret> = {
        let known = state.tokens.revealed.read().expect("token cache poisoned");
        secrets
            .iter()
            .filter(|s| !known.contains(&(token_id, s.id())))
            .collect()
    };
    if fresh.is_empty() {
        return Ok(());
    }
    let tx = state.db.begin().await?;
    let mut audit = AuditWriter::begin(&tx, Utc::now()).await?;
    for secret in &fresh {
        // Another replica (or this one, before a restart) may have audited it already.
        let inserted = token_reveal::Entity::insert(token_reveal::ActiveModel {
            token_id: Set(token_id),
            secret: Set(secret.id()),
        })
        .on_conflict_do_nothing()
        .exec_without_returning(&tx)
        .await?;
        if !matches!(inserted, TryInsertResult::Inserted(n) if n > 0) {
            continue;
        }
        audit
            .append(
                &tx,
                actor,
                AuditRecord {
                    action: "secret.reveal".into(),
                    tenant: tenant.clone(),
                    key: Some(secret.key.clone()),
                    new_value: Some(
                        json!({
                            "context": context,
                            "token": token_id,
                            "level": secret.level,
                            "scope": secret.scope,
                            "fingerprint": secret.fingerprint,
                        })
                        .to_string(),
                    ),
                    ..Default::default()
                },
            )
            .await?;
    }
    audit.finish(&tx).await?;
    tx.commit().await?;
    let mut known = state.tokens.revealed.write().expect("token cache poisoned");
    if known.len() >= TokenCache::CAPACITY * 10 {
        known.clear();
    }
    known.extend(fresh.iter().map(|s| (token_id, s.id())));
    Ok(())
}
