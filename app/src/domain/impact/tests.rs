//! Table tests per rule, and a property test against a reference that applies the change to a
//! copy of the snapshot and resolves every user in full, before and after.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::domain::key::{KeyDefinition, KeyType};
use crate::domain::resolve::{self, CandidateState, Keys, Layer, Placement};

fn slug(s: &str) -> Slug {
    Slug::parse("id", s).unwrap()
}

fn key_name(k: usize) -> String {
    format!("k{k}.x")
}

fn tenant() -> Scope {
    Scope::Tenant { tenant: slug("t") }
}

fn department(d: usize) -> Scope {
    Scope::Department {
        tenant: slug("t"),
        department: slug(&format!("d{d}")),
    }
}

fn group(g: usize) -> Scope {
    Scope::Group {
        tenant: slug("t"),
        group: slug(&format!("g{g}")),
    }
}

fn user(u: usize) -> Scope {
    Scope::User {
        user: slug(&format!("u{u}")),
    }
}

/// Scopes by index: 0 global, 1 tenant, 2..4 departments, 4..7 groups, 7..11 users.
fn scope_of(i: usize) -> Scope {
    match i {
        0 => Scope::Global,
        1 => tenant(),
        2..4 => department(i - 2),
        4..7 => group(i - 4),
        _ => user(i - 7),
    }
}

const N_SCOPES: usize = 11;
const N_USERS: usize = 4;

#[derive(Debug, Clone)]
struct World {
    defaults: Vec<Option<i64>>,
    /// (scope index, key, value, locked).
    entries: Vec<(usize, usize, i64, bool)>,
    user_department: Vec<Option<usize>>,
    user_groups: Vec<Vec<usize>>,
    /// The tenant follows a template with these (key, value, locked).
    template: Vec<(usize, i64, bool)>,
    /// Department d0 follows a department template with these.
    department_template: Vec<(usize, i64, bool)>,
    /// (scope index, key, op): 0 set(value), 1 unset, 2 lock, 3 unlock.
    ops: Vec<(usize, usize, u8, i64)>,
    /// (template: 0 the tenant's, 1 the department's; key, op, value) as in `ops`.
    template_ops: Vec<(usize, usize, u8, i64)>,
}

fn world() -> impl Strategy<Value = World> {
    (1usize..4).prop_flat_map(|n_keys| {
        (
            prop::collection::vec(prop::option::of(0i64..3), n_keys),
            prop::collection::vec(
                (0..N_SCOPES, 0..n_keys, 0i64..3, prop::bool::weighted(0.25)),
                0..25,
            ),
            prop::collection::vec(prop::option::of(0usize..2), N_USERS),
            prop::collection::vec(prop::collection::vec(0usize..3, 0..3), N_USERS),
            prop::collection::vec((0..n_keys, 0i64..3, prop::bool::weighted(0.25)), 0..3),
            prop::collection::vec((0..n_keys, 0i64..3, prop::bool::weighted(0.25)), 0..3),
            prop::collection::vec((0..N_SCOPES, 0..n_keys, 0u8..4, 0i64..3), 0..4),
            prop::collection::vec((0usize..2, 0..n_keys, 0u8..4, 0i64..3), 0..3),
        )
            .prop_map(
                |(
                    defaults,
                    entries,
                    user_department,
                    user_groups,
                    template,
                    department_template,
                    ops,
                    template_ops,
                )| World {
                    defaults,
                    entries,
                    user_department,
                    user_groups,
                    template,
                    department_template,
                    ops,
                    template_ops,
                },
            )
    })
}

fn build(w: &World) -> Snapshot {
    let defs = (0..w.defaults.len())
        .map(|k| KeyDefinition {
            default: w.defaults[k].map(|d| json!(d)),
            ..KeyDefinition::new(ConfigKey::parse(&key_name(k)).unwrap(), KeyType::Json)
        })
        .collect();
    let mut global = Layer::new(Scope::Global);
    let mut layers: HashMap<Scope, Layer> = HashMap::new();
    for (s, k, v, locked) in &w.entries {
        let cell = Cell {
            value: json!(v),
            locked: *locked,
            version: 1,
        };
        match scope_of(*s) {
            Scope::Global => global.set(*k as KeyIdx, cell),
            scope => layers
                .entry(scope.clone())
                .or_insert_with(|| Layer::new(scope))
                .set(*k as KeyIdx, cell),
        }
    }
    // The tenant follows template "tpl" and department d0 "dtpl" (either may be empty).
    let mut followed = HashMap::new();
    for (scope, name, entries) in [
        (tenant(), "tpl", &w.template),
        (department(0), "dtpl", &w.department_template),
    ] {
        let mut template = Layer::new(scope.clone());
        for (k, v, locked) in entries {
            template.set(
                *k as KeyIdx,
                Cell {
                    value: json!(v),
                    locked: *locked,
                    version: 1,
                },
            );
        }
        followed.insert(
            scope.clone(),
            Layer::following(scope, slug(name), &template),
        );
    }
    Snapshot {
        version: 1,
        tenant: Some(slug("t")),
        keys: Arc::new(Keys::new(defs)),
        global: Arc::new(global),
        layers,
        followed,
        departments: (0..2).map(|d| slug(&format!("d{d}"))).collect(),
        groups: (0..3)
            .map(|g| (slug(&format!("g{g}")), (g % 2) as i64))
            .collect(),
        users: (0..N_USERS)
            .map(|u| {
                (
                    slug(&format!("u{u}")),
                    Placement {
                        department: w.user_department[u].map(|d| slug(&format!("d{d}"))),
                        groups: w.user_groups[u]
                            .iter()
                            .map(|g| slug(&format!("g{g}")))
                            .collect(),
                    },
                )
            })
            .collect(),
    }
}

fn kind(op: u8, v: i64) -> OpKind {
    match op {
        0 => OpKind::Set(json!(v)),
        1 => OpKind::Unset,
        2 => OpKind::Lock,
        _ => OpKind::Unlock,
    }
}

fn ops(w: &World) -> Vec<EntryOp> {
    w.ops
        .iter()
        .map(|(s, k, op, v)| EntryOp {
            scope: scope_of(*s),
            key: *k as KeyIdx,
            kind: kind(*op, *v),
        })
        .collect()
}

fn template_name(t: usize) -> Slug {
    slug(["tpl", "dtpl"][t])
}

fn template_ops(w: &World) -> Vec<TemplateOp> {
    w.template_ops
        .iter()
        .map(|(t, k, op, v)| TemplateOp {
            template: template_name(*t),
            key: *k as KeyIdx,
            kind: kind(*op, *v),
        })
        .collect()
}

fn current(snapshot: &Snapshot) -> impl Fn(&Scope, KeyIdx) -> Option<Cell> + '_ {
    move |scope, k| snapshot.entry(scope, k).cloned()
}

/// The layer of the template `name` as a follower sees it.
fn template_layer<'a>(snapshot: &'a Snapshot, name: &Slug) -> &'a Layer {
    snapshot
        .followed
        .values()
        .find(|l| l.template() == Some(name))
        .unwrap()
}

fn current_template(snapshot: &Snapshot) -> impl Fn(&Slug, KeyIdx) -> Option<Cell> + '_ {
    move |name, k| template_layer(snapshot, name).get(k).cloned()
}

/// The change of `w` (entry and template operations), when it can be made.
fn patches(w: &World, snapshot: &Snapshot) -> Option<Patches> {
    Patches::new(&ops(w), current(snapshot))
        .ok()?
        .with_templates(&template_ops(w), current_template(snapshot))
        .ok()
}

/// The snapshot with the change made.
fn changed(snapshot: &Snapshot, patches: &Patches) -> Snapshot {
    let mut after = snapshot.clone();
    for ((scope, k), cell) in &patches.cells {
        match scope {
            Scope::Global => {
                let global = Arc::make_mut(&mut after.global);
                match cell {
                    Some(cell) => global.set(*k, cell.clone()),
                    None => {
                        global.remove(*k);
                    }
                }
            }
            scope => after.set_entry(scope, *k, cell.clone()),
        }
    }
    for ((name, k), cell) in &patches.templates {
        let mut template = template_layer(&after, name).clone();
        match cell {
            Some(cell) => template.set(*k, cell.clone()),
            None => {
                template.remove(*k);
            }
        }
        after.replace_template(name, &template);
    }
    after
}

fn scope_from(source: &resolve::Source<'_>) -> Option<Scope> {
    match (source.level_name()?, source.scope_id()) {
        ("global", _) => Some(Scope::Global),
        (level, Some(id)) => format!("{level}:{id}").parse().ok(),
        _ => None,
    }
}

/// Own entries hidden by a lock on the chain of `user`.
fn hidden(snapshot: &Snapshot, user: &Slug, k: KeyIdx) -> HashSet<Scope> {
    let key = ConfigKey::parse(&key_name(k as usize)).unwrap();
    snapshot
        .chain(&key, &Context::User(user.clone()))
        .unwrap()
        .unwrap()
        .into_iter()
        .filter(|c| c.state == CandidateState::IgnoredLocked && c.source.template().is_none())
        .filter_map(|c| scope_from(&c.source))
        .collect()
}

/// Own entries equal to what their scope inherits.
fn redundant(snapshot: &Snapshot, k: KeyIdx) -> HashSet<Scope> {
    let mut out = HashSet::new();
    let def = &snapshot.keys.defs()[k as usize];
    if let Some(cell) = snapshot.global.get(k)
        && def.default.as_ref() == Some(&cell.value)
    {
        out.insert(Scope::Global);
    }
    for (scope, layer) in &snapshot.layers {
        let Some(cell) = layer.get(k) else { continue };
        let inherited = match scope {
            Scope::User { user } => {
                let placement = &snapshot.users[user];
                let context = Context::WhatIf {
                    department: placement.department.clone(),
                    groups: placement.groups.clone(),
                };
                snapshot.effective(&context).unwrap()[k as usize]
            }
            scope => {
                let layers = snapshot.layers_down_to(scope).unwrap();
                let above = &layers[..layers.len() - 1];
                resolve::effective(&snapshot.keys, above)[k as usize]
            }
        };
        if !inherited.locked && inherited.value == Some(&cell.value) {
            out.insert(scope.clone());
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn impact_agrees_with_resolving_everyone_before_and_after(w in world()) {
        let before = build(&w);
        let Some(patches) = patches(&w, &before) else {
            return Ok(());
        };
        let after = changed(&before, &patches);
        let got = impact(&[&before], &patches, usize::MAX);

        let mut want_changed = Vec::new();
        let mut want_shadowed = BTreeSet::new();
        let mut want_redundant = BTreeSet::new();
        for k in patches.keys() {
            let key = ConfigKey::parse(&key_name(k as usize)).unwrap();
            let mut users: Vec<&Slug> = before.users.keys().collect();
            users.sort();
            for u in users {
                let context = Context::User(u.clone());
                let from = before.effective(&context).unwrap()[k as usize].value.cloned();
                let to = after.effective(&context).unwrap()[k as usize].value.cloned();
                if from != to {
                    want_changed.push((u.clone(), key.clone(), from, to));
                }
            }
            for u in before.users.keys() {
                let hidden_before = hidden(&before, u, k);
                for scope in hidden(&after, u, k).difference(&hidden_before) {
                    want_shadowed.insert((scope.clone(), key.clone()));
                }
            }
            let redundant_before = redundant(&before, k);
            for scope in redundant(&after, k).difference(&redundant_before) {
                want_redundant.insert((scope.clone(), key.clone()));
            }
        }
        want_changed.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        let got_changed: Vec<_> = got
            .sample
            .iter()
            .map(|c| (c.user.clone(), c.key.clone(), c.from.clone(), c.to.clone()))
            .collect();
        prop_assert_eq!(got_changed, want_changed.clone());
        let users: BTreeSet<&Slug> = want_changed.iter().map(|c| &c.0).collect();
        prop_assert_eq!(got.users_affected, users.len());
        for (key, n) in &got.by_key {
            prop_assert_eq!(*n, want_changed.iter().filter(|c| &c.1 == key).count());
        }
        prop_assert_eq!(got.by_key.len(), patches.keys().len());
        prop_assert_eq!(got.by_tenant.get(&Some(slug("t"))).copied().unwrap_or(0), users.len());
        prop_assert_eq!(got.newly_shadowed, want_shadowed);
        prop_assert_eq!(got.redundant, want_redundant);
    }
}

fn small() -> World {
    World {
        defaults: vec![Some(0)],
        // Global 1, department d0 2, user u0 3.
        entries: vec![(0, 0, 1, false), (2, 0, 2, false), (7, 0, 3, false)],
        user_department: vec![Some(0), Some(0), Some(1), None],
        user_groups: vec![vec![], vec![], vec![], vec![]],
        template: vec![],
        department_template: vec![],
        ops: vec![],
        template_ops: vec![],
    }
}

#[test]
fn a_global_change_reaches_only_users_who_inherit_it() {
    let snapshot = build(&small());
    let op = EntryOp {
        scope: Scope::Global,
        key: 0,
        kind: OpKind::Set(json!(9)),
    };
    let patches = Patches::new(&[op], current(&snapshot)).unwrap();
    let got = impact(&[&snapshot], &patches, 10);
    // u0 has their own value, u1 their department's; u2 and u3 inherit the global one.
    assert_eq!(got.users_affected, 2);
    let users: Vec<&str> = got.sample.iter().map(|c| c.user.as_str()).collect();
    assert_eq!(users, ["u2", "u3"]);
    assert_eq!(got.sample[0].from, Some(json!(1)));
    assert_eq!(got.sample[0].to, Some(json!(9)));
}

#[test]
fn a_new_lock_lists_the_overrides_it_hides() {
    let snapshot = build(&small());
    let op = EntryOp {
        scope: Scope::Global,
        key: 0,
        kind: OpKind::Lock,
    };
    let patches = Patches::new(&[op], current(&snapshot)).unwrap();
    let got = impact(&[&snapshot], &patches, 10);
    let hidden: Vec<Scope> = got.newly_shadowed.iter().map(|(s, _)| s.clone()).collect();
    assert_eq!(hidden, [department(0), user(0)]);
    // Everyone now gets the global value but u2 and u3, who had it already.
    assert_eq!(got.users_affected, 2);
}

#[test]
fn an_override_set_to_what_it_inherits_is_redundant() {
    let snapshot = build(&small());
    let op = EntryOp {
        scope: user(0),
        key: 0,
        kind: OpKind::Set(json!(2)),
    };
    let patches = Patches::new(&[op], current(&snapshot)).unwrap();
    let got = impact(&[&snapshot], &patches, 10);
    assert_eq!(got.redundant.len(), 1);
    assert!(
        got.redundant
            .contains(&(user(0), ConfigKey::parse("k0.x").unwrap()))
    );
    assert_eq!(got.users_affected, 1);
}

#[test]
fn locking_where_there_is_no_entry_names_the_op() {
    let snapshot = build(&small());
    let op = EntryOp {
        scope: group(1),
        key: 0,
        kind: OpKind::Lock,
    };
    let err = Patches::new(&[op.clone(), op], current(&snapshot)).unwrap_err();
    assert_eq!(err, ImpactError::NoEntry(0));
    assert_eq!(
        err.to_string(),
        "ops[0]: there is no entry to lock or unlock at that scope"
    );
}

#[test]
fn a_change_that_changes_nothing_affects_no_one() {
    let snapshot = build(&small());
    let op = EntryOp {
        scope: department(0),
        key: 0,
        kind: OpKind::Set(json!(2)),
    };
    let patches = Patches::new(&[op], current(&snapshot)).unwrap();
    let got = impact(&[&snapshot], &patches, 10);
    assert_eq!(got.users_affected, 0);
    assert!(got.sample.is_empty() && got.newly_shadowed.is_empty() && got.redundant.is_empty());
    assert_eq!(got.by_key.values().collect::<Vec<_>>(), [&0]);
}

#[test]
fn a_template_edit_reaches_the_users_of_its_followers_only() {
    // d0 follows "dtpl"; u0 has their own value, u1 is in d0, u2 in d1, u3 in no department.
    let snapshot = build(&small());
    let op = TemplateOp {
        template: slug("dtpl"),
        key: 0,
        kind: OpKind::Set(json!(7)),
    };
    let patches = Patches::new(&[], current(&snapshot))
        .unwrap()
        .with_templates(&[op], current_template(&snapshot))
        .unwrap();
    let got = impact(&[&snapshot], &patches, 10);
    // d0's own entry (2) comes after its template's: nobody's value changes.
    assert_eq!(got.users_affected, 0);

    let lock = TemplateOp {
        template: slug("dtpl"),
        key: 0,
        kind: OpKind::Lock,
    };
    let patches = Patches::new(&[], current(&snapshot))
        .unwrap()
        .with_templates(
            &[
                TemplateOp {
                    kind: OpKind::Set(json!(7)),
                    ..lock.clone()
                },
                lock,
            ],
            current_template(&snapshot),
        )
        .unwrap();
    let got = impact(&[&snapshot], &patches, 10);
    // Locked, it hides d0's own entry and u0's: u0 and u1 (both in d0) get 7.
    let users: Vec<&str> = got.sample.iter().map(|c| c.user.as_str()).collect();
    assert_eq!(users, ["u0", "u1"]);
    assert!(got.sample.iter().all(|c| c.to == Some(json!(7))));
    let hidden: Vec<Scope> = got.newly_shadowed.iter().map(|(s, _)| s.clone()).collect();
    assert_eq!(hidden, [department(0), user(0)]);
    assert_eq!(
        patches.templates().into_iter().collect::<Vec<_>>(),
        [&slug("dtpl")]
    );
}

#[test]
fn locking_what_a_template_does_not_hold_names_the_op() {
    let snapshot = build(&small());
    let op = TemplateOp {
        template: slug("tpl"),
        key: 0,
        kind: OpKind::Unlock,
    };
    let err = Patches::new(&[], current(&snapshot))
        .unwrap()
        .with_templates(&[op], current_template(&snapshot))
        .unwrap_err();
    assert_eq!(err, ImpactError::NoTemplateEntry(0));
    assert_eq!(
        err.to_string(),
        "ops[0]: the template has no entry to lock or unlock"
    );
}
