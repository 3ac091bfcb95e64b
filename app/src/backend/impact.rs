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
use crate::domain::impact::{self, EntryOp, OpKind, Patches};
use crate::domain::name::ConfigKey;
use crate::domain::policy::Principal;
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
    if ops.is_empty() {
        return Err(ServiceError::Invalid(
            "ops: give at least one operation".into(),
        ));
    }
    if ops.len() > MAX_OPS {
        return Err(ServiceError::Invalid(format!(
            "ops: at most {MAX_OPS} operations at once"
        )));
    }
    let mut parsed = Vec::with_capacity(ops.len());
    for (i, op) in ops.iter().enumerate() {
        parsed.push(check_op(state, Some(principal), i, op).await?);
    }
    Ok(parsed)
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
    let kind = match (op.op.as_str(), &op.value) {
        ("set", Some(value)) => {
            if !def.allows_level(scope.level()) {
                return Err(field(
                    "scope",
                    &format!("key {key} cannot be set at the {} level", scope.level()),
                ));
            }
            def.validate(value).map_err(|e| field("value", &e))?;
            OpKind::Set(value.clone())
        }
        ("set", None) => return Err(field("value", &"set needs a value")),
        ("unset", _) => OpKind::Unset,
        ("lock", _) => OpKind::Lock,
        ("unlock", _) => OpKind::Unlock,
        (other, _) => {
            return Err(field(
                "op",
                &format!("{other:?} is not one of set, unset, lock, unlock"),
            ));
        }
    };
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
    let reached: Vec<Arc<Snapshot>> = if patches.touches_global() {
        snapshots.all()
    } else {
        patches
            .tenants(|user| snapshots.for_user(user).map(|s| s.tenant.clone()))
            .iter()
            .filter_map(|tenant| snapshots.get(tenant.as_ref()))
            .collect()
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
