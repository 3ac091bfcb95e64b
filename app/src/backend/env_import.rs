//! `.env` import into one scope (API.md ".env import"). The plan is made from the in-memory
//! snapshot (no read per key or per user); applying it needs the dry run's plan hash, then
//! re-checks, inside one transaction under the audit chain's lock, that every entry is still at
//! the version the plan saw, and writes the new keys, the entries and their events as one batch.
//! A refusal or a plan with any row in error writes nothing, audit included.

use std::collections::HashMap;

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::AppState;
use super::access::{self, describe, enforce};
use super::audit::{Actor, AuditWriter};
use super::entity::config_key;
use super::entries::{Put, find_entry, find_key, put_entry, scope_ids, stored_plaintext};
use super::error::ServiceError;
use super::transfer::{key_audit_json, key_row};
use crate::domain::audit_chain::AuditRecord;
use crate::domain::document::Problem;
use crate::domain::dotenv::parse::parse;
use crate::domain::dotenv::plan::{Current, EnvPlan, Mapping, Row, Target, plan};
use crate::domain::impact::{EntryOp, OpKind};
use crate::domain::key::KeyDefinition;
use crate::domain::name::ConfigKey;
use crate::domain::policy::{Action, Decision, Principal, decide};
use crate::domain::resolve::Snapshot;
use crate::domain::scope::Scope;

/// A `.env` file to import into `scope`.
#[derive(Debug, Clone)]
pub struct EnvImport {
    pub scope: Scope,
    pub text: String,
    pub mapping: Mapping,
    pub reason: Option<String>,
    /// The dry run's hash; required to apply.
    pub plan_hash: Option<String>,
    pub dry_run: bool,
}

/// The plan, and for an apply what it wrote.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvImportReport {
    pub plan_hash: String,
    pub rows: Vec<Row>,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// One per row in error (`path` is `line N`); any of them and nothing is written.
    pub errors: Vec<Problem>,
    /// Whether this answer wrote the plan (false for a dry run or a plan with errors).
    pub applied: bool,
    /// For each key the plan writes that the registry has, how many users' effective value
    /// of it the write changes (computed from the snapshots before anything is written).
    #[serde(default)]
    pub affected: std::collections::BTreeMap<String, usize>,
}

impl EnvImportReport {
    fn of(plan: &EnvPlan) -> Self {
        EnvImportReport {
            plan_hash: plan.plan_hash.clone(),
            rows: plan.rows.clone(),
            created: plan.created,
            updated: plan.updated,
            unchanged: plan.unchanged,
            errors: plan.errors.clone(),
            applied: false,
            affected: Default::default(),
        }
    }
}

/// The snapshot that holds `scope`.
fn snapshot_of(state: &AppState, scope: &Scope) -> Result<std::sync::Arc<Snapshot>, ServiceError> {
    state
        .snapshots
        .for_scope(scope)
        .ok_or_else(|| ServiceError::NotFound(format!("{} was not found", describe(scope))))
}

/// Plans `request` against the snapshot: the key registry, the scope's own entries and the
/// locks above it.
fn make_plan(state: &AppState, request: &EnvImport) -> Result<EnvPlan, ServiceError> {
    let snapshot = snapshot_of(state, &request.scope)?;
    let layers = snapshot.layers_down_to(&request.scope).map_err(|_| {
        ServiceError::NotFound(format!("{} was not found", describe(&request.scope)))
    })?;
    let defs = snapshot.keys.defs();
    let mut current = HashMap::new();
    let mut locked_above: HashMap<ConfigKey, String> = HashMap::new();
    for layer in layers {
        let own = layer.scope() == &request.scope;
        for (idx, cell) in layer.entries() {
            let key = &defs[idx as usize].key;
            if own {
                current.insert(
                    key.clone(),
                    Current {
                        value: cell.value.clone(),
                        version: cell.version,
                    },
                );
            } else if cell.locked {
                // General → specific: the first lock is the one that holds.
                locked_above
                    .entry(key.clone())
                    .or_insert_with(|| layer.scope().to_string());
            }
        }
    }
    let parsed = parse(&request.text);
    plan(
        &parsed,
        &request.mapping,
        &Target {
            scope: &request.scope,
            keys: defs,
            current: &current,
            locked_above: &locked_above,
        },
    )
    .map_err(|e| ServiceError::Invalid(e.to_string()))
}

/// Plans the import of `request` and, unless it is a dry run or has rows in error, applies it.
/// `principal` must be able to write every key it sets at the scope, and to manage keys when
/// the plan creates any; `None` is the operator at the database (the CLI), who may do anything.
pub async fn import_env(
    state: &AppState,
    principal: Option<&Principal>,
    actor: &Actor,
    request: EnvImport,
) -> Result<EnvImportReport, ServiceError> {
    if let Some(principal) = principal {
        // Another tenant's scope looks like a missing one, before anything else is said of it.
        access::authorize_read(state, principal, &request.scope, false).await?;
    }
    let env_plan = make_plan(state, &request)?;
    if let Some(principal) = principal {
        authorize(state, principal, &request.scope, &env_plan).await?;
    }
    let mut report = EnvImportReport::of(&env_plan);
    if !report.errors.is_empty() {
        return Ok(report);
    }
    report.affected = affected(state, &request.scope, &env_plan).await?;
    if request.dry_run {
        return Ok(report);
    }
    match request.plan_hash.as_deref() {
        None => {
            return Err(ServiceError::Invalid(
                "plan_hash: required to apply; run a dry run first and send its plan_hash".into(),
            ));
        }
        Some(hash) if hash != env_plan.plan_hash => {
            return Err(ServiceError::Conflict {
                message: "the plan changed since the dry run (plan_hash differs): run the dry \
                          run again and check its rows"
                    .into(),
                current: None,
            });
        }
        Some(_) => {}
    }
    if env_plan.writes.is_empty() {
        report.applied = true;
        return Ok(report);
    }
    apply(state, actor, &request, &env_plan).await?;
    report.applied = true;
    Ok(report)
}

/// Users whose effective value each write of `env_plan` changes, by key (keys the plan
/// creates have no users yet to reach: they are left out).
async fn affected(
    state: &AppState,
    scope: &Scope,
    env_plan: &EnvPlan,
) -> Result<std::collections::BTreeMap<String, usize>, ServiceError> {
    let snapshot = snapshot_of(state, scope)?;
    let ops: Vec<EntryOp> = env_plan
        .writes
        .iter()
        .filter_map(|write| {
            let (key, _) = snapshot.keys.get(&write.key)?;
            Some(EntryOp {
                scope: scope.clone(),
                key,
                kind: OpKind::Set(write.value.clone()),
            })
        })
        .collect();
    if ops.is_empty() {
        return Ok(Default::default());
    }
    let found = super::impact::compute(state, ops).await?;
    Ok(found
        .by_key
        .into_iter()
        .map(|(key, n)| (key.to_string(), n))
        .collect())
}

/// Whether `principal` may write every key `env_plan` sets at `scope`, and create the keys it
/// creates.
async fn authorize(
    state: &AppState,
    principal: &Principal,
    scope: &Scope,
    env_plan: &EnvPlan,
) -> Result<(), ServiceError> {
    let target = access::target(state, scope).await?;
    let planned_keys = env_plan
        .rows
        .iter()
        .filter_map(|r| r.key.as_deref())
        .filter_map(|k| ConfigKey::parse(k).ok());
    let defs: HashMap<ConfigKey, &KeyDefinition> = env_plan
        .new_keys
        .iter()
        .map(|d| (d.key.clone(), d))
        .collect();
    let snapshot = snapshot_of(state, scope)?;
    // The scope must be writable at all (a user's own scope: their user_editable keys), then
    // for every key the file names.
    enforce(
        decide(
            principal,
            &Action::Write {
                target: &target,
                user_editable: true,
            },
        ),
        || describe(scope),
    )?;
    for key in planned_keys {
        let user_editable = match snapshot.keys.get(&key) {
            Some((_, def)) => def.user_editable,
            None => defs.get(&key).is_some_and(|d| d.user_editable),
        };
        let action = Action::Write {
            target: &target,
            user_editable,
        };
        if decide(principal, &action) != Decision::Allow {
            return Err(ServiceError::Forbidden(format!(
                "you may not set {key} at {}",
                scope
            )));
        }
    }
    if !env_plan.new_keys.is_empty() {
        access::authorize(principal, &Action::ManageKeys).map_err(|_| {
            ServiceError::Forbidden(
                "mapping.create_keys: only super admins may create keys; map or ignore the \
                 names no key matches"
                    .into(),
            )
        })?;
    }

    Ok(())
}

/// Writes `env_plan` in one transaction, refusing it whole when anything it was made against
/// moved.
async fn apply(
    state: &AppState,
    actor: &Actor,
    request: &EnvImport,
    env_plan: &EnvPlan,
) -> Result<(), ServiceError> {
    let moved = |what: String| ServiceError::Conflict {
        message: format!("{what} since the dry run: run it again and check its rows"),
        current: None,
    };
    let scope = &request.scope;
    let now = chrono::Utc::now();
    let tx = state.db.begin().await?;
    let mut audit = AuditWriter::begin(&tx, now).await?;
    let batch_id = Some(uuid::Uuid::new_v4().to_string());
    let mut new_ids: HashMap<&ConfigKey, (i64, &KeyDefinition)> = HashMap::new();
    for def in &env_plan.new_keys {
        let exists = config_key::Entity::find()
            .filter(config_key::Column::Name.eq(def.key.as_str()))
            .one(&tx)
            .await?
            .is_some();
        if exists {
            return Err(moved(format!("key {} was created", def.key)));
        }
        let mut row = key_row(&state.secrets, def, now);
        row.created_at = Set(now);
        let row = row.insert(&tx).await?;
        audit
            .append(
                &tx,
                actor,
                AuditRecord {
                    action: "key.create".into(),
                    key: Some(def.key.to_string()),
                    new_value: Some(key_audit_json(&state.secrets, def)),
                    batch_id: batch_id.clone(),
                    ..Default::default()
                },
            )
            .await?;
        new_ids.insert(&def.key, (row.id, def));
    }
    let ids = scope_ids(&tx, scope).await?;
    // Checked before commit, once for all rows: a refusal rolls every write back.
    let mut places = Vec::with_capacity(env_plan.writes.len());
    for write in &env_plan.writes {
        let found;
        let (key_id, def) = match new_ids.get(&write.key) {
            Some((id, def)) => (*id, *def),
            None => {
                found = find_key(&tx, &state.secrets, &write.key).await?;
                (found.0, &found.1)
            }
        };
        // The definition may have changed since the plan was made from the snapshot.
        if !def.allows_level(scope.level()) || def.validate(&write.value).is_err() {
            return Err(moved(format!("the definition of {} changed", def.key)));
        }
        let existing = find_entry(&tx, key_id, scope, &ids).await?;
        if existing.as_ref().map_or(0, |e| e.version) != write.expect_version {
            return Err(moved(format!("{} at {scope} changed", def.key)));
        }
        let old_value = existing
            .as_ref()
            .map(|row| stored_plaintext(&state.secrets, def, row))
            .transpose()?;
        let locked = existing.as_ref().is_some_and(|e| e.locked);
        places.push(super::changes::place(def, scope, &ids));
        put_entry(
            &tx,
            &mut audit,
            &state.secrets,
            actor,
            now,
            Put {
                key_id,
                def,
                scope,
                ids: &ids,
                existing,
                old_value,
                value: &write.value,
                locked,
                reason: request.reason.clone(),
                batch_id: batch_id.clone(),
            },
        )
        .await?;
    }
    super::changes::gate(&tx, &places).await?;
    audit
        .append(
            &tx,
            actor,
            AuditRecord {
                action: "import.env".into(),
                level: Some(scope.level().as_str().into()),
                scope: scope.id(),
                tenant: ids.audit_tenant.clone(),
                department: ids.audit_department.clone(),
                new_value: Some(
                    json!({
                        "created": env_plan.created,
                        "updated": env_plan.updated,
                        "unchanged": env_plan.unchanged,
                        "keys_created": env_plan.new_keys.len(),
                    })
                    .to_string(),
                ),
                reason: request.reason.clone(),
                batch_id,
                ..Default::default()
            },
        )
        .await?;
    audit.finish(&tx).await?;
    tx.commit().await?;
    state.publish().await;
    Ok(())
}
