//! The permission policy (DESIGN §3): one pure function, [`decide`], answers whether a
//! principal may perform an action. Every entry point (console, HTTP API, CLI acting as a user)
//! asks it before touching data.
//!
//! Rule: `super_admin` reaches every tenant; anyone else sees only the platform and their own
//! tenant, and anything of another tenant (or another platform account) answers as not found. Reading: everyone reads the
//! global level and the levels above their own scope (their tenant, department, groups and
//! themselves); tenant admins read their whole tenant; department admins their department and
//! its users. Writing needs `config_write` and the matching admin trait: super admins every
//! level, tenant admins the tenant, department, group and user levels of their tenant,
//! department admins the department level of their department and the user level of its
//! users; besides, anyone may set their own user-level value of a `user_editable` key.
//! Revealing a secret needs `secrets_read` on top of reading. The key registry and tenants
//! belong to super admins; a tenant's departments, groups and users to its tenant admins.
//! Templates belong to super admins; whoever manages a tenant, department or group chooses the
//! template it follows. So does the approval policy; a change request is seen by its author
//! and the admins who may read each of its scopes, and reviewed by someone with `config_write`
//! who did not write it (and who may write each of its scopes).

use std::collections::BTreeSet;

use super::level::Level;
use super::name::Slug;
use super::scope::Scope;
use super::traits::Trait;

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user: Slug,
    pub tenant: Option<Slug>,
    pub department: Option<Slug>,
    pub groups: BTreeSet<Slug>,
    pub traits: BTreeSet<Trait>,
}

/// A scope together with what the policy must know about it: for a user scope, that user's
/// tenant and department.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub scope: Scope,
    pub user_tenant: Option<Slug>,
    pub user_department: Option<Slug>,
}

impl Target {
    /// A scope that is not a user's.
    pub fn scope(scope: Scope) -> Self {
        Target {
            scope,
            user_tenant: None,
            user_department: None,
        }
    }

    fn tenant(&self) -> Option<&Slug> {
        match &self.scope {
            Scope::User { .. } => self.user_tenant.as_ref(),
            other => other.tenant(),
        }
    }
}

/// Where an audit event happened, as the audit records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPlace {
    pub level: Option<Level>,
    pub tenant: Option<Slug>,
    pub department: Option<Slug>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action<'a> {
    /// Sign in to the admin console at all.
    OpenConsole,
    /// Read the entries of a scope, or resolve a context that includes it.
    Read(&'a Target),
    /// Set, remove, lock or unlock an entry; `user_editable` is the key's flag.
    Write {
        target: &'a Target,
        user_editable: bool,
    },
    /// See sensitive values in plaintext.
    Reveal(&'a Target),
    /// Define, change or remove key definitions.
    ManageKeys,
    /// Create, rename or delete tenants.
    ManageTenants,
    /// Create, change or delete templates (their entries reach every scope that follows).
    ManageTemplates,
    /// Say which changes need approval, and how many (DESIGN §5).
    ManageApprovalPolicy,
    /// Approve, reject or comment on a change request (`own`: the principal wrote it). Whoever
    /// reviews must also be allowed to write every scope of it: ask [`Action::Write`] per scope.
    ReviewChange { own: bool },
    /// See change requests one did not write: the admins' business (each request only where
    /// the admin may also read every scope of it: ask [`Action::Read`] per scope).
    ViewChanges,
    /// Create, change or delete departments, groups and users of a tenant (`None`: the
    /// platform users, who belong to no tenant).
    ManageDirectory { tenant: Option<&'a Slug> },
    /// Grant traits to a user of `tenant` (none: a platform user).
    GrantTraits {
        tenant: Option<&'a Slug>,
        traits: &'a BTreeSet<Trait>,
    },
    /// Change, disable, delete or set the password of a user of `tenant` (none: a platform
    /// user) who holds `holds`. No admin gains power through another account: a user who
    /// holds a trait the admin does not is changed only by an admin who holds it.
    ChangeUser {
        tenant: Option<&'a Slug>,
        holds: &'a BTreeSet<Trait>,
    },
    /// See one audit event.
    ReadEvent(&'a EventPlace),
    /// Read a tenant's administrative summary (its counts and latest change).
    ViewTenantStatus { tenant: &'a Slug },
    /// Import a document (it may touch keys, tenants and every level).
    Import,
    /// Check the whole audit chain.
    Operate,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Refused; the reason can be shown (the console shows it beside disabled controls).
    Forbidden(String),
    /// The principal may not know the target exists (another tenant).
    NotFound,
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow)
    }
}

impl Principal {
    fn has(&self, t: Trait) -> bool {
        self.traits.contains(&t)
    }

    fn is_super(&self) -> bool {
        self.has(Trait::SuperAdmin)
    }

    fn tenant_admin_of(&self, tenant: Option<&Slug>) -> bool {
        self.has(Trait::TenantAdmin) && tenant.is_some() && self.tenant.as_ref() == tenant
    }

    fn dept_admin_of(&self, tenant: Option<&Slug>, department: Option<&Slug>) -> bool {
        self.has(Trait::DeptAdmin)
            && department.is_some()
            && self.tenant.as_ref() == tenant
            && self.department.as_ref() == department
    }

    /// Whether the target lies in another tenant than the principal's (and they are not a
    /// super admin): then it is not found rather than forbidden. A platform account (a user of
    /// no tenant) is nobody's business but a super admin's and its own: asking about one
    /// answers as for an unknown user, so the answers cannot list super admins' names.
    fn foreign(&self, target: &Target) -> bool {
        if self.is_super() {
            return false;
        }
        match &target.scope {
            Scope::User { user } if target.user_tenant.is_none() => *user != self.user,
            _ => target.tenant().is_some() && target.tenant() != self.tenant.as_ref(),
        }
    }

    fn can_read(&self, target: &Target) -> bool {
        if self.is_super() {
            return true;
        }
        let tenant = target.tenant();
        match &target.scope {
            Scope::Global => true,
            Scope::Tenant { .. } => self.tenant.as_ref() == tenant,
            Scope::Department { department, .. } => {
                self.tenant_admin_of(tenant)
                    || (self.tenant.as_ref() == tenant
                        && self.department.as_ref() == Some(department))
            }
            Scope::Group { group, .. } => {
                self.tenant_admin_of(tenant)
                    || (self.tenant.as_ref() == tenant && self.groups.contains(group))
            }
            Scope::User { user } => {
                *user == self.user
                    || self.tenant_admin_of(tenant)
                    || self.dept_admin_of(tenant, target.user_department.as_ref())
            }
        }
    }

    fn can_write(&self, target: &Target, user_editable: bool) -> bool {
        if let Scope::User { user } = &target.scope
            && *user == self.user
            && user_editable
        {
            return true;
        }
        if !self.has(Trait::ConfigWrite) {
            return false;
        }
        if self.is_super() {
            return true;
        }
        let tenant = target.tenant();
        match &target.scope {
            Scope::Global => false,
            Scope::Tenant { .. } | Scope::Group { .. } => self.tenant_admin_of(tenant),
            Scope::Department { department, .. } => {
                self.tenant_admin_of(tenant) || self.dept_admin_of(tenant, Some(department))
            }
            Scope::User { .. } => {
                self.tenant_admin_of(tenant)
                    || self.dept_admin_of(tenant, target.user_department.as_ref())
            }
        }
    }
}

fn forbidden(reason: impl Into<String>) -> Decision {
    Decision::Forbidden(reason.into())
}

fn write_reason(p: &Principal, target: &Target) -> String {
    if !p.has(Trait::ConfigWrite) {
        return "you have read-only access (no config_write trait)".into();
    }
    match target.scope.level() {
        Level::Global => "only super admins change the global level".into(),
        Level::Tenant | Level::Group => {
            "only tenant admins of this tenant change this level".into()
        }
        Level::Department => "only admins of this department or tenant change this level".into(),
        Level::User => "only admins of this user's department or tenant change this level".into(),
    }
}

/// The policy. Pure: the same principal, action and target always get the same decision.
pub fn decide(p: &Principal, action: &Action<'_>) -> Decision {
    match action {
        Action::OpenConsole => {
            if p.has(Trait::AdminCapable) {
                Decision::Allow
            } else {
                forbidden("this account may not use the admin console")
            }
        }
        Action::Read(target) => {
            if p.foreign(target) {
                Decision::NotFound
            } else if p.can_read(target) {
                Decision::Allow
            } else {
                forbidden(format!("you may not read {}", target.scope))
            }
        }
        Action::Write {
            target,
            user_editable,
        } => {
            if p.foreign(target) {
                Decision::NotFound
            } else if p.can_write(target, *user_editable) {
                Decision::Allow
            } else {
                forbidden(write_reason(p, target))
            }
        }
        Action::Reveal(target) => {
            if p.foreign(target) {
                Decision::NotFound
            } else if !p.can_read(target) {
                forbidden(format!("you may not read {}", target.scope))
            } else if p.has(Trait::SecretsRead) {
                Decision::Allow
            } else {
                forbidden("revealing secrets needs the secrets_read trait")
            }
        }
        Action::ReviewChange { own } => {
            if *own {
                forbidden("you may not approve or reject your own change request")
            } else if p.has(Trait::ConfigWrite) {
                Decision::Allow
            } else {
                forbidden("you have read-only access (no config_write trait)")
            }
        }
        Action::ViewChanges => {
            if is_admin(p) {
                Decision::Allow
            } else {
                forbidden("only admins see others' change requests")
            }
        }
        Action::ManageKeys
        | Action::ManageTenants
        | Action::ManageTemplates
        | Action::ManageApprovalPolicy
        | Action::Import
        | Action::Operate => {
            if p.is_super() && (p.has(Trait::ConfigWrite) || matches!(action, Action::Operate)) {
                Decision::Allow
            } else {
                forbidden(match action {
                    Action::ManageKeys => {
                        "only super admins with config_write manage the key registry"
                    }
                    Action::ManageTenants => "only super admins with config_write manage tenants",
                    Action::ManageTemplates => {
                        "only super admins with config_write manage templates"
                    }
                    Action::ManageApprovalPolicy => {
                        "only super admins with config_write change the approval policy"
                    }
                    Action::Import => "only super admins with config_write import documents",
                    _ => "only super admins may do this",
                })
            }
        }
        Action::ManageDirectory { tenant: None } => {
            if p.is_super() && p.has(Trait::ConfigWrite) {
                Decision::Allow
            } else {
                forbidden("only super admins with config_write manage platform users")
            }
        }
        Action::ManageDirectory {
            tenant: Some(tenant),
        } => {
            if !p.is_super() && p.tenant.as_ref() != Some(*tenant) {
                Decision::NotFound
            } else if p.has(Trait::ConfigWrite) && (p.is_super() || p.tenant_admin_of(Some(tenant)))
            {
                Decision::Allow
            } else {
                forbidden(
                    "only tenant admins with config_write manage departments, groups and users",
                )
            }
        }
        Action::GrantTraits { tenant, traits } => {
            if let Some(t) = tenant
                && !p.is_super()
                && p.tenant.as_ref() != Some(*t)
            {
                return Decision::NotFound;
            }
            let may_manage = p.has(Trait::ConfigWrite)
                && (p.is_super() || (tenant.is_some() && p.tenant_admin_of(*tenant)));
            if !may_manage {
                forbidden("only tenant admins with config_write change traits")
            } else if traits.contains(&Trait::SuperAdmin) && !p.is_super() {
                forbidden("only super admins grant super_admin")
            } else if let Some(t) = traits.iter().find(|t| !covers(p, **t)) {
                Decision::Forbidden(format!("only admins who hold {t} grant it or take it away"))
            } else {
                Decision::Allow
            }
        }
        Action::ViewTenantStatus { tenant } => {
            if !p.is_super() && p.tenant.as_ref() != Some(*tenant) {
                Decision::NotFound
            } else if p.is_super() || p.tenant_admin_of(Some(tenant)) {
                Decision::Allow
            } else {
                forbidden("only the tenant's admins see its status")
            }
        }
        Action::ChangeUser { tenant, holds } => {
            match decide(p, &Action::ManageDirectory { tenant: *tenant }) {
                Decision::Allow => match holds.iter().find(|t| !covers(p, **t)) {
                    Some(t) => Decision::Forbidden(format!(
                        "this user holds {t}, which you do not; only an admin who holds it changes this user"
                    )),
                    None => Decision::Allow,
                },
                refused => refused,
            }
        }
        Action::ReadEvent(place) => {
            if p.is_super() {
                return Decision::Allow;
            }
            let own_tenant = place.tenant.is_some() && place.tenant == p.tenant;
            let visible = match place.level {
                // Platform-wide events (global entries, keys) are everyone's business.
                _ if place.tenant.is_none() => {
                    matches!(place.level, Some(Level::Global) | None) && is_admin(p)
                }
                _ if !own_tenant => return Decision::NotFound,
                _ if p.has(Trait::TenantAdmin) => true,
                Some(Level::Tenant) => p.has(Trait::DeptAdmin),
                Some(Level::Department) | Some(Level::User) => {
                    p.has(Trait::DeptAdmin)
                        && place.department.is_some()
                        && place.department == p.department
                }
                _ => false,
            };
            if visible {
                Decision::Allow
            } else {
                forbidden("this event is outside what you administer")
            }
        }
    }
}

/// The tenants whose events `p` could see at all: `None` for every tenant (super admins),
/// else `Some(own tenant)`, meaning that tenant's events and platform-wide ones.
/// `Action::ReadEvent` still decides each event; this only lets storage skip the rest.
pub fn event_reach(p: &Principal) -> Option<Option<&Slug>> {
    (!p.is_super()).then_some(p.tenant.as_ref())
}

/// Whether `p` holds trait `t` or more: super admins hold every trait, and a tenant admin's
/// reach includes a department admin's (and the console access that comes with it).
fn covers(p: &Principal, t: Trait) -> bool {
    p.is_super()
        || p.has(t)
        || (matches!(t, Trait::DeptAdmin | Trait::AdminCapable) && p.has(Trait::TenantAdmin))
}

fn is_admin(p: &Principal) -> bool {
    p.has(Trait::SuperAdmin) || p.has(Trait::TenantAdmin) || p.has(Trait::DeptAdmin)
}

#[cfg(test)]
mod tests;
