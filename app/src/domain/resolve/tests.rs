//! One table-driven test per rule of DESIGN §2, and a property test against a naive reference.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::domain::key::KeyType;

fn slug(s: &str) -> Slug {
    Slug::parse("id", s).unwrap()
}

fn key(name: &str, default: Option<Value>) -> KeyDefinition {
    KeyDefinition {
        default,
        ..KeyDefinition::new(ConfigKey::parse(name).unwrap(), KeyType::Json)
    }
}

/// A tenant `t` with departments `d1`, `d2`, groups `a` (priority 10), `b` (20), `c` (10),
/// user `u` (department d1, groups a, b, c), user `bare` (no department, no groups).
struct World {
    snapshot: Snapshot,
    /// Template entries by template name (scope ignored).
    templates: HashMap<Slug, Layer>,
}

impl World {
    fn new(keys: Vec<KeyDefinition>) -> Self {
        let users = HashMap::from([
            (
                slug("u"),
                Placement {
                    department: Some(slug("d1")),
                    groups: vec![slug("a"), slug("b"), slug("c")],
                },
            ),
            (
                slug("bare"),
                Placement {
                    department: None,
                    groups: vec![],
                },
            ),
        ]);
        World {
            snapshot: Snapshot {
                version: 1,
                tenant: Some(slug("t")),
                keys: Arc::new(Keys::new(keys)),
                global: Arc::new(Layer::new(Scope::Global)),
                layers: HashMap::new(),
                followed: HashMap::new(),
                departments: HashSet::from([slug("d1"), slug("d2")]),
                groups: HashMap::from([(slug("a"), 10), (slug("b"), 20), (slug("c"), 10)]),
                users,
            },
            templates: HashMap::new(),
        }
    }

    /// Sets an entry of the template `name`, reaching every scope that follows it.
    fn set_template(&mut self, name: &str, key: &str, value: Value, locked: bool) -> &mut Self {
        let idx = self.snapshot.keys.idx(key).unwrap();
        let template = self
            .templates
            .entry(slug(name))
            .or_insert_with(|| Layer::new(Scope::Global));
        template.set(
            idx,
            Cell {
                value,
                locked,
                version: 1,
            },
        );
        let template = template.clone();
        self.snapshot.replace_template(&slug(name), &template);
        self
    }

    /// Makes `scope` follow the template `name`.
    fn follow(&mut self, scope: &str, name: &str) -> &mut Self {
        let scope: Scope = scope.parse().unwrap();
        let template = self
            .templates
            .entry(slug(name))
            .or_insert_with(|| Layer::new(Scope::Global));
        let layer = Layer::following(scope.clone(), slug(name), template);
        self.snapshot.followed.insert(scope, layer);
        self
    }

    fn set(&mut self, scope: &str, key: &str, value: Value, locked: bool) -> &mut Self {
        let scope: Scope = scope.parse().unwrap();
        let idx = self.snapshot.keys.idx(key).unwrap();
        let cell = Cell {
            value,
            locked,
            version: 1,
        };
        if scope == Scope::Global {
            Arc::make_mut(&mut self.snapshot.global).set(idx, cell);
        } else {
            self.snapshot
                .layers
                .entry(scope.clone())
                .or_insert_with(|| Layer::new(scope))
                .set(idx, cell);
        }
        self
    }

    /// (value, level, scope) of `key` for `context`.
    fn resolve(
        &self,
        context: &Context,
        key: &str,
    ) -> (Option<Value>, Option<&'static str>, Option<String>) {
        let all = self.snapshot.effective(context).unwrap();
        let r = all.iter().find(|r| r.key.key.as_str() == key).unwrap();
        (
            r.value.cloned(),
            r.source.level_name(),
            r.source.scope_id().map(str::to_owned),
        )
    }

    /// (level, scope, state) of each candidate of `key`.
    fn chain(
        &self,
        context: &Context,
        key: &str,
    ) -> Vec<(&'static str, Option<String>, CandidateState)> {
        self.snapshot
            .chain(&ConfigKey::parse(key).unwrap(), context)
            .unwrap()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c.source.level_name().unwrap(),
                    c.source.scope_id().map(str::to_owned),
                    c.state,
                )
            })
            .collect()
    }
}

fn user(u: &str) -> Context {
    Context::User(slug(u))
}

use CandidateState::{Applied, IgnoredLocked, Overridden};

#[test]
fn the_most_specific_level_wins() {
    let mut w = World::new(vec![key("k", Some(json!("default")))]);
    let cases: &[(&str, &str)] = &[
        ("global", "global"),
        ("tenant:t", "tenant"),
        ("department:t/d1", "department"),
        ("group:t/a", "group"),
        ("user:u", "user"),
    ];
    for (scope, level) in cases {
        w.set(scope, "k", json!(level), false);
        let (value, got_level, _) = w.resolve(&user("u"), "k");
        assert_eq!(value, Some(json!(level)), "after setting {scope}");
        assert_eq!(got_level, Some(*level));
    }
    assert_eq!(
        w.chain(&user("u"), "k"),
        vec![
            ("default", None, Overridden),
            ("global", None, Overridden),
            ("tenant", Some("t".into()), Overridden),
            ("department", Some("t/d1".into()), Overridden),
            ("group", Some("t/a".into()), Overridden),
            ("user", Some("u".into()), Applied),
        ]
    );
}

#[test]
fn the_group_with_the_highest_priority_wins() {
    let mut w = World::new(vec![key("k", None)]);
    w.set("group:t/b", "k", json!("b"), false) // priority 20
        .set("group:t/a", "k", json!("a"), false); // priority 10
    assert_eq!(
        w.resolve(&user("u"), "k"),
        (Some(json!("b")), Some("group"), Some("t/b".into()))
    );
    let chain = w.chain(&user("u"), "k");
    assert_eq!(
        chain,
        vec![
            ("group", Some("t/a".into()), Overridden),
            ("group", Some("t/b".into()), Applied)
        ]
    );
}

#[test]
fn equal_priority_groups_are_ordered_by_slug_so_the_later_slug_wins() {
    let mut w = World::new(vec![key("k", None)]);
    w.set("group:t/a", "k", json!("a"), false)
        .set("group:t/c", "k", json!("c"), false); // both priority 10
    assert_eq!(w.resolve(&user("u"), "k").0, Some(json!("c")));
    // The order the user lists the groups in does not matter.
    w.snapshot.users.get_mut(&slug("u")).unwrap().groups = vec![slug("c"), slug("a")];
    assert_eq!(w.resolve(&user("u"), "k").0, Some(json!("c")));
}

#[test]
fn a_lock_at_each_level_beats_every_more_specific_entry() {
    let scopes = [
        "global",
        "tenant:t",
        "department:t/d1",
        "group:t/a",
        "group:t/b",
    ];
    for (i, locked_scope) in scopes.iter().enumerate() {
        let mut w = World::new(vec![key("k", Some(json!("default")))]);
        for scope in scopes.iter().chain(["user:u"].iter()) {
            w.set(scope, "k", json!(scope), scope == locked_scope);
        }
        let (value, _, _) = w.resolve(&user("u"), "k");
        assert_eq!(value, Some(json!(locked_scope)), "lock at {locked_scope}");
        let states: Vec<CandidateState> =
            w.chain(&user("u"), "k").into_iter().map(|c| c.2).collect();
        let mut expected = vec![Overridden]; // the default
        expected.extend(std::iter::repeat_n(Overridden, i));
        expected.push(Applied);
        expected.extend(std::iter::repeat_n(IgnoredLocked, scopes.len() - i));
        assert_eq!(states, expected, "lock at {locked_scope}");
    }
}

#[test]
fn a_lock_at_the_user_level_is_just_the_most_specific_entry() {
    let mut w = World::new(vec![key("k", None)]);
    w.set("tenant:t", "k", json!(1), false)
        .set("user:u", "k", json!(2), true);
    assert_eq!(w.resolve(&user("u"), "k").0, Some(json!(2)));
}

#[test]
fn with_two_locks_the_most_general_wins() {
    let mut w = World::new(vec![key("k", None)]);
    w.set("tenant:t", "k", json!("tenant"), true)
        .set("department:t/d1", "k", json!("department"), true)
        .set("user:u", "k", json!("user"), false);
    assert_eq!(
        w.resolve(&user("u"), "k"),
        (Some(json!("tenant")), Some("tenant"), Some("t".into()))
    );
    assert_eq!(
        w.chain(&user("u"), "k"),
        vec![
            ("tenant", Some("t".into()), Applied),
            ("department", Some("t/d1".into()), IgnoredLocked),
            ("user", Some("u".into()), IgnoredLocked),
        ]
    );
}

#[test]
fn without_entries_the_default_applies_and_without_a_default_the_key_is_unset() {
    let w = World::new(vec![
        key("with_default", Some(json!(5))),
        key("without", None),
    ]);
    assert_eq!(
        w.resolve(&user("u"), "with_default"),
        (Some(json!(5)), Some("default"), None)
    );
    assert_eq!(
        w.chain(&user("u"), "with_default"),
        vec![("default", None, Applied)]
    );
    assert_eq!(w.resolve(&user("u"), "without"), (None, None, None));
    assert!(w.chain(&user("u"), "without").is_empty());
}

#[test]
fn entries_of_other_scopes_do_not_apply() {
    let mut w = World::new(vec![key("k", None)]);
    w.set("department:t/d2", "k", json!("d2"), true)
        .set("user:bare", "k", json!("bare"), false);
    assert_eq!(w.resolve(&user("u"), "k").0, None);
}

#[test]
fn a_user_without_department_or_groups_skips_those_levels() {
    let mut w = World::new(vec![key("k", None)]);
    w.set("tenant:t", "k", json!("tenant"), false)
        .set("department:t/d1", "k", json!("d1"), false)
        .set("group:t/a", "k", json!("a"), false);
    assert_eq!(w.resolve(&user("bare"), "k").0, Some(json!("tenant")));
    w.set("user:bare", "k", json!("own"), false);
    assert_eq!(w.resolve(&user("bare"), "k").0, Some(json!("own")));
}

#[test]
fn a_platform_user_without_tenant_gets_global_and_own_entries() {
    let mut w = World::new(vec![key("k", Some(json!("default"))), key("other", None)]);
    w.snapshot.tenant = None;
    w.snapshot.departments.clear();
    w.snapshot.groups.clear();
    w.snapshot.users = HashMap::from([(
        slug("root"),
        Placement {
            department: None,
            groups: vec![],
        },
    )]);
    w.set("global", "k", json!("global"), false)
        .set("global", "other", json!(1), false);
    assert_eq!(w.resolve(&user("root"), "k").0, Some(json!("global")));
    w.set("user:root", "k", json!("mine"), false);
    assert_eq!(
        w.resolve(&user("root"), "k"),
        (Some(json!("mine")), Some("user"), Some("root".into()))
    );
}

#[test]
fn what_if_contexts_use_the_given_department_and_groups() {
    let mut w = World::new(vec![key("k", None)]);
    w.set("department:t/d2", "k", json!("d2"), false)
        .set("group:t/b", "k", json!("b"), false);
    let ctx = Context::WhatIf {
        department: Some(slug("d2")),
        groups: vec![],
    };
    assert_eq!(w.resolve(&ctx, "k").0, Some(json!("d2")));
    let ctx = Context::WhatIf {
        department: Some(slug("d2")),
        groups: vec![slug("b")],
    };
    assert_eq!(w.resolve(&ctx, "k").0, Some(json!("b")));
}

#[test]
fn unknown_names_in_a_context_are_reported() {
    let w = World::new(vec![key("k", None)]);
    assert_eq!(
        w.snapshot.effective(&user("nobody")).unwrap_err(),
        ContextError::UnknownUser("nobody".into())
    );
    let ctx = Context::WhatIf {
        department: Some(slug("zz")),
        groups: vec![],
    };
    assert_eq!(
        w.snapshot.effective(&ctx).unwrap_err(),
        ContextError::UnknownDepartment("zz".into())
    );
    let ctx = Context::WhatIf {
        department: None,
        groups: vec![slug("zz")],
    };
    assert_eq!(
        w.snapshot.effective(&ctx).unwrap_err(),
        ContextError::UnknownGroup("zz".into())
    );
}

#[test]
fn the_wire_forms_follow_the_cli_contract() {
    let mut secret = key("providers.api_key", None);
    secret.sensitive = true;
    let mut w = World::new(vec![
        key("fax.provider", Some(json!("phaxio"))),
        key("unset.key", None),
        secret,
    ]);
    w.set("group:t/b", "fax.provider", json!("sip"), false).set(
        "tenant:t",
        "providers.api_key",
        json!("hunter2"),
        false,
    );
    let resolved = w.snapshot.effective(&user("u")).unwrap();
    let masked = serde_json::to_value(EffectiveView {
        resolved: &resolved,
        reveal: false,
    })
    .unwrap();
    assert_eq!(
        masked,
        json!({
            "fax.provider": {"value": "sip", "level": "group", "scope": "t/b"},
            "providers.api_key": {"value": "••••••", "level": "tenant", "scope": "t"},
            "unset.key": {"value": null, "level": null, "scope": null},
        })
    );
    let text = serde_json::to_string(&EffectiveView {
        resolved: &resolved,
        reveal: false,
    })
    .unwrap();
    assert!(!text.contains("hunter2"));
    let keys_in_order: Vec<&str> = text
        .match_indices("\":{")
        .map(|(i, _)| &text[..i])
        .map(|s| s.rsplit('"').next().unwrap())
        .collect();
    assert_eq!(
        keys_in_order,
        ["fax.provider", "providers.api_key", "unset.key"]
    );
    let revealed = serde_json::to_value(EffectiveView {
        resolved: &resolved,
        reveal: true,
    })
    .unwrap();
    assert_eq!(revealed["providers.api_key"]["value"], "hunter2");

    let chain = w
        .snapshot
        .chain(&ConfigKey::parse("fax.provider").unwrap(), &user("u"))
        .unwrap()
        .unwrap();
    let view = serde_json::to_value(ChainView {
        chain: &chain,
        sensitive: false,
        reveal: false,
    })
    .unwrap();
    assert_eq!(
        view,
        json!([
            {"level": "default", "scope": null, "value": "phaxio", "state": "overridden", "locked": false},
            {"level": "group", "scope": "t/b", "value": "sip", "state": "applied", "locked": false},
        ])
    );
}

#[test]
fn a_template_sits_just_before_the_scope_that_follows_it() {
    let mut w = World::new(vec![key("k", Some(json!("default")))]);
    w.set("global", "k", json!("global"), false)
        .follow("tenant:t", "healthcare")
        .set_template("healthcare", "k", json!("template"), false);
    let (value, level, scope) = w.resolve(&user("u"), "k");
    assert_eq!(
        (value, level, scope),
        (Some(json!("template")), Some("tenant"), Some("t".into()))
    );
    let all = w.snapshot.effective(&user("u")).unwrap();
    assert_eq!(all[0].source.template(), Some("healthcare"));

    // The tenant's own entry overrides its template's: that is its drift.
    w.set("tenant:t", "k", json!("own"), false);
    assert_eq!(w.resolve(&user("u"), "k").0, Some(json!("own")));
    let chain = w
        .snapshot
        .chain(&ConfigKey::parse("k").unwrap(), &user("u"))
        .unwrap()
        .unwrap();
    let steps: Vec<_> = chain
        .iter()
        .map(|c| (c.source.level_name(), c.source.template(), c.state))
        .collect();
    assert_eq!(
        steps,
        vec![
            (Some("default"), None, Overridden),
            (Some("global"), None, Overridden),
            (Some("tenant"), Some("healthcare"), Overridden),
            (Some("tenant"), None, Applied),
        ]
    );
}

#[test]
fn a_locked_template_entry_locks_at_its_position() {
    let mut w = World::new(vec![key("k", None)]);
    w.follow("department:t/d1", "clinic")
        .set_template("clinic", "k", json!("template"), true)
        .set("tenant:t", "k", json!("tenant"), false)
        .set("department:t/d1", "k", json!("own"), false)
        .set("user:u", "k", json!("user"), false);
    assert_eq!(
        w.resolve(&user("u"), "k"),
        (
            Some(json!("template")),
            Some("department"),
            Some("t/d1".into())
        )
    );
    let states: Vec<_> = w.chain(&user("u"), "k").into_iter().map(|c| c.2).collect();
    assert_eq!(
        states,
        vec![Overridden, Applied, IgnoredLocked, IgnoredLocked]
    );
    // A more general lock still wins over the template.
    w.set("tenant:t", "k", json!("tenant"), true);
    assert_eq!(w.resolve(&user("u"), "k").0, Some(json!("tenant")));
}

#[test]
fn a_template_edit_reaches_every_follower_and_no_one_else() {
    let mut w = World::new(vec![key("k", None)]);
    w.follow("group:t/a", "night")
        .follow("group:t/b", "night")
        .set_template("night", "k", json!(1), false);
    let a_only = Context::WhatIf {
        department: None,
        groups: vec![slug("a")],
    };
    assert_eq!(w.resolve(&a_only, "k").0, Some(json!(1)));
    assert_eq!(w.resolve(&user("bare"), "k").0, None);
    w.set_template("night", "k", json!(2), false);
    assert_eq!(w.resolve(&a_only, "k").0, Some(json!(2)));
    assert_eq!(
        w.resolve(&user("u"), "k"),
        (Some(json!(2)), Some("group"), Some("t/b".into()))
    );
    assert!(w.snapshot.follows(&slug("night")));
    assert!(!w.snapshot.follows(&slug("other")));
}

#[test]
fn the_wire_forms_name_the_template() {
    let mut w = World::new(vec![key("k", None), key("own", None)]);
    w.follow("tenant:t", "healthcare")
        .set_template("healthcare", "k", json!(true), false)
        .set("tenant:t", "own", json!(1), false);
    let resolved = w.snapshot.effective(&user("u")).unwrap();
    let view = EffectiveView {
        resolved: &resolved,
        reveal: false,
    };
    assert_eq!(
        serde_json::to_value(&view).unwrap(),
        json!({
            "k": {"value": true, "level": "tenant", "scope": "t", "template": "healthcare"},
            "own": {"value": 1, "level": "tenant", "scope": "t"},
        })
    );
    assert_eq!(
        String::from_utf8(view.to_json()).unwrap(),
        serde_json::to_string(&view).unwrap()
    );
    let chain = w
        .snapshot
        .chain(&ConfigKey::parse("k").unwrap(), &user("u"))
        .unwrap()
        .unwrap();
    assert_eq!(
        serde_json::to_value(ChainView {
            chain: &chain,
            sensitive: false,
            reveal: false,
        })
        .unwrap(),
        json!([{"level": "tenant", "scope": "t", "template": "healthcare", "value": true,
            "state": "applied", "locked": false}])
    );
}

// ---- property test against a naive reference ----

/// A random hierarchy: `n_keys` keys; global, tenant, 3 departments, 4 groups with random
/// priorities, and 3 users with random placements; random entries and locks everywhere.
#[derive(Debug, Clone)]
struct Hierarchy {
    defaults: Vec<Option<i64>>,
    group_priority: Vec<i64>,
    user_department: Vec<Option<usize>>,
    user_groups: Vec<Vec<usize>>,
    /// (scope index, key index, value, locked); scope indices: 0 global, 1 tenant,
    /// 2..5 departments, 5..9 groups, 9..12 users.
    entries: Vec<(usize, usize, i64, bool)>,
    /// The template (of `N_TEMPLATES`) each of scopes 1..9 follows, if any.
    follows: Vec<Option<usize>>,
    /// (template, key index, value, locked).
    template_entries: Vec<(usize, usize, i64, bool)>,
}

const N_TEMPLATES: usize = 2;
/// The naive reference's position of the template layer of scope `s`.
const TEMPLATE_AT: usize = 100;

const N_SCOPES: usize = 12;

fn hierarchy() -> impl Strategy<Value = Hierarchy> {
    (1usize..6).prop_flat_map(|n_keys| {
        (
            prop::collection::vec(prop::option::of(0i64..100), n_keys),
            prop::collection::vec(-2i64..3, 4),
            prop::collection::vec(prop::option::of(0usize..3), 3),
            prop::collection::vec(prop::collection::vec(0usize..4, 0..4), 3),
            prop::collection::vec(
                (
                    0..N_SCOPES,
                    0..n_keys,
                    0i64..1000,
                    prop::bool::weighted(0.2),
                ),
                0..40,
            ),
            prop::collection::vec(prop::option::weighted(0.4, 0..N_TEMPLATES), 8),
            prop::collection::vec(
                (
                    0..N_TEMPLATES,
                    0..n_keys,
                    1000i64..2000,
                    prop::bool::weighted(0.2),
                ),
                0..10,
            ),
        )
            .prop_map(
                |(
                    defaults,
                    group_priority,
                    user_department,
                    user_groups,
                    entries,
                    follows,
                    template_entries,
                )| Hierarchy {
                    defaults,
                    group_priority,
                    user_department,
                    user_groups,
                    entries,
                    follows,
                    template_entries,
                },
            )
    })
}

fn scope_of(i: usize) -> Scope {
    let t = slug("t");
    match i {
        0 => Scope::Global,
        1 => Scope::Tenant { tenant: t },
        2..5 => Scope::Department {
            tenant: t,
            department: slug(&format!("d{}", i - 2)),
        },
        5..9 => Scope::Group {
            tenant: t,
            group: slug(&format!("g{}", i - 5)),
        },
        _ => Scope::User {
            user: slug(&format!("u{}", i - 9)),
        },
    }
}

fn template_name(t: usize) -> String {
    format!("tpl{t}")
}

fn key_name(k: usize) -> String {
    format!("k{k}")
}

fn build(h: &Hierarchy) -> Snapshot {
    let keys = h
        .defaults
        .iter()
        .enumerate()
        .map(|(k, d)| key(&key_name(k), d.map(|d| json!(d))))
        .collect();
    let mut w = World::new(keys);
    w.snapshot.departments = (0..3).map(|d| slug(&format!("d{d}"))).collect();
    w.snapshot.groups = h
        .group_priority
        .iter()
        .enumerate()
        .map(|(g, p)| (slug(&format!("g{g}")), *p))
        .collect();
    w.snapshot.users = (0..3)
        .map(|u| {
            (
                slug(&format!("u{u}")),
                Placement {
                    department: h.user_department[u].map(|d| slug(&format!("d{d}"))),
                    groups: h.user_groups[u]
                        .iter()
                        .map(|g| slug(&format!("g{g}")))
                        .collect(),
                },
            )
        })
        .collect();
    for (scope, k, value, locked) in &h.entries {
        w.set(
            &scope_of(*scope).to_string(),
            &key_name(*k),
            json!(value),
            *locked,
        );
    }
    // Half the template entries before the scopes follow, half after: both must reach them.
    let (before, after) = h.template_entries.split_at(h.template_entries.len() / 2);
    for (t, k, value, locked) in before {
        w.set_template(&template_name(*t), &key_name(*k), json!(value), *locked);
    }
    for (i, follows) in h.follows.iter().enumerate() {
        if let Some(t) = follows {
            w.follow(&scope_of(i + 1).to_string(), &template_name(*t));
        }
    }
    for (t, k, value, locked) in after {
        w.set_template(&template_name(*t), &key_name(*k), json!(value), *locked);
    }
    w.snapshot
}

/// The reference: list the candidate scopes explicitly, then "the first lock if any, else the
/// last entry", written without the engine's scan.
fn naive(
    h: &Hierarchy,
    user: usize,
    k: usize,
) -> (Option<i64>, Option<usize>, Vec<(usize, &'static str)>) {
    let mut entry_at: HashMap<usize, (i64, bool)> = HashMap::new();
    for (scope, key, value, locked) in &h.entries {
        if *key == k {
            entry_at.insert(*scope, (*value, *locked)); // later writes replace earlier ones
        }
    }
    // A followed template's entry is a candidate at TEMPLATE_AT + the scope.
    let mut template_value: HashMap<usize, (i64, bool)> = HashMap::new();
    for (t, key, value, locked) in &h.template_entries {
        if *key == k {
            template_value.insert(*t, (*value, *locked));
        }
    }
    for (i, follows) in h.follows.iter().enumerate() {
        if let Some(found) = follows.and_then(|t| template_value.get(&t)) {
            entry_at.insert(TEMPLATE_AT + i + 1, *found);
        }
    }
    let mut groups: Vec<usize> = h.user_groups[user].clone();
    groups.sort_by(|a, b| {
        h.group_priority[*a]
            .cmp(&h.group_priority[*b])
            .then_with(|| format!("g{a}").cmp(&format!("g{b}")))
    });
    groups.dedup();
    let mut order = vec![0, TEMPLATE_AT + 1, 1];
    if let Some(d) = h.user_department[user] {
        order.extend([TEMPLATE_AT + 2 + d, 2 + d]);
    }
    order.extend(groups.iter().flat_map(|g| [TEMPLATE_AT + 5 + g, 5 + g]));
    order.push(9 + user);
    let present: Vec<usize> = order
        .into_iter()
        .filter(|s| entry_at.contains_key(s))
        .collect();
    let winner_pos = present
        .iter()
        .position(|s| entry_at[s].1)
        .or_else(|| present.len().checked_sub(1));
    let mut states = vec![];
    if h.defaults[k].is_some() {
        states.push((
            usize::MAX,
            if winner_pos.is_some() {
                "overridden"
            } else {
                "applied"
            },
        ));
    }
    for (i, s) in present.iter().enumerate() {
        let state = match winner_pos {
            Some(w) if i < w => "overridden",
            Some(w) if i == w => "applied",
            _ => "ignored_locked",
        };
        states.push((*s, state));
    }
    match winner_pos {
        Some(w) => (Some(entry_at[&present[w]].0), Some(present[w]), states),
        None => (h.defaults[k], None, states),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn the_engine_agrees_with_the_naive_reference(h in hierarchy()) {
        let snapshot = build(&h);
        for u in 0..3 {
            let ctx = Context::User(slug(&format!("u{u}")));
            let effective = snapshot.effective(&ctx).unwrap();
            for k in 0..h.defaults.len() {
                let (value, winner, states) = naive(&h, u, k);
                let r = effective.iter().find(|r| r.key.key.as_str() == key_name(k)).unwrap();
                prop_assert_eq!(r.value.cloned(), value.map(|v| json!(v)));
                let expected_source = match winner {
                    Some(s) if s >= TEMPLATE_AT => {
                        let scope = scope_of(s - TEMPLATE_AT);
                        let template = h.follows[s - TEMPLATE_AT - 1].map(template_name);
                        Some((scope.level().as_str(), scope.id(), template))
                    }
                    Some(s) => Some((scope_of(s).level().as_str(), scope_of(s).id(), None)),
                    None if value.is_some() => Some(("default", None, None)),
                    None => None,
                };
                let got_source = r.source.level_name().map(|l| {
                    (l, r.source.scope_id().map(str::to_owned), r.source.template().map(str::to_owned))
                });
                prop_assert_eq!(got_source, expected_source);

                let chain = snapshot.chain(&ConfigKey::parse(&key_name(k)).unwrap(), &ctx).unwrap().unwrap();
                let got: Vec<(Option<String>, String)> = chain
                    .iter()
                    .map(|c| (c.source.level_name().map(str::to_owned), serde_json::to_value(c.state).unwrap().as_str().unwrap().to_owned()))
                    .collect();
                let want: Vec<(Option<String>, String)> = states
                    .iter()
                    .map(|(s, state)| {
                        let level = match *s {
                            usize::MAX => "default",
                            s if s >= TEMPLATE_AT => scope_of(s - TEMPLATE_AT).level().as_str(),
                            s => scope_of(s).level().as_str(),
                        };
                        (Some(level.to_owned()), (*state).to_owned())
                    })
                    .collect();
                prop_assert_eq!(got, want);
            }
        }
    }

    #[test]
    fn a_shared_rendering_with_the_users_own_entries_is_the_users_answer(h in hierarchy()) {
        let snapshot = build(&h);
        let mut contexts: Vec<Context> = (0..3).map(|u| Context::User(slug(&format!("u{u}")))).collect();
        contexts.extend((0..3).map(|u| Context::WhatIf {
            department: h.user_department[u].map(|d| slug(&format!("d{d}"))),
            groups: h.user_groups[u].iter().map(|g| slug(&format!("g{g}"))).collect(),
        }));
        for ctx in &contexts {
            let whole = snapshot.effective(ctx).unwrap();
            let want = EffectiveView { resolved: &whole, reveal: false }.to_json();
            let split = snapshot.split_chain(ctx).unwrap();
            let shared = RenderedShared::new(snapshot.keys.clone(), &snapshot.shared_layers(&split));
            prop_assert_eq!(
                String::from_utf8(shared.with_own(split.own)).unwrap(),
                String::from_utf8(want).unwrap()
            );
        }
    }
}

// ---- key definitions changed under a snapshot ----

/// A snapshot moved to other key definitions answers for every key that stayed as before, for
/// every new key with its default, and knows no deleted key; followers of one template keep
/// sharing its entries.
fn check_rekeyed(
    h: &Hierarchy,
    added: &[(usize, Option<i64>)],
    deleted: &[bool],
) -> Result<(), TestCaseError> {
    let before = build(h);
    let mut defs: Vec<KeyDefinition> = before
        .keys
        .defs()
        .iter()
        .enumerate()
        .filter(|(k, _)| !deleted.get(*k).copied().unwrap_or(false))
        .map(|(_, d)| d.clone())
        .collect();
    for (at, default) in added {
        // "k{at}m" sorts just after "k{at}": new keys land between the old ones.
        defs.push(key(&format!("k{at}m"), default.map(|d| json!(d))));
    }
    let keys = Keys::new(defs);
    let moves = before.keys.moves_to(&keys);
    let global = Arc::new(before.global.rekeyed(&moves));
    let after = before.rekeyed(Arc::new(keys), &moves, global, &mut HashMap::new());
    for u in 0..3 {
        let ctx = Context::User(slug(&format!("u{u}")));
        let old = before.effective(&ctx).unwrap();
        let new = after.effective(&ctx).unwrap();
        prop_assert_eq!(new.len(), after.keys.len());
        for r in &new {
            match old.iter().find(|o| o.key.key == r.key.key) {
                Some(o) => {
                    prop_assert_eq!(r.value, o.value);
                    prop_assert_eq!(r.source, o.source);
                    prop_assert_eq!(r.locked, o.locked);
                }
                None => {
                    prop_assert_eq!(r.value, r.key.default.as_ref());
                    prop_assert!(matches!(r.source, Source::Default | Source::Unset));
                }
            }
        }
        for (k, gone) in deleted.iter().enumerate().take(h.defaults.len()) {
            let known = after.keys.idx(&key_name(k)).is_some();
            prop_assert_eq!(known, !gone);
        }
    }
    for a in after.followed.values() {
        for b in after.followed.values() {
            if a.template == b.template {
                prop_assert!(
                    Arc::ptr_eq(&a.entries, &b.entries),
                    "followers share entries"
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn a_snapshot_moved_to_new_key_definitions_answers_as_before(
        h in hierarchy(),
        added in prop::collection::vec((0usize..6, prop::option::of(0i64..100)), 0..3),
        deleted in prop::collection::vec(prop::bool::weighted(0.3), 6),
    ) {
        check_rekeyed(&h, &added, &deleted)?;
    }
}

#[test]
fn unmoved_keys_leave_every_layer_shared() {
    let mut w = World::new(vec![key("a.x", None), key("b.x", None)]);
    w.set("tenant:t", "b.x", json!(1), false)
        .set_template("tpl", "a.x", json!(2), false)
        .follow("department:t/d1", "tpl");
    let before = w.snapshot;
    // b.x changes its default only: no key moves.
    let keys = Keys::new(vec![key("a.x", None), key("b.x", Some(json!(9)))]);
    let moves = before.keys.moves_to(&keys);
    let global = Arc::new(before.global.rekeyed(&moves));
    let after = before.rekeyed(Arc::new(keys), &moves, global, &mut HashMap::new());
    let tenant: Scope = "tenant:t".parse().unwrap();
    assert!(Arc::ptr_eq(
        &before.layers[&tenant].entries,
        &after.layers[&tenant].entries
    ));
    let d1: Scope = "department:t/d1".parse().unwrap();
    assert!(Arc::ptr_eq(
        &before.followed[&d1].entries,
        &after.followed[&d1].entries
    ));
    assert_eq!(after.keys.defs()[1].default, Some(json!(9)));
    // A key defined before both moves them; deleting the one set at the tenant empties it.
    let keys = Keys::new(vec![key("a.a", None), key("a.x", None)]);
    let moves = after.keys.moves_to(&keys);
    let global = Arc::new(after.global.rekeyed(&moves));
    let last = after.rekeyed(Arc::new(keys), &moves, global, &mut HashMap::new());
    assert!(
        !last.layers.contains_key(&tenant),
        "an emptied layer is dropped"
    );
    assert_eq!(last.followed[&d1].get(1).map(|c| &c.value), Some(&json!(2)));
    assert_eq!(last.followed[&d1].get(0), None);
}

// ---- the direct JSON writer against serde ----

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".*".prop_map(Value::String),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(".*", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn the_direct_json_writer_writes_what_serde_writes(
        items in prop::collection::vec(
            (any_json(), any::<bool>(), 0usize..4, any::<bool>(), ".{0,6}"),
            0..8,
        ),
        reveal in any::<bool>(),
    ) {
        let defs: Vec<KeyDefinition> = items
            .iter()
            .enumerate()
            .map(|(i, (_, sensitive, _, _, _))| KeyDefinition {
                sensitive: *sensitive,
                ..key(&format!("k{i}.x"), None)
            })
            .collect();
        let scope_ids: Vec<String> = items.iter().map(|i| format!("t/{}", i.4)).collect();
        let resolved: Vec<Resolved<'_>> = items
            .iter()
            .zip(&defs)
            .zip(&scope_ids)
            .map(|(((value, _, source, locked, _), def), scope)| Resolved {
                key: def,
                value: (*source != 0).then_some(value),
                source: match source {
                    0 => Source::Unset,
                    1 => Source::Default,
                    2 => Source::Entry { level: Level::Global, scope: None, template: None },
                    // Scope ids are slugs; any string here also exercises the escaping path.
                    _ => Source::Entry {
                        level: Level::Group,
                        scope: Some(scope.as_str()),
                        template: locked.then_some(scope.as_str()),
                    },
                },
                locked: *locked,
            })
            .collect();
        let view = EffectiveView { resolved: &resolved, reveal };
        prop_assert_eq!(
            String::from_utf8(view.to_json()).unwrap(),
            serde_json::to_string(&view).unwrap()
        );
    }
}
