//! Setting and removing entries: validation, optimistic concurrency (DESIGN §5), encryption of
//! sensitive values and the audit event, all in one transaction; then the snapshots catch up.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    TransactionTrait,
};
use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use super::AppState;
use super::audit::{Actor, AuditWriter};
use super::crypto::SecretBox;
use super::entity::{config_key, department, entry, group, tenant, user};
use super::error::ServiceError;
use super::state::key_definition;
use crate::domain::audit_chain::AuditRecord;
use crate::domain::key::KeyDefinition;
use crate::domain::name::{ConfigKey, Slug};
use crate::domain::scope::Scope;
use crate::domain::value::MASK;
pub use crate::views::EntryView;

#[derive(Debug, Clone)]
pub struct SetEntry {
    pub key: ConfigKey,
    pub scope: Scope,
    pub value: Value,
    /// `None` keeps the current lock (unlocked for a new entry).
    pub locked: Option<bool>,
    /// The version the caller read; `Some(0)` means "must not exist yet".
    pub expect_version: Option<i64>,
    pub reason: Option<String>,
}

/// The database ids behind a scope, plus the slugs the audit records for visibility.
#[derive(Debug, Clone, Default)]
pub struct ScopeIds {
    pub tenant_id: Option<i64>,
    pub department_id: Option<i64>,
    pub group_id: Option<i64>,
    pub user_id: Option<i64>,
    pub audit_tenant: Option<String>,
    pub audit_department: Option<String>,
}

pub async fn scope_ids<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
) -> Result<ScopeIds, ServiceError> {
    let tenant_id = |slug: String| async move {
        tenant::Entity::find()
            .filter(tenant::Column::Slug.eq(slug.as_str()))
            .one(db)
            .await?
            .map(|t| t.id)
            .ok_or_else(|| ServiceError::NotFound(format!("tenant {slug} was not found")))
    };
    Ok(match scope {
        Scope::Global => ScopeIds::default(),
        Scope::Tenant { tenant } => ScopeIds {
            tenant_id: Some(tenant_id(tenant.to_string()).await?),
            audit_tenant: Some(tenant.to_string()),
            ..Default::default()
        },
        Scope::Department {
            tenant,
            department: d,
        } => {
            let t = tenant_id(tenant.to_string()).await?;
            let row = department::Entity::find()
                .filter(department::Column::TenantId.eq(t))
                .filter(department::Column::Slug.eq(d.as_str()))
                .one(db)
                .await?
                .ok_or_else(|| {
                    ServiceError::NotFound(format!("department {tenant}/{d} was not found"))
                })?;
            ScopeIds {
                tenant_id: Some(t),
                department_id: Some(row.id),
                audit_tenant: Some(tenant.to_string()),
                audit_department: Some(d.to_string()),
                ..Default::default()
            }
        }
        Scope::Group { tenant, group: g } => {
            let t = tenant_id(tenant.to_string()).await?;
            let row = group::Entity::find()
                .filter(group::Column::TenantId.eq(t))
                .filter(group::Column::Slug.eq(g.as_str()))
                .one(db)
                .await?
                .ok_or_else(|| {
                    ServiceError::NotFound(format!("group {tenant}/{g} was not found"))
                })?;
            ScopeIds {
                tenant_id: Some(t),
                group_id: Some(row.id),
                audit_tenant: Some(tenant.to_string()),
                ..Default::default()
            }
        }
        Scope::User { user: u } => {
            let row = user::Entity::find()
                .filter(user::Column::Slug.eq(u.as_str()))
                .one(db)
                .await?
                .ok_or_else(|| ServiceError::NotFound(format!("user {u} was not found")))?;
            let audit_tenant = match row.tenant_id {
                Some(id) => tenant::Entity::find_by_id(id)
                    .one(db)
                    .await?
                    .map(|t| t.slug),
                None => None,
            };
            let audit_department = match row.department_id {
                Some(id) => department::Entity::find_by_id(id)
                    .one(db)
                    .await?
                    .map(|d| d.slug),
                None => None,
            };
            ScopeIds {
                user_id: Some(row.id),
                audit_tenant,
                audit_department,
                ..Default::default()
            }
        }
    })
}

/// Every key's and scope's ids, read once: many entries are written (a bulk import) without
/// a query per entry. Answers as [`find_key`] and [`scope_ids`] do.
pub struct ScopeIndex {
    keys: HashMap<String, (i64, KeyDefinition)>,
    tenants: HashMap<String, i64>,
    tenant_slugs: HashMap<i64, String>,
    departments: HashMap<(i64, String), i64>,
    department_slugs: HashMap<i64, String>,
    groups: HashMap<(i64, String), i64>,
    /// A user's id, tenant and department.
    users: HashMap<String, (i64, Option<i64>, Option<i64>)>,
}

impl ScopeIndex {
    /// Every key, and the scopes of the whole platform or (`part`) of some tenants and users
    /// (a write that names only those needs no more).
    pub async fn load<C: ConnectionTrait>(
        db: &C,
        secrets: &SecretBox,
        part: Option<(&BTreeSet<Option<String>>, &BTreeSet<String>)>,
    ) -> Result<ScopeIndex, ServiceError> {
        use sea_orm::sea_query::Query;
        let mut keys = HashMap::new();
        for row in config_key::Entity::find().all(db).await? {
            let def = key_definition(&row, secrets)?;
            keys.insert(row.name.clone(), (row.id, def));
        }
        let mut tenants = tenant::Entity::find();
        let mut departments = department::Entity::find();
        let mut groups = group::Entity::find();
        let mut users = user::Entity::find();
        if let Some((named, user_slugs)) = part {
            let named: Vec<String> = named.iter().flatten().cloned().collect();
            let ids = Query::select()
                .column(tenant::Column::Id)
                .from(tenant::Entity)
                .and_where(tenant::Column::Slug.is_in(named.clone()))
                .to_owned();
            tenants = tenants.filter(tenant::Column::Slug.is_in(named));
            departments = departments.filter(department::Column::TenantId.in_subquery(ids.clone()));
            groups = groups.filter(group::Column::TenantId.in_subquery(ids));
            users = users.filter(user::Column::Slug.is_in(user_slugs.iter().cloned()));
        }
        let tenants_rows = tenants.all(db).await?;
        let departments_rows = departments.all(db).await?;
        Ok(ScopeIndex {
            keys,
            tenants: tenants_rows
                .iter()
                .map(|t| (t.slug.clone(), t.id))
                .collect(),
            tenant_slugs: tenants_rows.into_iter().map(|t| (t.id, t.slug)).collect(),
            departments: departments_rows
                .iter()
                .map(|d| ((d.tenant_id, d.slug.clone()), d.id))
                .collect(),
            department_slugs: departments_rows
                .into_iter()
                .map(|d| (d.id, d.slug))
                .collect(),
            groups: groups
                .all(db)
                .await?
                .into_iter()
                .map(|g| ((g.tenant_id, g.slug), g.id))
                .collect(),
            users: users
                .all(db)
                .await?
                .into_iter()
                .map(|u| (u.slug, (u.id, u.tenant_id, u.department_id)))
                .collect(),
        })
    }

    /// Records a user written since the index was read (created, or moved to another tenant
    /// or department), so the index keeps answering for the database as it now stands.
    pub fn put_user(
        &mut self,
        slug: String,
        id: i64,
        tenant_id: Option<i64>,
        department_id: Option<i64>,
    ) {
        self.users.insert(slug, (id, tenant_id, department_id));
    }

    /// The id of department `slug` of tenant `tenant_id`.
    pub fn department_id(&self, tenant_id: i64, slug: &Slug) -> Option<i64> {
        self.departments
            .get(&(tenant_id, slug.to_string()))
            .copied()
    }

    /// The id of group `slug` of tenant `tenant_id`.
    pub fn group_id(&self, tenant_id: i64, slug: &Slug) -> Option<i64> {
        self.groups.get(&(tenant_id, slug.to_string())).copied()
    }

    /// The key's id and definition.
    pub fn key(&self, key: &ConfigKey) -> Result<(i64, &KeyDefinition), ServiceError> {
        self.keys
            .get(key.as_str())
            .map(|(id, def)| (*id, def))
            .ok_or_else(|| ServiceError::NotFound(format!("key {key} is not defined")))
    }

    /// The ids behind `scope`.
    pub fn ids(&self, scope: &Scope) -> Result<ScopeIds, ServiceError> {
        let tenant_id = |slug: &str| {
            self.tenants
                .get(slug)
                .copied()
                .ok_or_else(|| ServiceError::NotFound(format!("tenant {slug} was not found")))
        };
        Ok(match scope {
            Scope::Global => ScopeIds::default(),
            Scope::Tenant { tenant } => ScopeIds {
                tenant_id: Some(tenant_id(tenant.as_str())?),
                audit_tenant: Some(tenant.to_string()),
                ..Default::default()
            },
            Scope::Department {
                tenant,
                department: d,
            } => {
                let t = tenant_id(tenant.as_str())?;
                let id = self.department_id(t, d).ok_or_else(|| {
                    ServiceError::NotFound(format!("department {tenant}/{d} was not found"))
                })?;
                ScopeIds {
                    tenant_id: Some(t),
                    department_id: Some(id),
                    audit_tenant: Some(tenant.to_string()),
                    audit_department: Some(d.to_string()),
                    ..Default::default()
                }
            }
            Scope::Group { tenant, group: g } => {
                let t = tenant_id(tenant.as_str())?;
                let id = self.group_id(t, g).ok_or_else(|| {
                    ServiceError::NotFound(format!("group {tenant}/{g} was not found"))
                })?;
                ScopeIds {
                    tenant_id: Some(t),
                    group_id: Some(id),
                    audit_tenant: Some(tenant.to_string()),
                    ..Default::default()
                }
            }
            Scope::User { user: u } => {
                let (id, tenant, department) = self
                    .users
                    .get(u.as_str())
                    .copied()
                    .ok_or_else(|| ServiceError::NotFound(format!("user {u} was not found")))?;
                ScopeIds {
                    user_id: Some(id),
                    audit_tenant: tenant.and_then(|t| self.tenant_slugs.get(&t).cloned()),
                    audit_department: department
                        .and_then(|d| self.department_slugs.get(&d).cloned()),
                    ..Default::default()
                }
            }
        })
    }
}

pub async fn find_key<C: ConnectionTrait>(
    db: &C,
    secrets: &SecretBox,
    key: &ConfigKey,
) -> Result<(i64, KeyDefinition), ServiceError> {
    let row = config_key::Entity::find()
        .filter(config_key::Column::Name.eq(key.as_str()))
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("key {key} is not defined")))?;
    Ok((row.id, key_definition(&row, secrets)?))
}

pub async fn find_entry<C: ConnectionTrait>(
    db: &C,
    key_id: i64,
    scope: &Scope,
    ids: &ScopeIds,
) -> Result<Option<entry::Model>, ServiceError> {
    let mut query = entry::Entity::find()
        .filter(entry::Column::KeyId.eq(key_id))
        .filter(entry::Column::Level.eq(scope.level().as_str()));
    for (column, id) in [
        (entry::Column::TenantId, ids.tenant_id),
        (entry::Column::DepartmentId, ids.department_id),
        (entry::Column::GroupId, ids.group_id),
        (entry::Column::UserId, ids.user_id),
    ] {
        query = match id {
            Some(id) => query.filter(column.eq(id)),
            None => query.filter(column.is_null()),
        };
    }
    Ok(query.one(db).await?)
}

/// The value as stored: JSON text, or sealed for a sensitive key.
pub fn store_value(secrets: &SecretBox, def: &KeyDefinition, value: &Value) -> (String, bool) {
    if def.sensitive {
        (secrets.seal(def.key.as_str(), value), true)
    } else {
        (value.to_string(), false)
    }
}

/// The inverse of [`store_value`]: the plaintext of a stored value of key `key_name`.
pub fn read_stored(
    secrets: &SecretBox,
    key_name: &str,
    stored: &str,
    encrypted: bool,
) -> Result<Value, String> {
    if encrypted {
        secrets.open(key_name, stored).map_err(|e| e.to_string())
    } else {
        serde_json::from_str(stored).map_err(|_| "the stored value is not valid JSON".into())
    }
}

/// How the audit shows a value of `def` at `scope` (`None`: the key's default): the JSON, or
/// for a secret the mask and a fingerprint keyed by the key and the scope.
pub fn audit_value(
    secrets: &SecretBox,
    def: &KeyDefinition,
    scope: Option<&Scope>,
    value: &Value,
) -> String {
    let place = scope.map_or_else(|| "default".to_owned(), ToString::to_string);
    audit_value_at(secrets, def, &place, value)
}

/// [`audit_value`] at a place named by the caller (`template:NAME` for a template's entry).
pub fn audit_value_at(
    secrets: &SecretBox,
    def: &KeyDefinition,
    place: &str,
    value: &Value,
) -> String {
    if def.sensitive {
        format!(
            "{MASK} {}",
            secrets.fingerprint(def.key.as_str(), place, value)
        )
    } else {
        value.to_string()
    }
}

pub(super) fn stored_plaintext(
    secrets: &SecretBox,
    def: &KeyDefinition,
    row: &entry::Model,
) -> Result<Value, ServiceError> {
    read_stored(secrets, def.key.as_str(), &row.value, row.encrypted).map_err(|e| {
        ServiceError::Database(sea_orm::DbErr::Custom(format!("entry {}: {e}", row.id)))
    })
}

pub fn view(def: &KeyDefinition, value: &Value, row: &entry::Model, reveal: bool) -> EntryView {
    EntryView {
        key: def.key.to_string(),
        value: if def.sensitive && !reveal {
            Value::String(MASK.into())
        } else {
            value.clone()
        },
        locked: row.locked,
        version: row.version,
        updated_at: row.updated_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        updated_by: row.updated_by.clone(),
    }
}

fn conflict(
    secrets: &SecretBox,
    def: &KeyDefinition,
    scope: &Scope,
    current: Option<&entry::Model>,
    expected: i64,
) -> Result<ServiceError, ServiceError> {
    let (message, current) = match current {
        Some(row) => {
            let value = stored_plaintext(secrets, def, row)?;
            (
                format!(
                    "{} at {scope} changed since version {expected}: it is now version {}",
                    def.key, row.version
                ),
                Some(Box::new(view(def, &value, row, false))),
            )
        }
        None => (
            format!(
                "{} at {scope} changed since version {expected}: it is no longer set",
                def.key
            ),
            None,
        ),
    };
    Ok(ServiceError::Conflict { message, current })
}

/// Sets (or locks/unlocks) one entry. Returns the entry as stored, or as it was when
/// nothing changed.
pub async fn set_entry(
    state: &AppState,
    actor: &Actor,
    request: SetEntry,
) -> Result<EntryView, ServiceError> {
    let now = chrono::Utc::now();
    let tx = state.db.begin().await?;
    let mut audit = AuditWriter::begin(&tx, now).await?;
    let (key_id, def) = find_key(&tx, &state.secrets, &request.key).await?;
    let level = request.scope.level();
    if !def.allows_level(level) {
        return Err(ServiceError::Invalid(format!(
            "key {} cannot be set at the {level} level (allowed: {})",
            def.key,
            def.levels
                .iter()
                .map(|l| l.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    def.validate(&request.value)
        .map_err(|e| ServiceError::Invalid(format!("value: key {}: {e}", def.key)))?;
    let ids = scope_ids(&tx, &request.scope).await?;
    let existing = find_entry(&tx, key_id, &request.scope, &ids).await?;
    if let Some(expected) = request.expect_version {
        let actual = existing.as_ref().map_or(0, |e| e.version);
        if actual != expected {
            return Err(conflict(
                &state.secrets,
                &def,
                &request.scope,
                existing.as_ref(),
                expected,
            )?);
        }
    }
    let old_value = existing
        .as_ref()
        .map(|row| stored_plaintext(&state.secrets, &def, row))
        .transpose()?;
    let old_locked = existing.as_ref().map(|e| e.locked);
    let locked = request.locked.or(old_locked).unwrap_or(false);
    if old_value.as_ref() == Some(&request.value) && old_locked == Some(locked) {
        let row = existing.expect("an unchanged entry exists");
        return Ok(view(&def, &request.value, &row, false));
    }
    super::changes::gate(&tx, &[super::changes::place(&def, &request.scope, &ids)]).await?;

    let row = put_entry(
        &tx,
        &mut audit,
        &state.secrets,
        actor,
        now,
        Put {
            key_id,
            def: &def,
            scope: &request.scope,
            ids: &ids,
            existing,
            old_value,
            value: &request.value,
            locked,
            reason: request.reason.clone(),
            batch_id: None,
        },
    )
    .await?;
    audit.finish(&tx).await?;
    tx.commit().await?;
    state.publish().await;
    Ok(view(&def, &request.value, &row, false))
}

/// One entry write inside the caller's transaction, after its checks: the row (sealed for a
/// sensitive key, version moved on) and its audit event. Single edits and bulk writes (.env
/// imports) both come through here, so an entry is never written without its event.
pub(super) struct Put<'a> {
    pub key_id: i64,
    pub def: &'a KeyDefinition,
    pub scope: &'a Scope,
    pub ids: &'a ScopeIds,
    /// The scope's entry as read in this transaction.
    pub existing: Option<entry::Model>,
    /// Its plaintext value.
    pub old_value: Option<Value>,
    pub value: &'a Value,
    pub locked: bool,
    pub reason: Option<String>,
    pub batch_id: Option<String>,
}

pub(super) async fn put_entry<C: ConnectionTrait>(
    tx: &C,
    audit: &mut AuditWriter,
    secrets: &SecretBox,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
    put: Put<'_>,
) -> Result<entry::Model, ServiceError> {
    let Put {
        key_id,
        def,
        scope,
        ids,
        existing,
        old_value,
        value,
        locked,
        reason,
        batch_id,
    } = put;
    let level = scope.level();
    let old_locked = existing.as_ref().map(|e| e.locked);
    let (stored, encrypted) = store_value(secrets, def, value);
    let row = match existing.clone() {
        Some(row) => {
            let version = row.version + 1;
            let mut active: entry::ActiveModel = row.into();
            active.value = Set(stored.clone());
            active.encrypted = Set(encrypted);
            active.locked = Set(locked);
            active.version = Set(version);
            active.updated_at = Set(now);
            active.updated_by = Set(actor.name.clone());
            active.update(tx).await?
        }
        None => {
            entry::ActiveModel {
                key_id: Set(key_id),
                level: Set(level.as_str().to_owned()),
                tenant_id: Set(ids.tenant_id),
                department_id: Set(ids.department_id),
                group_id: Set(ids.group_id),
                user_id: Set(ids.user_id),
                value: Set(stored.clone()),
                encrypted: Set(encrypted),
                locked: Set(locked),
                version: Set(1),
                updated_at: Set(now),
                updated_by: Set(actor.name.clone()),
                ..Default::default()
            }
            .insert(tx)
            .await?
        }
    };
    let action = match (&old_value, old_locked) {
        (Some(old), Some(was_locked)) if old == value && was_locked != locked => {
            if locked {
                "entry.lock"
            } else {
                "entry.unlock"
            }
        }
        _ => "entry.set",
    };
    audit
        .append(
            tx,
            actor,
            AuditRecord {
                action: action.into(),
                level: Some(level.as_str().into()),
                scope: scope.id(),
                tenant: ids.audit_tenant.clone(),
                department: ids.audit_department.clone(),
                key: Some(def.key.to_string()),
                old_value: old_value
                    .as_ref()
                    .map(|v| audit_value(secrets, def, Some(scope), v)),
                new_value: Some(audit_value(secrets, def, Some(scope), value)),
                old_locked,
                new_locked: Some(locked),
                old_ciphertext: existing
                    .as_ref()
                    .filter(|e| e.encrypted)
                    .map(|e| e.value.clone()),
                new_ciphertext: encrypted.then(|| stored.clone()),
                reason,
                batch_id,
                ..Default::default()
            },
        )
        .await?;
    Ok(row)
}

/// Locks or unlocks the entry at `scope`, keeping its value (which the caller may not have
/// seen in plaintext).
pub async fn set_lock(
    state: &AppState,
    actor: &Actor,
    key: &ConfigKey,
    scope: &Scope,
    locked: bool,
    expect_version: Option<i64>,
    reason: Option<String>,
) -> Result<EntryView, ServiceError> {
    let (key_id, def) = find_key(&state.db, &state.secrets, key).await?;
    let ids = scope_ids(&state.db, scope).await?;
    let row = find_entry(&state.db, key_id, scope, &ids)
        .await?
        .ok_or_else(|| {
            ServiceError::NotFound(format!(
                "{key} has no entry at {scope}; set a value before locking it"
            ))
        })?;
    let value = stored_plaintext(&state.secrets, &def, &row)?;
    let request = SetEntry {
        key: key.clone(),
        scope: scope.clone(),
        value,
        locked: Some(locked),
        expect_version: expect_version.or(Some(row.version)),
        reason,
    };
    set_entry(state, actor, request).await
}

/// Removes one entry; removing what is not there is a not-found error.
pub async fn unset_entry(
    state: &AppState,
    actor: &Actor,
    key: &ConfigKey,
    scope: &Scope,
    expect_version: Option<i64>,
    reason: Option<String>,
) -> Result<(), ServiceError> {
    let tx = state.db.begin().await?;
    let mut audit = AuditWriter::begin(&tx, chrono::Utc::now()).await?;
    let (key_id, def) = find_key(&tx, &state.secrets, key).await?;
    let ids = scope_ids(&tx, scope).await?;
    let existing = find_entry(&tx, key_id, scope, &ids).await?;
    if let Some(expected) = expect_version
        && existing.as_ref().map_or(0, |e| e.version) != expected
    {
        return Err(conflict(
            &state.secrets,
            &def,
            scope,
            existing.as_ref(),
            expected,
        )?);
    }
    let row =
        existing.ok_or_else(|| ServiceError::NotFound(format!("{key} has no entry at {scope}")))?;
    super::changes::gate(&tx, &[super::changes::place(&def, scope, &ids)]).await?;
    remove_entry(
        &tx,
        &mut audit,
        &state.secrets,
        actor,
        Remove {
            def: &def,
            scope,
            ids: &ids,
            row,
            reason,
            batch_id: None,
        },
    )
    .await?;
    audit.finish(&tx).await?;
    tx.commit().await?;
    state.publish().await;
    Ok(())
}

/// The entries set at `scope`, sorted by key; sensitive values masked unless `reveal`.
pub async fn list(
    state: &AppState,
    scope: &Scope,
    reveal: bool,
) -> Result<Vec<EntryView>, ServiceError> {
    let ids = scope_ids(&state.db, scope).await?;
    let mut query = entry::Entity::find().filter(entry::Column::Level.eq(scope.level().as_str()));
    for (column, id) in [
        (entry::Column::TenantId, ids.tenant_id),
        (entry::Column::DepartmentId, ids.department_id),
        (entry::Column::GroupId, ids.group_id),
        (entry::Column::UserId, ids.user_id),
    ] {
        query = match id {
            Some(id) => query.filter(column.eq(id)),
            None => query.filter(column.is_null()),
        };
    }
    let rows = query.all(&state.db).await?;
    let keys: std::collections::HashMap<i64, config_key::Model> = config_key::Entity::find()
        .all(&state.db)
        .await?
        .into_iter()
        .map(|k| (k.id, k))
        .collect();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let Some(key_row) = keys.get(&row.key_id) else {
            continue;
        };
        let def = key_definition(key_row, &state.secrets)?;
        let value = stored_plaintext(&state.secrets, &def, &row)?;
        out.push(view(&def, &value, &row, reveal));
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

/// Records that `actor` saw the secrets of `scope` in plaintext.
pub async fn audit_scope_reveal(
    state: &AppState,
    actor: &Actor,
    scope: &Scope,
) -> Result<(), ServiceError> {
    let ids = scope_ids(&state.db, scope).await?;
    let event = AuditRecord {
        action: "secret.reveal".into(),
        level: Some(scope.level().as_str().into()),
        scope: scope.id(),
        tenant: ids.audit_tenant,
        department: ids.audit_department,
        ..Default::default()
    };
    super::audit::record(&state.db, actor, event).await?;
    Ok(())
}

/// One entry removal inside the caller's transaction, after its checks: the row goes, its
/// event is appended (the old value sealed or masked as the audit keeps it).
pub(super) struct Remove<'a> {
    pub def: &'a KeyDefinition,
    pub scope: &'a Scope,
    pub ids: &'a ScopeIds,
    /// The scope's entry as read in this transaction.
    pub row: entry::Model,
    pub reason: Option<String>,
    pub batch_id: Option<String>,
}

pub(super) async fn remove_entry<C: ConnectionTrait>(
    tx: &C,
    audit: &mut AuditWriter,
    secrets: &SecretBox,
    actor: &Actor,
    remove: Remove<'_>,
) -> Result<(), ServiceError> {
    let Remove {
        def,
        scope,
        ids,
        row,
        reason,
        batch_id,
    } = remove;
    let old_value = stored_plaintext(secrets, def, &row)?;
    entry::Entity::delete_by_id(row.id).exec(tx).await?;
    audit
        .append(
            tx,
            actor,
            AuditRecord {
                action: "entry.unset".into(),
                level: Some(scope.level().as_str().into()),
                scope: scope.id(),
                tenant: ids.audit_tenant.clone(),
                department: ids.audit_department.clone(),
                key: Some(def.key.to_string()),
                old_value: Some(audit_value(secrets, def, Some(scope), &old_value)),
                old_locked: Some(row.locked),
                old_ciphertext: row.encrypted.then(|| row.value.clone()),
                reason,
                batch_id,
                ..Default::default()
            },
        )
        .await?;
    Ok(())
}
