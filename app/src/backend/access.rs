//! What the policy needs to know about a scope, and turning its decision into a service
//! answer. Entry points ask [`crate::domain::policy::decide`] through these before any service.

use std::collections::BTreeSet;

use super::AppState;
use super::error::ServiceError;
use super::resolution::ContextSpec;
use super::revert::Revert;
use crate::domain::document::{UserDoc, user_target};
use crate::domain::name::{ConfigKey, Slug};
use crate::domain::policy::{Action, Decision, Principal, Target, decide};
use crate::domain::scope::Scope;
use crate::domain::traits::Trait;

/// The policy's view of `scope`: for a user scope, that user's tenant and department, read
/// from the in-memory snapshots (no database round trip).
pub async fn target(state: &AppState, scope: &Scope) -> Result<Target, ServiceError> {
    let Scope::User { user } = scope else {
        return Ok(Target::scope(scope.clone()));
    };
    let snapshot = state
        .snapshots
        .for_user(user)
        .ok_or_else(|| ServiceError::NotFound(format!("user {user} was not found")))?;
    let department = snapshot.users.get(user).and_then(|p| p.department.clone());
    Ok(Target {
        scope: scope.clone(),
        user_tenant: snapshot.tenant.clone(),
        user_department: department,
    })
}

/// Allow passes; a refusal becomes the error to answer with. `what` names the target the way
/// its not-found message should (another tenant's object looks like a missing one).
pub fn enforce(decision: Decision, what: impl FnOnce() -> String) -> Result<(), ServiceError> {
    match decision {
        Decision::Allow => Ok(()),
        Decision::Forbidden(reason) => Err(ServiceError::Forbidden(reason)),
        Decision::NotFound => Err(ServiceError::NotFound(format!("{} was not found", what()))),
    }
}

/// How a scope is named in a not-found message.
pub fn describe(scope: &Scope) -> String {
    match scope {
        Scope::Global => "the global level".into(),
        Scope::Tenant { tenant } => format!("tenant {tenant}"),
        Scope::Department { tenant, department } => format!("department {tenant}/{department}"),
        Scope::Group { tenant, group } => format!("group {tenant}/{group}"),
        Scope::User { user } => format!("user {user}"),
    }
}

/// Whether `principal` may read `scope` and, with `reveal`, see its secrets.
pub async fn authorize_read(
    state: &AppState,
    principal: &Principal,
    scope: &Scope,
    reveal: bool,
) -> Result<(), ServiceError> {
    let target = target(state, scope).await?;
    enforce(decide(principal, &Action::Read(&target)), || {
        describe(scope)
    })?;
    if reveal {
        enforce(decide(principal, &Action::Reveal(&target)), || {
            describe(scope)
        })?;
    }
    Ok(())
}

/// Whether `principal` may set, lock or remove `key` at `scope` (a key marked
/// `user_editable` may be changed by its user at their own level).
pub async fn authorize_write(
    state: &AppState,
    principal: &Principal,
    scope: &Scope,
    key: &ConfigKey,
) -> Result<(), ServiceError> {
    let target = target(state, scope).await?;
    let (_, def) = super::entries::find_key(&state.db, &state.secrets, key).await?;
    let action = Action::Write {
        target: &target,
        user_editable: def.user_editable,
    };
    enforce(decide(principal, &action), || describe(scope))
}

/// Whether `principal` may resolve `spec` (read every scope in it) and, with `reveal`, see
/// its secrets.
pub async fn authorize_context(
    state: &AppState,
    principal: &Principal,
    spec: &ContextSpec,
    reveal: bool,
) -> Result<(), ServiceError> {
    let scopes: Vec<Scope> = match spec {
        ContextSpec::User(user) => vec![Scope::User { user: user.clone() }],
        ContextSpec::WhatIf {
            tenant,
            department,
            groups,
        } => {
            let mut scopes = vec![Scope::Tenant {
                tenant: tenant.clone(),
            }];
            if let Some(d) = department {
                scopes.push(Scope::Department {
                    tenant: tenant.clone(),
                    department: d.clone(),
                });
            }
            for g in groups {
                scopes.push(Scope::Group {
                    tenant: tenant.clone(),
                    group: g.clone(),
                });
            }
            scopes
        }
    };
    for scope in &scopes {
        authorize_read(state, principal, scope, reveal).await?;
    }
    Ok(())
}

/// Whether `principal` may do `action`, which names no scope (key registry, tenants, import).
pub fn authorize(principal: &Principal, action: &Action<'_>) -> Result<(), ServiceError> {
    enforce(decide(principal, action), || "it".into())
}

/// Whether `principal` may create, change or delete the departments, groups and users of
/// `tenant` (`None`: platform users).
pub fn authorize_directory(
    principal: &Principal,
    tenant: Option<&Slug>,
) -> Result<(), ServiceError> {
    enforce(
        decide(principal, &Action::ManageDirectory { tenant }),
        || match tenant {
            Some(t) => format!("tenant {t}"),
            None => "it".into(),
        },
    )
}

fn parse_traits(names: &[String]) -> BTreeSet<Trait> {
    names.iter().filter_map(|n| n.parse().ok()).collect()
}

/// Whether `principal` may turn user `before` (`None`: create) into `after` (`None`:
/// delete): manage the directory of both tenants, and grant or take away any trait that
/// changes.
pub fn authorize_user_change(
    principal: &Principal,
    before: Option<&UserDoc>,
    after: Option<&UserDoc>,
) -> Result<(), ServiceError> {
    let tenant = |u: &UserDoc| {
        u.tenant
            .as_deref()
            .and_then(|t| Slug::parse("tenant", t).ok())
    };
    if let Some(user) = before {
        let holds = parse_traits(&user.traits);
        enforce(
            decide(
                principal,
                &Action::ChangeUser {
                    tenant: tenant(user).as_ref(),
                    holds: &holds,
                },
            ),
            || format!("user {}", user.id),
        )?;
    }
    if let Some(user) = after {
        authorize_directory(principal, tenant(user).as_ref())?;
    }
    // Admins would lock themselves out; another admin has to do it.
    if let Some(me) = before.filter(|u| u.id == principal.user.as_str()) {
        match after {
            None => {
                return Err(ServiceError::Invalid(
                    "user: you cannot delete your own account".into(),
                ));
            }
            Some(after) if after.disabled && !me.disabled => {
                return Err(ServiceError::Invalid(
                    "disabled: you cannot disable your own account".into(),
                ));
            }
            Some(_) => {}
        }
    }
    let traits = |u: Option<&UserDoc>| u.map(|u| parse_traits(&u.traits)).unwrap_or_default();
    let changed: BTreeSet<Trait> = traits(before)
        .symmetric_difference(&traits(after))
        .copied()
        .collect();
    if !changed.is_empty() {
        let place = after.or(before).and_then(tenant);
        enforce(
            decide(
                principal,
                &Action::GrantTraits {
                    tenant: place.as_ref(),
                    traits: &changed,
                },
            ),
            || "the user".into(),
        )?;
    }
    Ok(())
}

/// Whether `principal` may see user `user` of the directory.
pub fn authorize_read_user(principal: &Principal, user: &UserDoc) -> Result<(), ServiceError> {
    let target = user_target(user)
        .ok_or_else(|| ServiceError::NotFound(format!("user {} was not found", user.id)))?;
    enforce(decide(principal, &Action::Read(&target)), || {
        format!("user {}", user.id)
    })
}

/// Whether `principal` may see audit event `event_id` (else it is not found, as if it did not
/// exist).
pub fn authorize_read_event(
    principal: &Principal,
    event_id: i64,
    place: &crate::domain::policy::EventPlace,
) -> Result<(), ServiceError> {
    match decide(principal, &Action::ReadEvent(place)) {
        Decision::Allow => Ok(()),
        _ => Err(ServiceError::NotFound(format!(
            "audit event {event_id} was not found"
        ))),
    }
}

/// Whether `principal` may revert the event behind `revert`: see the event and write the
/// entry it changed.
pub async fn authorize_revert(
    state: &AppState,
    principal: &Principal,
    revert: &Revert,
) -> Result<(), ServiceError> {
    authorize_read_event(principal, revert.event_id, &revert.place)?;
    authorize_write(state, principal, &revert.scope, &revert.key).await
}

/// Whether `principal` may create, rename or delete tenant `tenant` (another tenant's: not
/// found; one they may see but not manage: forbidden with the reason).
pub async fn authorize_tenant_change(
    state: &AppState,
    principal: &Principal,
    tenant: &Slug,
) -> Result<(), ServiceError> {
    let scope = Scope::Tenant {
        tenant: tenant.clone(),
    };
    authorize_read(state, principal, &scope, false).await?;
    authorize(principal, &Action::ManageTenants)
}

/// Whether `principal` may manage the departments, groups and users of `tenant`, which they
/// must be able to see.
pub async fn authorize_directory_change(
    state: &AppState,
    principal: &Principal,
    tenant: &Slug,
) -> Result<(), ServiceError> {
    let scope = Scope::Tenant {
        tenant: tenant.clone(),
    };
    authorize_read(state, principal, &scope, false).await?;
    authorize_directory(principal, Some(tenant))
}
