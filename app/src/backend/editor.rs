//! The configuration editor's view of one scope, built from the in-memory snapshots: every
//! key with its entry here, its chain and label (from the resolution engine), and whether the
//! viewer may change it (from the policy). The caller authorizes reading the scope first.

use serde_json::{Value, json};

use super::AppState;
use super::access;
use super::audit::{self, AuditFilter};
use super::error::ServiceError;
use crate::domain::approval::{self, ApprovalRule, OpPlace};
use crate::domain::editor::{Origin, label, redundant};
use crate::domain::level::Level;
use crate::domain::name::ConfigKey;
use crate::domain::policy::{Action, Decision, Principal, Target, decide};
use crate::domain::resolve;
use crate::domain::scope::Scope;
use crate::domain::traits::Trait;
use crate::domain::value::MASK;
use crate::views::{
    ChainStep, EditorRow, EditorView, EntryHere, HistoryLine, LevelChoice, MySettingsView,
};

fn shown(value: &Value, sensitive: bool, reveal: bool) -> Value {
    if sensitive && !reveal {
        json!(MASK)
    } else {
        value.clone()
    }
}

/// A chain as the console shows it (values masked unless revealed).
pub fn steps(chain: &[resolve::Candidate<'_>], sensitive: bool, reveal: bool) -> Vec<ChainStep> {
    chain
        .iter()
        .map(|c| ChainStep {
            // A chain holds entries and the default, never "unset".
            origin: Origin::of(&c.source).unwrap_or_else(|| Origin {
                level: "default".to_owned(),
                scope: None,
                template: None,
            }),
            value: shown(c.value, sensitive, reveal),
            locked: c.locked,
            state: c.state,
        })
        .collect()
}

/// The scope the editor opens at: the most general one the viewer administers.
pub fn home_scope(principal: &Principal) -> Scope {
    let has = |t| principal.traits.contains(&t);
    match (&principal.tenant, &principal.department) {
        _ if has(Trait::SuperAdmin) => Scope::Global,
        (Some(tenant), _) if has(Trait::TenantAdmin) => Scope::Tenant {
            tenant: tenant.clone(),
        },
        (Some(tenant), Some(department)) if has(Trait::DeptAdmin) => Scope::Department {
            tenant: tenant.clone(),
            department: department.clone(),
        },
        _ => Scope::User {
            user: principal.user.clone(),
        },
    }
}

/// Every scope the viewer may read, by level, with why a level is closed or read-only.
pub fn levels(state: &AppState, principal: &Principal) -> Vec<LevelChoice> {
    let mut targets: Vec<Target> = vec![Target::scope(Scope::Global)];
    for snapshot in state.snapshots.all() {
        let Some(tenant) = snapshot.tenant.clone() else {
            for (user, placement) in &snapshot.users {
                targets.push(Target {
                    scope: Scope::User { user: user.clone() },
                    user_tenant: None,
                    user_department: placement.department.clone(),
                });
            }
            continue;
        };
        targets.push(Target::scope(Scope::Tenant {
            tenant: tenant.clone(),
        }));
        let mut departments: Vec<_> = snapshot.departments.iter().collect();
        departments.sort();
        for department in departments {
            targets.push(Target::scope(Scope::Department {
                tenant: tenant.clone(),
                department: department.clone(),
            }));
        }
        let mut groups: Vec<_> = snapshot.groups.keys().collect();
        groups.sort();
        for group in groups {
            targets.push(Target::scope(Scope::Group {
                tenant: tenant.clone(),
                group: group.clone(),
            }));
        }
        let mut users: Vec<_> = snapshot.users.iter().collect();
        users.sort_by_key(|(u, _)| *u);
        for (user, placement) in users {
            targets.push(Target {
                scope: Scope::User { user: user.clone() },
                user_tenant: Some(tenant.clone()),
                user_department: placement.department.clone(),
            });
        }
    }
    Level::ALL
        .into_iter()
        .map(|level| {
            let visible: Vec<&Target> = targets
                .iter()
                .filter(|t| t.scope.level() == level)
                .filter(|t| decide(principal, &Action::Read(t)).is_allowed())
                .collect();
            let writable = visible.iter().any(|t| {
                decide(
                    principal,
                    &Action::Write {
                        target: t,
                        user_editable: false,
                    },
                )
                .is_allowed()
            });
            let read_only = match visible.first() {
                Some(t) if !writable => match decide(
                    principal,
                    &Action::Write {
                        target: t,
                        user_editable: false,
                    },
                ) {
                    Decision::Forbidden(reason) => Some(reason),
                    _ => None,
                },
                _ => None,
            };
            LevelChoice {
                level,
                unavailable: visible
                    .is_empty()
                    .then(|| format!("there is no {} level you may see", level.as_str())),
                read_only,
                scopes: visible.iter().map(|t| t.scope.to_string()).collect(),
            }
        })
        .collect()
}

/// The editor at `scope` for `principal`; `expanded` names the key whose history to show.
pub async fn view(
    state: &AppState,
    principal: &Principal,
    scope: &Scope,
    reveal: bool,
    expanded: Option<&ConfigKey>,
) -> Result<EditorView, ServiceError> {
    let Rows {
        rows,
        can_reveal,
        revealed,
    } = rows_at(state, principal, scope, reveal).await?;
    let history = match expanded {
        Some(key) => history(state, principal, scope, key).await?,
        None => Vec::new(),
    };
    Ok(EditorView {
        scope: scope.to_string(),
        level: scope.level(),
        title: access::describe(scope),
        levels: levels(state, principal),
        can_reveal,
        revealed,
        rows,
        expanded: expanded.map(ToString::to_string),
        history,
    })
}

/// "My settings": the keys `principal` may set for themselves (`user_editable`), each with its
/// effective value for them, where it comes from and their own entry. Anyone signed in may
/// read their own scope, so this needs no authorization of its own; secrets stay masked.
pub async fn own_settings(
    state: &AppState,
    principal: &Principal,
) -> Result<MySettingsView, ServiceError> {
    let scope = Scope::User {
        user: principal.user.clone(),
    };
    let Rows { rows, .. } = rows_at(state, principal, &scope, false).await?;
    Ok(MySettingsView {
        user: principal.user.to_string(),
        // Keys users may set, where the definition allows the user level.
        rows: rows
            .into_iter()
            .filter(|row| row.user_editable && row.allowed_here)
            .collect(),
    })
}

/// Every key at one scope, as the editor shows it.
struct Rows {
    rows: Vec<EditorRow>,
    can_reveal: bool,
    revealed: bool,
}

async fn rows_at(
    state: &AppState,
    principal: &Principal,
    scope: &Scope,
    reveal: bool,
) -> Result<Rows, ServiceError> {
    let snapshot = state.snapshots.for_scope(scope).ok_or_else(|| {
        ServiceError::NotFound(format!("{} was not found", access::describe(scope)))
    })?;
    let layers = snapshot
        .layers_down_to(scope)
        .map_err(|e| ServiceError::NotFound(format!("{}: {e}", access::describe(scope))))?;
    let here_layer = layers
        .last()
        .copied()
        .filter(|layer| layer.scope() == scope);
    let target = access::target(state, scope).await?;
    let rules = super::changes::load_rules(&state.db).await?;
    let tenant = match scope {
        Scope::User { .. } => target.user_tenant.clone(),
        other => other.tenant().cloned(),
    };
    let can_reveal = decide(principal, &Action::Reveal(&target)).is_allowed();
    let reveal = reveal && can_reveal;

    let mut rows: Vec<EditorRow> = snapshot
        .keys
        .defs()
        .iter()
        .map(|def| {
            let idx = snapshot
                .keys
                .idx(def.key.as_str())
                .expect("a key of the snapshot has an index");
            let chain = resolve::chain(def, idx, &layers);
            let applied = chain
                .iter()
                .find(|c| c.state == resolve::CandidateState::Applied);
            let refusal = match decide(
                principal,
                &Action::Write {
                    target: &target,
                    user_editable: def.user_editable,
                },
            ) {
                Decision::Allow => None,
                Decision::Forbidden(reason) => Some(reason),
                Decision::NotFound => Some("this scope is not yours".into()),
            };
            let place = OpPlace {
                level: scope.level(),
                tenant: tenant.clone(),
                sensitive: def.sensitive,
            };
            let needs_approval = approval::strictest(&rules, &place)
                .filter(|_| refusal.is_none())
                .map(ApprovalRule::describe);
            EditorRow {
                key: def.key.to_string(),
                description: def.description.clone(),
                category: def.category.clone(),
                key_type: def.key_type,
                constraints: def.constraints.clone(),
                sensitive: def.sensitive,
                allowed_here: def.allows_level(scope.level()),
                here: here_layer
                    .and_then(|layer| layer.get(idx))
                    .map(|cell| EntryHere {
                        value: shown(&cell.value, def.sensitive, reveal),
                        locked: cell.locked,
                        version: cell.version,
                    }),
                effective: applied.map(|c| shown(c.value, def.sensitive, reveal)),
                label: label(&chain, scope),
                redundant: redundant(&chain, scope),
                chain: steps(&chain, def.sensitive, reveal),
                refusal,
                needs_approval,
                user_editable: def.user_editable,
            }
        })
        .collect();
    rows.sort_by(|a, b| (&a.category, &a.key).cmp(&(&b.category, &b.key)));
    Ok(Rows {
        rows,
        can_reveal,
        revealed: reveal,
    })
}

/// The recent changes of `key` at `scope` that `principal` may read, newest first.
async fn history(
    state: &AppState,
    principal: &Principal,
    scope: &Scope,
    key: &ConfigKey,
) -> Result<Vec<HistoryLine>, ServiceError> {
    let filter = AuditFilter {
        key_prefix: Some(key.to_string()),
        ..Default::default()
    };
    let scope_id = scope.id();
    let level = scope.level().as_str();
    // The audit browser's rule too: reading the scope does not make its events readable (a
    // user reads global values, not who changed them).
    let (events, _) = audit::list_visible(&state.db, &filter, 10, |e| {
        e.key.as_deref() == Some(key.as_str())
            && e.level.as_deref() == Some(level)
            && e.scope == scope_id
            && decide(principal, &Action::ReadEvent(&e.place())).is_allowed()
    })
    .await?;
    Ok(events
        .into_iter()
        .map(|e| HistoryLine {
            id: e.id,
            at: e.at,
            actor: e.actor,
            action: e.action,
            old_value: e.old_value,
            new_value: e.new_value,
            reason: e.reason,
        })
        .collect())
}
