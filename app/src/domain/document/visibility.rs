//! The part of a document someone may see: every tenant, department, group, user and entry
//! whose scope the policy lets them read (DESIGN §3). Key definitions and templates are
//! platform-wide (like the global level) and always visible; sealed secrets stay sealed. Exports and directory lists are cut by this one rule.

use std::collections::HashMap;

use super::{Document, UserDoc};
use crate::domain::level::Level;
use crate::domain::name::Slug;
use crate::domain::policy::{Action, Principal, Target, decide};
use crate::domain::scope::Scope;

fn slug(text: &str) -> Option<Slug> {
    Slug::parse("id", text).ok()
}

fn readable(principal: &Principal, target: &Target) -> bool {
    decide(principal, &Action::Read(target)).is_allowed()
}

/// The policy's view of a user of the document.
pub fn user_target(user: &UserDoc) -> Option<Target> {
    Some(Target {
        scope: Scope::User {
            user: slug(&user.id)?,
        },
        user_tenant: user.tenant.as_deref().and_then(slug),
        user_department: user.department.as_deref().and_then(slug),
    })
}

impl Document {
    /// What `principal` may read of this document.
    pub fn visible_to(self, principal: &Principal) -> Document {
        let scope_readable = |scope: Option<Scope>| {
            scope.is_some_and(|scope| readable(principal, &Target::scope(scope)))
        };
        let users_by_id: HashMap<String, Option<Target>> = self
            .users
            .iter()
            .map(|u| (u.id.clone(), user_target(u)))
            .collect();
        let tenants = self
            .tenants
            .into_iter()
            .filter_map(|mut t| {
                let tenant = slug(&t.id)?;
                if !scope_readable(Some(Scope::Tenant {
                    tenant: tenant.clone(),
                })) {
                    return None;
                }
                t.departments.retain(|d| {
                    scope_readable(slug(&d.id).map(|department| Scope::Department {
                        tenant: tenant.clone(),
                        department,
                    }))
                });
                t.groups.retain(|g| {
                    scope_readable(slug(&g.id).map(|group| Scope::Group {
                        tenant: tenant.clone(),
                        group,
                    }))
                });
                Some(t)
            })
            .collect();
        let users = self
            .users
            .into_iter()
            .filter(|u| user_target(u).is_some_and(|target| readable(principal, &target)))
            .collect();
        let entries = self
            .entries
            .into_iter()
            .filter(|e| {
                let Ok(level) = e.level.parse::<Level>() else {
                    return false;
                };
                if level == Level::User {
                    return e
                        .user
                        .as_ref()
                        .and_then(|u| users_by_id.get(u))
                        .and_then(Option::as_ref)
                        .is_some_and(|target| readable(principal, target));
                }
                scope_readable(
                    Scope::from_parts(
                        level,
                        e.tenant.as_deref(),
                        e.department.as_deref(),
                        e.group.as_deref(),
                        e.user.as_deref(),
                    )
                    .ok(),
                )
            })
            .collect();
        Document {
            format: self.format,
            keys: self.keys,
            templates: self.templates,
            tenants,
            users,
            entries,
        }
    }
}
