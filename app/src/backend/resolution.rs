//! Resolving contexts from the snapshots: effective configurations and chains. Reads never go
//! to the database; revealing secrets is audited.

use serde_json::Value;

use super::AppState;
use super::audit::{self, Actor};
use super::error::ServiceError;
use crate::domain::audit_chain::AuditRecord;
use crate::domain::editor::Origin;
use crate::domain::name::{ConfigKey, Slug};
use crate::domain::resolve::{self, ChainView, Context, ContextError, Resolved, Snapshot};
use crate::domain::value::MASK;
use crate::views::PreviewRow;

/// Whose configuration: a real user, or a composed what-if context in a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContextSpec {
    User(Slug),
    WhatIf {
        tenant: Slug,
        department: Option<Slug>,
        groups: Vec<Slug>,
    },
}

impl ContextSpec {
    /// How the audit names the context.
    pub fn describe(&self) -> String {
        match self {
            ContextSpec::User(u) => format!("user {u}"),
            ContextSpec::WhatIf {
                tenant,
                department,
                groups,
            } => {
                let mut s = format!("tenant {tenant}");
                if let Some(d) = department {
                    s.push_str(&format!(", department {d}"));
                }
                for g in groups {
                    s.push_str(&format!(", group {g}"));
                }
                s
            }
        }
    }

    /// The context as API query parameters (`user=U`, `tenant=T&department=D&group=G`).
    pub fn query(&self) -> String {
        match self {
            ContextSpec::User(u) => format!("user={u}"),
            ContextSpec::WhatIf {
                tenant,
                department,
                groups,
            } => {
                let mut q = format!("tenant={tenant}");
                if let Some(d) = department {
                    q.push_str(&format!("&department={d}"));
                }
                for g in groups {
                    q.push_str(&format!("&group={g}"));
                }
                q
            }
        }
    }

    pub fn tenant(&self) -> Option<&Slug> {
        match self {
            ContextSpec::User(_) => None,
            ContextSpec::WhatIf { tenant, .. } => Some(tenant),
        }
    }
}

fn locate(
    state: &AppState,
    spec: &ContextSpec,
) -> Result<(std::sync::Arc<Snapshot>, Context), ServiceError> {
    match spec {
        ContextSpec::User(user) => {
            let snapshot = state
                .snapshots
                .for_user(user)
                .ok_or_else(|| ServiceError::NotFound(format!("user {user} was not found")))?;
            Ok((snapshot, Context::User(user.clone())))
        }
        ContextSpec::WhatIf {
            tenant,
            department,
            groups,
        } => {
            let snapshot = state
                .snapshots
                .get(Some(tenant))
                .ok_or_else(|| ServiceError::NotFound(format!("tenant {tenant} was not found")))?;
            Ok((
                snapshot,
                Context::WhatIf {
                    department: department.clone(),
                    groups: groups.clone(),
                },
            ))
        }
    }
}

fn context_error(err: ContextError, spec: &ContextSpec) -> ServiceError {
    match (err, spec.tenant()) {
        (ContextError::UnknownDepartment(d), Some(t)) => {
            ServiceError::NotFound(format!("department {t}/{d} was not found"))
        }
        (ContextError::UnknownGroup(g), Some(t)) => {
            ServiceError::NotFound(format!("group {t}/{g} was not found"))
        }
        (other, _) => ServiceError::NotFound(other.to_string()),
    }
}

/// Runs `f` over the effective configuration of `spec` and the version of its snapshot.
pub fn with_effective<T>(
    state: &AppState,
    spec: &ContextSpec,
    f: impl FnOnce(&[Resolved<'_>], u64) -> T,
) -> Result<T, ServiceError> {
    let (snapshot, context) = locate(state, spec)?;
    let resolved = snapshot
        .effective(&context)
        .map_err(|e| context_error(e, spec))?;
    Ok(f(&resolved, snapshot.version))
}

/// The version of the snapshot `spec` resolves from (for ETags), without resolving.
pub fn snapshot_version(state: &AppState, spec: &ContextSpec) -> Result<u64, ServiceError> {
    let (snapshot, context) = locate(state, spec)?;
    snapshot
        .chain_layers(&context)
        .map_err(|e| context_error(e, spec))?;
    Ok(snapshot.version)
}

/// The chain of `key` for `spec` in its wire form.
pub fn chain(
    state: &AppState,
    key: &ConfigKey,
    spec: &ContextSpec,
    reveal: bool,
) -> Result<Value, ServiceError> {
    let (snapshot, context) = locate(state, spec)?;
    let chain = snapshot
        .chain(key, &context)
        .map_err(|e| context_error(e, spec))?
        .ok_or_else(|| ServiceError::NotFound(format!("key {key} is not defined")))?;
    let sensitive = snapshot.keys.get(key).is_some_and(|(_, d)| d.sensitive);
    serde_json::to_value(ChainView {
        chain: &chain,
        sensitive,
        reveal,
    })
    .map_err(|e| ServiceError::Database(sea_orm::DbErr::Custom(e.to_string())))
}

/// The effective configuration of `spec` with each key's chain, for the console's preview.
pub fn preview(
    state: &AppState,
    spec: &ContextSpec,
    reveal: bool,
) -> Result<Vec<PreviewRow>, ServiceError> {
    let (snapshot, context) = locate(state, spec)?;
    let layers = snapshot
        .chain_layers(&context)
        .map_err(|e| context_error(e, spec))?;
    let mut rows: Vec<PreviewRow> = snapshot
        .keys
        .defs()
        .iter()
        .filter_map(|def| {
            let idx = snapshot.keys.idx(def.key.as_str())?;
            let chain = resolve::chain(def, idx, &layers);
            let applied = chain
                .iter()
                .find(|c| c.state == resolve::CandidateState::Applied);
            Some(PreviewRow {
                key: def.key.to_string(),
                category: def.category.clone(),
                sensitive: def.sensitive,
                value: applied.map(|c| {
                    if def.sensitive && !reveal {
                        Value::String(MASK.into())
                    } else {
                        c.value.clone()
                    }
                }),
                source: applied.and_then(|c| {
                    Some(Origin {
                        level: c.source.level_name()?.to_owned(),
                        scope: c.source.scope_id().map(str::to_owned),
                    })
                }),
                chain: super::editor::steps(&chain, def.sensitive, reveal),
            })
        })
        .collect();
    rows.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(rows)
}

/// Records that `actor` revealed the secrets of `spec` (optionally of one key).
pub async fn audit_reveal(
    state: &AppState,
    actor: &Actor,
    spec: &ContextSpec,
    key: Option<&ConfigKey>,
) -> Result<(), ServiceError> {
    let tenant = match spec {
        ContextSpec::WhatIf { tenant, .. } => Some(tenant.to_string()),
        ContextSpec::User(u) => state
            .snapshots
            .for_user(u)
            .and_then(|s| s.tenant.as_ref().map(ToString::to_string)),
    };
    let event = AuditRecord {
        action: "secret.reveal".into(),
        tenant,
        key: key.map(ToString::to_string),
        new_value: Some(spec.describe()),
        ..Default::default()
    };
    audit::record(&state.db, actor, event).await?;
    Ok(())
}
