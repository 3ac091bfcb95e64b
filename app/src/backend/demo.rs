//! The demo organisation: two hospitals with departments, groups, users of every trait
//! combination and overrides at every level, including locks and a sensitive API key.

use std::collections::BTreeSet;

use super::AppState;
use super::accounts;
use super::audit::Actor;
use super::error::ServiceError;
use super::transfer::{ImportReport, import};
use crate::domain::document::Document;
use crate::domain::name::Slug;
use crate::domain::traits::Trait;

/// The demo document (`strata/v1`).
pub const DEMO_DOCUMENT: &str = include_str!("demo.json");

pub fn document() -> Document {
    serde_json::from_str(DEMO_DOCUMENT).expect("the bundled demo document parses")
}

/// Imports the demo organisation (idempotent, like any import).
pub async fn load(state: &AppState, actor: &Actor) -> Result<ImportReport, ServiceError> {
    import(state, actor, &document(), false).await
}

/// A demo admin account given a password so that each kind of admin can be tried.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoAdmin {
    pub user: Slug,
    pub kind: String,
    pub password: String,
}

/// What kind of admin `traits` make, as a person would say it ("tenant admin, read-only").
pub fn admin_kind(traits: &BTreeSet<Trait>) -> String {
    let mut kind = if traits.contains(&Trait::SuperAdmin) {
        "super admin"
    } else if traits.contains(&Trait::TenantAdmin) {
        "tenant admin"
    } else if traits.contains(&Trait::DeptAdmin) {
        "department admin"
    } else {
        "admin"
    }
    .to_owned();
    if !traits.contains(&Trait::ConfigWrite) {
        kind.push_str(", read-only");
    }
    if traits.contains(&Trait::SecretsRead) {
        kind.push_str(", reads secrets");
    }
    kind
}

/// Gives every admin account of the demo (`admin_capable`) that has no password a random one,
/// to be shown once. For trying the console in development: callers never do this in
/// production.
pub async fn admin_passwords(
    state: &AppState,
    actor: &Actor,
) -> Result<Vec<DemoAdmin>, ServiceError> {
    let admins: Vec<(Slug, BTreeSet<Trait>)> = document()
        .users
        .into_iter()
        .filter_map(|u| {
            let traits: BTreeSet<Trait> = u.traits.iter().filter_map(|t| t.parse().ok()).collect();
            let slug = Slug::parse("user", &u.id).ok()?;
            traits
                .contains(&Trait::AdminCapable)
                .then_some((slug, traits))
        })
        .collect();
    let slugs: Vec<Slug> = admins.iter().map(|(s, _)| s.clone()).collect();
    let given = accounts::give_missing_passwords(state, actor, &slugs).await?;
    Ok(given
        .into_iter()
        .filter_map(|(user, password)| {
            let (_, traits) = admins.iter().find(|(s, _)| *s == user)?;
            Some(DemoAdmin {
                kind: admin_kind(traits),
                user,
                password,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_kinds_read_as_a_person_would_say_them() {
        let of = |names: &[&str]| -> String {
            admin_kind(&names.iter().map(|n| n.parse().unwrap()).collect())
        };
        assert_eq!(
            of(&[
                "admin_capable",
                "super_admin",
                "config_write",
                "secrets_read"
            ]),
            "super admin, reads secrets"
        );
        assert_eq!(
            of(&["admin_capable", "tenant_admin"]),
            "tenant admin, read-only"
        );
        assert_eq!(
            of(&["admin_capable", "dept_admin", "config_write"]),
            "department admin"
        );
    }
}
