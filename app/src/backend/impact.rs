//! Impact before saving (DESIGN §5): whom a set of entry operations would affect, computed by
//! the pure engine ([`crate::domain::impact`]) from the snapshots, never per user in SQL. The
//! caller must be allowed to make every operation; what the answer names (users, scopes) is
//! only what the caller may read, and sensitive values are masked.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use super::AppState;
use super::access;
use super::error::ServiceError;
use crate::domain::impact::{self, EntryOp, OpKind, Patches, TemplateOp};
use crate::domain::key::KeyDefinition;
use crate::domain::level::Level;
use crate::domain::name::{ConfigKey, Slug};
use crate::domain::policy::{Action, Principal};
use crate::domain::resolve::Snapshot;
use crate::domain::scope::Scope;
use crate::domain::value::MASK;
pub use crate::views::{ChangedView, EntryRef, ImpactView};

/// At most this many operations in one request.
pub const MAX_OPS: usize = 1000;
/// Changed values shown, and scopes listed per list.
pub const SAMPLE: usize = 20;
pub const LISTED: usize = 100;

/// One operation: `{"op": "set"|"unset"|"lock"|"unlock", "scope", "key", "value"?}`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpRequest {
    pub op: String,
    pub scope: String,
    pub key: String,
    #[serde(default)]
    pub value: Option<Value>,
}

/// One operation, checked: its scope exists, its key is defined, a value is valid for the key
/// at that level, and the caller may make it.
#[derive(Debug, Clone)]
pub struct CheckedOp {
    pub scope: Scope,
    pub key: ConfigKey,
    pub def: crate::domain::key::KeyDefinition,
    pub op: EntryOp,
}

impl CheckedOp {
    /// The operation's name as API.md spells it.
    pub fn name(&self) -> &'static str {
        match self.op.kind {
            OpKind::Set(_) => "set",
            OpKind::Unset => "unset",
            OpKind::Lock => "lock",
            OpKind::Unlock => "unlock",
        }
    }
}

/// Checks `ops` (at least one, at most [`MAX_OPS`]), refusing unless `principal` may make
/// every one of them; errors name the operation and field (`ops[2].value: …`).
pub async fn check_ops(
    state: &AppState,
    principal: &Principal,
    ops: &[OpRequest],
) -> Result<Vec<CheckedOp>, ServiceError> {
    count(ops.len())?;
    let mut parsed = Vec::with_capacity(ops.len());
    for (i, op) in ops.iter().enumerate() {
        parsed.push(check_op(state, Some(principal), i, op).await?);
    }
    Ok(parsed)
}

/// Refuses no operations, or more than [`MAX_OPS`].
fn count(n: usize) -> Result<(), ServiceError> {
    if n == 0 {
        return Err(ServiceError::Invalid(
            "ops: give at least one operation".into(),
        ));
    }
    if n > MAX_OPS {
        return Err(ServiceError::Invalid(format!(
            "ops: at most {MAX_OPS} operations at once"
        )));
    }
    Ok(())
}

/// What operation `i` does to an entry of `key` at `level` (a value checked against the key).
fn kind_of(
    i: usize,
    op: &str,
    value: &Option<Value>,
    key: &ConfigKey,
    def: &KeyDefinition,
    level: Level,
    at: &str,
) -> Result<OpKind, ServiceError> {
    let field = |name: &str, e: &dyn std::fmt::Display| {
        ServiceError::Invalid(format!("ops[{i}].{name}: {e}"))
    };
    match (op, value) {
        ("set", Some(value)) => {
            if !def.allows_level(level) {
                return Err(field(
                    at,
                    &format!("key {key} cannot be set at the {level} level"),
                ));
            }
            def.validate(value).map_err(|e| field("value", &e))?;
            Ok(OpKind::Set(value.clone()))
        }
        ("set", None) => Err(field("value", &"set needs a value")),
        ("unset", _) => Ok(OpKind::Unset),
        ("lock", _) => Ok(OpKind::Lock),
        ("unlock", _) => Ok(OpKind::Unlock),
        (other, _) => Err(field(
            "op",
            &format!("{other:?} is not one of set, unset, lock, unlock"),
        )),
    }
}

/// Checks operation `i` as [`check_ops`] does; with `principal`, refused unless they may make
/// it (without, for reading back operations checked when they were proposed).
pub async fn check_op(
    state: &AppState,
    principal: Option<&Principal>,
    i: usize,
    op: &OpRequest,
) -> Result<CheckedOp, ServiceError> {
    let platform = state
        .snapshots
        .get(None)
        .ok_or_else(|| internal("the snapshots are not loaded".into()))?;
    let field = |name: &str, e: &dyn std::fmt::Display| {
        ServiceError::Invalid(format!("ops[{i}].{name}: {e}"))
    };
    let scope: Scope = op.scope.parse().map_err(|e| field("scope", &e))?;
    let key = ConfigKey::parse(&op.key).map_err(|e| field("key", &e))?;
    let (idx, def) = platform
        .keys
        .get(&key)
        .ok_or_else(|| field("key", &format!("key {key} is not defined")))?;
    if let Some(principal) = principal {
        access::authorize_write(state, principal, &scope, &key).await?;
    }
    exists(state, &scope)?;
    let kind = kind_of(i, &op.op, &op.value, &key, def, scope.level(), "scope")?;
    Ok(CheckedOp {
        op: EntryOp {
            scope: scope.clone(),
            key: idx,
            kind,
        },
        scope,
        key,
        def: def.clone(),
    })
}

/// The impact of `ops`, refused unless `principal` may make every one of them.
pub async fn preview(
    state: &AppState,
    principal: &Principal,
    ops: &[OpRequest],
) -> Result<ImpactView, ServiceError> {
    let checked = check_ops(state, principal, ops).await?;
    view(state, principal, &checked).await
}

/// The impact of checked operations, as `principal` may see it.
pub async fn view(
    state: &AppState,
    principal: &Principal,
    checked: &[CheckedOp],
) -> Result<ImpactView, ServiceError> {
    let sensitive: std::collections::HashSet<ConfigKey> = checked
        .iter()
        .filter(|c| c.def.sensitive)
        .map(|c| c.key.clone())
        .collect();
    let parsed: Vec<EntryOp> = checked.iter().map(|c| c.op.clone()).collect();
    let found = compute(state, parsed).await?;
    shown(state, principal, &sensitive, found).await
}

/// One operation on an entry of a template: `{"op": "set"|"unset"|"lock"|"unlock", "key",
/// "value"?}`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateOpRequest {
    pub op: String,
    pub key: String,
    #[serde(default)]
    pub value: Option<Value>,
}

/// Whom editing template `name` by `ops` would affect: the users of every scope that follows
/// it. Only those who may change templates ask; nothing is written.
pub async fn preview_template(
    state: &AppState,
    principal: &Principal,
    name: &Slug,
    ops: &[TemplateOpRequest],
) -> Result<ImpactView, ServiceError> {
    access::authorize(principal, &Action::ManageTemplates)?;
    count(ops.len())?;
    let template = super::templates::get(state, name).await?;
    let level: Level = template
        .target_level
        .parse()
        .map_err(|e| internal(format!("template {name}: {e}")))?;
    let platform = state
        .snapshots
        .get(None)
        .ok_or_else(|| internal("the snapshots are not loaded".into()))?;
    let mut parsed = Vec::with_capacity(ops.len());
    let mut sensitive = std::collections::HashSet::new();
    for (i, op) in ops.iter().enumerate() {
        let field = |name: &str, e: &dyn std::fmt::Display| {
            ServiceError::Invalid(format!("ops[{i}].{name}: {e}"))
        };
        let key = ConfigKey::parse(&op.key).map_err(|e| field("key", &e))?;
        let (idx, def) = platform
            .keys
            .get(&key)
            .ok_or_else(|| field("key", &format!("key {key} is not defined")))?;
        let kind = kind_of(i, &op.op, &op.value, &key, def, level, "key")?;
        if def.sensitive {
            sensitive.insert(key);
        }
        parsed.push(TemplateOp {
            template: name.clone(),
            key: idx,
            kind,
        });
    }
    // The template's entries as its followers see them; with no follower, as stored (then
    // nobody is affected, and only whether an entry exists matters).
    let snapshots = state.snapshots.all();
    let followed = snapshots
        .iter()
        .find_map(|s| s.followed.values().find(|l| l.template() == Some(name)));
    let stored: std::collections::HashMap<
        crate::domain::resolve::KeyIdx,
        crate::domain::resolve::Cell,
    > = template
        .entries
        .iter()
        .filter_map(|e| {
            let key = ConfigKey::parse(&e.key).ok()?;
            let (idx, _) = platform.keys.get(&key)?;
            Some((
                idx,
                crate::domain::resolve::Cell {
                    value: e.value.clone(),
                    locked: e.locked,
                    version: 0,
                },
            ))
        })
        .collect();
    let patches = Patches::default()
        .with_templates(&parsed, |_, k| match followed {
            Some(layer) => layer.get(k).cloned(),
            None => stored.get(&k).cloned(),
        })
        .map_err(|e| ServiceError::Invalid(e.to_string()))?;
    let found = compute_patches(state, patches).await?;
    shown(state, principal, &sensitive, found).await
}

/// An impact as `principal` may see it: only users and scopes they may read, the values of
/// `sensitive` keys masked.
async fn shown(
    state: &AppState,
    principal: &Principal,
    sensitive: &std::collections::HashSet<ConfigKey>,
    found: impact::Impact,
) -> Result<ImpactView, ServiceError> {
    let mask = |key: &ConfigKey, value: Option<Value>| match value {
        Some(_) if sensitive.contains(key) => Some(Value::String(MASK.into())),
        other => other,
    };
    let mut sample = Vec::new();
    for changed in found.sample {
        let scope = Scope::User {
            user: changed.user.clone(),
        };
        if readable(state, principal, &scope).await {
            sample.push(ChangedView {
                user: changed.user.to_string(),
                key: changed.key.to_string(),
                from: mask(&changed.key, changed.from),
                to: mask(&changed.key, changed.to),
            });
        }
    }
    let newly_shadowed_total = found.newly_shadowed.len();
    let redundant_total = found.redundant.len();
    Ok(ImpactView {
        users_affected: found.users_affected,
        by_tenant: found
            .by_tenant
            .into_iter()
            .map(|(t, n)| (t.map(|t| t.to_string()).unwrap_or_default(), n))
            .collect(),
        sample,
        newly_shadowed: listed(state, principal, found.newly_shadowed).await,
        newly_shadowed_total,
        redundant: listed(state, principal, found.redundant).await,
        redundant_total,
    })
}

fn internal(message: String) -> ServiceError {
    ServiceError::Database(sea_orm::DbErr::Custom(message))
}

/// The impact of `ops` (checked already) on the users they can reach, from the snapshots.
pub async fn compute(state: &AppState, ops: Vec<EntryOp>) -> Result<impact::Impact, ServiceError> {
    let snapshots = &state.snapshots;
    let patches = Patches::new(&ops, |scope, k| {
        snapshots.for_scope(scope)?.entry(scope, k).cloned()
    })
    .map_err(|e| ServiceError::Invalid(e.to_string()))?;
    compute_patches(state, patches).await
}

/// The impact of `patches` on the users it can reach: every snapshot for a global change,
/// else the tenants it touches and those where a scope follows a template it edits.
async fn compute_patches(
    state: &AppState,
    patches: Patches,
) -> Result<impact::Impact, ServiceError> {
    let snapshots = &state.snapshots;
    let reached: Vec<Arc<Snapshot>> =
        if patches.touches_global() {
            snapshots.all()
        } else {
            let mut reached: Vec<Arc<Snapshot>> = patches
                .tenants(|user| snapshots.for_user(user).map(|s| s.tenant.clone()))
                .iter()
                .filter_map(|tenant| snapshots.get(tenant.as_ref()))
                .collect();
            let templates = patches.templates();
            if !templates.is_empty() {
                let known: std::collections::HashSet<Option<Slug>> =
                    reached.iter().map(|s| s.tenant.clone()).collect();
                reached.extend(snapshots.all().into_iter().filter(|s| {
                    !known.contains(&s.tenant) && templates.iter().any(|t| s.follows(t))
                }));
            }
            reached
        };
    // A global change walks every user of the platform: off the async workers.
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&Snapshot> = reached.iter().map(Arc::as_ref).collect();
        impact::impact(&refs, &patches, SAMPLE)
    })
    .await
    .map_err(|e| internal(format!("the impact computation failed: {e}")))
}

/// Whether the scope of an operation exists (a user, or a tenant's department or group).
fn exists(state: &AppState, scope: &Scope) -> Result<(), ServiceError> {
    let missing = || ServiceError::NotFound(format!("{} was not found", access::describe(scope)));
    let snapshot = state.snapshots.for_scope(scope).ok_or_else(missing)?;
    let known = match scope {
        Scope::Department { department, .. } => snapshot.departments.contains(department),
        Scope::Group { group, .. } => snapshot.groups.contains_key(group),
        _ => true,
    };
    known.then_some(()).ok_or_else(missing)
}

async fn readable(state: &AppState, principal: &Principal, scope: &Scope) -> bool {
    access::authorize_read(state, principal, scope, false)
        .await
        .is_ok()
}

/// The first entries of `found` the caller may read, as the wire lists them.
async fn listed(
    state: &AppState,
    principal: &Principal,
    found: std::collections::BTreeSet<(Scope, ConfigKey)>,
) -> Vec<EntryRef> {
    let mut out = Vec::new();
    for (scope, key) in found {
        if out.len() == LISTED {
            break;
        }
        if readable(state, principal, &scope).await {
            out.push(EntryRef {
                scope: scope.to_string(),
                key: key.to_string(),
            });
        }
    }
    out
}
