//! The policy table: for each action and target (every level, own or other department,
//! group, user and tenant), the trait sets that allow it. Each row is checked against all 64
//! trait combinations: allowed exactly when the combination holds one of the sets; otherwise
//! not found for another tenant's target (unless a super admin asks), forbidden else.

use std::collections::BTreeSet;

use super::*;
use Trait::{
    AdminCapable as AC, ConfigWrite as CW, DeptAdmin as DA, SecretsRead as SR, SuperAdmin as SA,
    TenantAdmin as TA,
};

fn slug(s: &str) -> Slug {
    Slug::parse("id", s).unwrap()
}

/// The asker: user `me` of tenant `t1`, department `d1`, group `g1`.
fn principal(traits: BTreeSet<Trait>) -> Principal {
    Principal {
        user: slug("me"),
        tenant: Some(slug("t1")),
        department: Some(slug("d1")),
        groups: BTreeSet::from([slug("g1")]),
        traits,
    }
}

fn scope(s: &str) -> Target {
    Target::scope(s.parse().unwrap())
}

fn user(u: &str, tenant: Option<&str>, department: Option<&str>) -> Target {
    Target {
        scope: Scope::User { user: slug(u) },
        user_tenant: tenant.map(slug),
        user_department: department.map(slug),
    }
}

fn all_combinations() -> Vec<BTreeSet<Trait>> {
    (0u32..64)
        .map(|bits| {
            Trait::ALL
                .into_iter()
                .enumerate()
                .filter(|(i, _)| bits & (1 << i) != 0)
                .map(|(_, t)| t)
                .collect()
        })
        .collect()
}

struct Row {
    name: &'static str,
    decide: Box<dyn Fn(&Principal) -> Decision>,
    allowed_by: Vec<Vec<Trait>>,
    /// The target is in another tenant: refusals say not found.
    foreign: bool,
}

fn row(
    name: &'static str,
    allowed_by: &[&[Trait]],
    foreign: bool,
    decide: impl Fn(&Principal) -> Decision + 'static,
) -> Row {
    Row {
        name,
        decide: Box::new(decide),
        allowed_by: allowed_by.iter().map(|set| set.to_vec()).collect(),
        foreign,
    }
}

const ANYONE: &[&[Trait]] = &[&[]];

fn read(t: Target) -> impl Fn(&Principal) -> Decision {
    move |p| decide(p, &Action::Read(&t))
}

fn write(t: Target, user_editable: bool) -> impl Fn(&Principal) -> Decision {
    move |p| {
        decide(
            p,
            &Action::Write {
                target: &t,
                user_editable,
            },
        )
    }
}

fn reveal(t: Target) -> impl Fn(&Principal) -> Decision {
    move |p| decide(p, &Action::Reveal(&t))
}

fn event(
    level: Option<Level>,
    tenant: Option<&str>,
    department: Option<&str>,
) -> impl Fn(&Principal) -> Decision {
    let place = EventPlace {
        level,
        tenant: tenant.map(slug),
        department: department.map(slug),
    };
    move |p| decide(p, &Action::ReadEvent(&place))
}

fn table() -> Vec<Row> {
    let own_dept_user = || user("colleague", Some("t1"), Some("d1"));
    let other_dept_user = || user("neighbour", Some("t1"), Some("d2"));
    let foreign_user = || user("stranger", Some("t2"), Some("d1"));
    vec![
        row("open the console", &[&[AC]], false, |p| {
            decide(p, &Action::OpenConsole)
        }),
        // Reading.
        row("read global", ANYONE, false, read(scope("global"))),
        row("read own tenant", ANYONE, false, read(scope("tenant:t1"))),
        row(
            "read another tenant",
            &[&[SA]],
            true,
            read(scope("tenant:t2")),
        ),
        row(
            "read own department",
            ANYONE,
            false,
            read(scope("department:t1/d1")),
        ),
        row(
            "read another department",
            &[&[SA], &[TA]],
            false,
            read(scope("department:t1/d2")),
        ),
        row(
            "read another tenant's department",
            &[&[SA]],
            true,
            read(scope("department:t2/d1")),
        ),
        row("read own group", ANYONE, false, read(scope("group:t1/g1"))),
        row(
            "read another group",
            &[&[SA], &[TA]],
            false,
            read(scope("group:t1/g2")),
        ),
        row(
            "read another tenant's group",
            &[&[SA]],
            true,
            read(scope("group:t2/g1")),
        ),
        row(
            "read oneself",
            ANYONE,
            false,
            read(user("me", Some("t1"), Some("d1"))),
        ),
        row(
            "read a user of own department",
            &[&[SA], &[TA], &[DA]],
            false,
            read(own_dept_user()),
        ),
        row(
            "read a user of another department",
            &[&[SA], &[TA]],
            false,
            read(other_dept_user()),
        ),
        row(
            "read another tenant's user",
            &[&[SA]],
            true,
            read(foreign_user()),
        ),
        // A platform account answers as an unknown user would: its name is not confirmed.
        row(
            "read a platform user",
            &[&[SA]],
            true,
            read(user("root", None, None)),
        ),
        // Writing.
        row(
            "write global",
            &[&[SA, CW]],
            false,
            write(scope("global"), false),
        ),
        row(
            "write own tenant",
            &[&[SA, CW], &[TA, CW]],
            false,
            write(scope("tenant:t1"), false),
        ),
        row(
            "write another tenant",
            &[&[SA, CW]],
            true,
            write(scope("tenant:t2"), false),
        ),
        row(
            "write own department",
            &[&[SA, CW], &[TA, CW], &[DA, CW]],
            false,
            write(scope("department:t1/d1"), false),
        ),
        row(
            "write another department",
            &[&[SA, CW], &[TA, CW]],
            false,
            write(scope("department:t1/d2"), false),
        ),
        row(
            "write another tenant's department",
            &[&[SA, CW]],
            true,
            write(scope("department:t2/d1"), false),
        ),
        row(
            "write own group",
            &[&[SA, CW], &[TA, CW]],
            false,
            write(scope("group:t1/g1"), false),
        ),
        row(
            "write another group",
            &[&[SA, CW], &[TA, CW]],
            false,
            write(scope("group:t1/g2"), false),
        ),
        row(
            "write another tenant's group",
            &[&[SA, CW]],
            true,
            write(scope("group:t2/g1"), false),
        ),
        row(
            "write oneself",
            &[&[SA, CW], &[TA, CW], &[DA, CW]],
            false,
            write(user("me", Some("t1"), Some("d1")), false),
        ),
        row(
            "write oneself, user-editable key",
            ANYONE,
            false,
            write(user("me", Some("t1"), Some("d1")), true),
        ),
        row(
            "write a user of own department",
            &[&[SA, CW], &[TA, CW], &[DA, CW]],
            false,
            write(own_dept_user(), false),
        ),
        row(
            "write a user of own department, user-editable key",
            &[&[SA, CW], &[TA, CW], &[DA, CW]],
            false,
            write(own_dept_user(), true),
        ),
        row(
            "write a user of another department",
            &[&[SA, CW], &[TA, CW]],
            false,
            write(other_dept_user(), false),
        ),
        row(
            "write another tenant's user",
            &[&[SA, CW]],
            true,
            write(foreign_user(), false),
        ),
        row(
            "write another tenant's user, user-editable key",
            &[&[SA, CW]],
            true,
            write(foreign_user(), true),
        ),
        row(
            "write a platform user",
            &[&[SA, CW]],
            true,
            write(user("root", None, None), false),
        ),
        row(
            "reveal a platform user",
            &[&[SA, SR]],
            true,
            reveal(user("root", None, None)),
        ),
        // Revealing.
        row("reveal global", &[&[SR]], false, reveal(scope("global"))),
        row(
            "reveal own tenant",
            &[&[SR]],
            false,
            reveal(scope("tenant:t1")),
        ),
        row(
            "reveal another department",
            &[&[SA, SR], &[TA, SR]],
            false,
            reveal(scope("department:t1/d2")),
        ),
        row(
            "reveal a user of own department",
            &[&[SA, SR], &[TA, SR], &[DA, SR]],
            false,
            reveal(own_dept_user()),
        ),
        row(
            "reveal oneself",
            &[&[SR]],
            false,
            reveal(user("me", Some("t1"), Some("d1"))),
        ),
        row(
            "reveal another tenant",
            &[&[SA, SR]],
            true,
            reveal(scope("tenant:t2")),
        ),
        // Registry, tenants, directory.
        row("manage keys", &[&[SA, CW]], false, |p| {
            decide(p, &Action::ManageKeys)
        }),
        row("manage tenants", &[&[SA, CW]], false, |p| {
            decide(p, &Action::ManageTenants)
        }),
        row("manage templates", &[&[SA, CW]], false, |p| {
            decide(p, &Action::ManageTemplates)
        }),
        row("change the approval policy", &[&[SA, CW]], false, |p| {
            decide(p, &Action::ManageApprovalPolicy)
        }),
        row(
            "review someone else's change request",
            &[&[CW]],
            false,
            |p| decide(p, &Action::ReviewChange { own: false }),
        ),
        row(
            "see others' change requests",
            &[&[SA], &[TA], &[DA]],
            false,
            |p| decide(p, &Action::ViewChanges),
        ),
        row("review one's own change request", &[], false, |p| {
            decide(p, &Action::ReviewChange { own: true })
        }),
        row("operate (verify the chain)", &[&[SA]], false, |p| {
            decide(p, &Action::Operate)
        }),
        row("import a document", &[&[SA, CW]], false, |p| {
            decide(p, &Action::Import)
        }),
        row("manage platform users", &[&[SA, CW]], false, |p| {
            decide(p, &Action::ManageDirectory { tenant: None })
        }),
        row(
            "manage own tenant's directory",
            &[&[SA, CW], &[TA, CW]],
            false,
            |p| {
                decide(
                    p,
                    &Action::ManageDirectory {
                        tenant: Some(&slug("t1")),
                    },
                )
            },
        ),
        row(
            "manage another tenant's directory",
            &[&[SA, CW]],
            true,
            |p| {
                decide(
                    p,
                    &Action::ManageDirectory {
                        tenant: Some(&slug("t2")),
                    },
                )
            },
        ),
        row(
            "grant config_write in own tenant",
            &[&[SA, CW], &[TA, CW]],
            false,
            |p| {
                decide(
                    p,
                    &Action::GrantTraits {
                        tenant: Some(&slug("t1")),
                        traits: &BTreeSet::from([CW]),
                    },
                )
            },
        ),
        row(
            "grant super_admin in own tenant",
            &[&[SA, CW]],
            false,
            |p| {
                decide(
                    p,
                    &Action::GrantTraits {
                        tenant: Some(&slug("t1")),
                        traits: &BTreeSet::from([SA]),
                    },
                )
            },
        ),
        // Nobody grants a trait they do not hold (a tenant admin's reach includes dept_admin).
        row(
            "grant secrets_read in own tenant",
            &[&[SA, CW], &[TA, CW, SR]],
            false,
            |p| {
                decide(
                    p,
                    &Action::GrantTraits {
                        tenant: Some(&slug("t1")),
                        traits: &BTreeSet::from([SR]),
                    },
                )
            },
        ),
        row(
            "grant dept_admin in own tenant",
            &[&[SA, CW], &[TA, CW]],
            false,
            |p| {
                decide(
                    p,
                    &Action::GrantTraits {
                        tenant: Some(&slug("t1")),
                        traits: &BTreeSet::from([DA]),
                    },
                )
            },
        ),
        // Changing a user who holds traits: only an admin who holds them too.
        row(
            "change a plain user of own tenant",
            &[&[SA, CW], &[TA, CW]],
            false,
            |p| {
                decide(
                    p,
                    &Action::ChangeUser {
                        tenant: Some(&slug("t1")),
                        holds: &BTreeSet::new(),
                    },
                )
            },
        ),
        row(
            "change a department admin of own tenant",
            &[&[SA, CW], &[TA, CW]],
            false,
            |p| {
                decide(
                    p,
                    &Action::ChangeUser {
                        tenant: Some(&slug("t1")),
                        holds: &BTreeSet::from([AC, DA, CW]),
                    },
                )
            },
        ),
        row(
            "change a secrets reader of own tenant",
            &[&[SA, CW], &[TA, CW, SR]],
            false,
            |p| {
                decide(
                    p,
                    &Action::ChangeUser {
                        tenant: Some(&slug("t1")),
                        holds: &BTreeSet::from([AC, SR]),
                    },
                )
            },
        ),
        row(
            "change a super admin of own tenant",
            &[&[SA, CW]],
            false,
            |p| {
                decide(
                    p,
                    &Action::ChangeUser {
                        tenant: Some(&slug("t1")),
                        holds: &BTreeSet::from([SA]),
                    },
                )
            },
        ),
        row("change a user of another tenant", &[&[SA, CW]], true, |p| {
            decide(
                p,
                &Action::ChangeUser {
                    tenant: Some(&slug("t2")),
                    holds: &BTreeSet::new(),
                },
            )
        }),
        row("grant traits in another tenant", &[&[SA, CW]], true, |p| {
            decide(
                p,
                &Action::GrantTraits {
                    tenant: Some(&slug("t2")),
                    traits: &BTreeSet::new(),
                },
            )
        }),
        row(
            "grant traits to a platform user",
            &[&[SA, CW]],
            false,
            |p| {
                decide(
                    p,
                    &Action::GrantTraits {
                        tenant: None,
                        traits: &BTreeSet::new(),
                    },
                )
            },
        ),
        row("see own tenant's status", &[&[SA], &[TA]], false, |p| {
            decide(
                p,
                &Action::ViewTenantStatus {
                    tenant: &slug("t1"),
                },
            )
        }),
        row("see another tenant's status", &[&[SA]], true, |p| {
            decide(
                p,
                &Action::ViewTenantStatus {
                    tenant: &slug("t2"),
                },
            )
        }),
        // Audit events.
        row(
            "see a global event",
            &[&[SA], &[TA], &[DA]],
            false,
            event(Some(Level::Global), None, None),
        ),
        row(
            "see a key-registry event",
            &[&[SA], &[TA], &[DA]],
            false,
            event(None, None, None),
        ),
        row(
            "see a platform user's event",
            &[&[SA]],
            false,
            event(Some(Level::User), None, None),
        ),
        row(
            "see own tenant's tenant-level event",
            &[&[SA], &[TA], &[DA]],
            false,
            event(Some(Level::Tenant), Some("t1"), None),
        ),
        row(
            "see own department's event",
            &[&[SA], &[TA], &[DA]],
            false,
            event(Some(Level::Department), Some("t1"), Some("d1")),
        ),
        row(
            "see own department's user's event",
            &[&[SA], &[TA], &[DA]],
            false,
            event(Some(Level::User), Some("t1"), Some("d1")),
        ),
        row(
            "see another department's event",
            &[&[SA], &[TA]],
            false,
            event(Some(Level::Department), Some("t1"), Some("d2")),
        ),
        row(
            "see a group event",
            &[&[SA], &[TA]],
            false,
            event(Some(Level::Group), Some("t1"), None),
        ),
        row(
            "see another tenant's event",
            &[&[SA]],
            true,
            event(Some(Level::Tenant), Some("t2"), None),
        ),
    ]
}

#[test]
fn every_trait_combination_gets_the_decision_of_the_table() {
    let rows = table();
    let mut checked = 0;
    for traits in all_combinations() {
        let p = principal(traits.clone());
        for row in &rows {
            let hidden = row.foreign && !traits.contains(&SA);
            let allowed = row
                .allowed_by
                .iter()
                .any(|set| set.iter().all(|t| traits.contains(t)));
            let got = (row.decide)(&p);
            match (allowed, &got) {
                (true, Decision::Allow) => {}
                (false, Decision::NotFound) if hidden => {}
                (false, Decision::Forbidden(reason)) if !hidden => {
                    assert!(!reason.is_empty());
                }
                _ => panic!(
                    "{}: traits {traits:?} got {got:?}, table says allowed = {allowed}",
                    row.name
                ),
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 64 * rows.len());
}

#[test]
fn refusals_say_why() {
    let reader = principal(BTreeSet::from([AC, TA]));
    assert_eq!(
        decide(
            &reader,
            &Action::Write {
                target: &scope("tenant:t1"),
                user_editable: false
            }
        ),
        Decision::Forbidden("you have read-only access (no config_write trait)".into())
    );
    let dept = principal(BTreeSet::from([AC, DA, CW]));
    assert_eq!(
        decide(
            &dept,
            &Action::Write {
                target: &scope("global"),
                user_editable: false
            }
        ),
        Decision::Forbidden("only super admins change the global level".into())
    );
    assert_eq!(
        decide(&dept, &Action::Reveal(&scope("department:t1/d1"))),
        Decision::Forbidden("revealing secrets needs the secrets_read trait".into())
    );
}

#[test]
fn a_platform_super_admin_reaches_every_tenant() {
    let root = Principal {
        user: slug("root"),
        tenant: None,
        department: None,
        groups: BTreeSet::new(),
        traits: BTreeSet::from([AC, SA, CW]),
    };
    for target in [
        scope("tenant:t9"),
        scope("group:t9/g"),
        user("x", Some("t9"), None),
    ] {
        assert!(
            decide(
                &root,
                &Action::Write {
                    target: &target,
                    user_editable: false
                }
            )
            .is_allowed()
        );
    }
    // A platform user without traits reads only the global level and themselves.
    let plain = Principal {
        traits: BTreeSet::new(),
        ..root
    };
    assert!(decide(&plain, &Action::Read(&scope("global"))).is_allowed());
    assert!(decide(&plain, &Action::Read(&user("root", None, None))).is_allowed());
    assert_eq!(
        decide(&plain, &Action::Read(&scope("tenant:t9"))),
        Decision::NotFound
    );
}

#[test]
fn event_reach_never_hides_a_readable_event() {
    let levels = [
        None,
        Some(Level::Global),
        Some(Level::Tenant),
        Some(Level::Department),
        Some(Level::Group),
        Some(Level::User),
    ];
    for traits in all_combinations() {
        let p = principal(traits.clone());
        for tenant in [None, Some("t1"), Some("t2")] {
            for level in levels {
                let place = EventPlace {
                    level,
                    tenant: tenant.map(slug),
                    department: Some(slug("d1")),
                };
                let reached = match event_reach(&p) {
                    None => true,
                    Some(own) => place.tenant.is_none() || place.tenant.as_ref() == own,
                };
                if decide(&p, &Action::ReadEvent(&place)).is_allowed() {
                    assert!(
                        reached,
                        "{traits:?} may read {place:?} but its reach skips it"
                    );
                }
            }
        }
    }
}
