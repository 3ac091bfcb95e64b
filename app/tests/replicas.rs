//! Two replicas over one real database: what each holds under one snapshot version.

use std::collections::HashMap;

use app::backend::AppState;
use app::backend::audit::Actor;
use app::backend::demo;
use app::backend::entries::{SetEntry, set_entry};
use app::backend::resolution::{ContextSpec, with_effective};
use app::backend::testing::TestDatabase;
use app::domain::name::{ConfigKey, Slug};
use app::domain::resolve::EffectiveView;
use serde_json::json;

fn slug(s: &str) -> Slug {
    Slug::parse("id", s).unwrap()
}

/// The tenant-wide configuration of mercy_hospital as `state` serves it, with its version.
fn observe(state: &AppState) -> (u64, String) {
    let spec = ContextSpec::WhatIf {
        tenant: slug("mercy_hospital"),
        department: None,
        groups: vec![],
    };
    with_effective(state, &spec, |resolved, version| {
        let body = serde_json::to_string(&EffectiveView {
            resolved,
            reveal: false,
        })
        .unwrap();
        (version, body)
    })
    .unwrap()
}

/// An ETag names the snapshot version, so one version must mean one content on every
/// replica, even while another replica keeps writing and this one keeps reloading.
// Two worker threads: the reader's reloads really overlap the writer's commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_holding_one_version_of_a_tenant_hold_the_same_content() {
    let db = TestDatabase::new().await;
    let writer = db.state().await;
    demo::load(&writer, &Actor::named("tests")).await.unwrap();
    let reader = db.state().await;

    // Three writers, so commits come faster than a reader reloads.
    let mut writers = tokio::task::JoinSet::new();
    for (n, key) in [
        "branding.color",
        "branding.display_name",
        "branding.logo_url",
    ]
    .into_iter()
    .enumerate()
    {
        let writer = writer.clone();
        writers.spawn(async move {
            let mut seen = Vec::new();
            for i in 0..100 {
                let request = SetEntry {
                    key: ConfigKey::parse(key).unwrap(),
                    scope: "tenant:mercy_hospital".parse().unwrap(),
                    value: json!(format!("#{n}{i:05x}")),
                    locked: None,
                    expect_version: None,
                    reason: None,
                };
                set_entry(&writer, &Actor::named("writer"), request)
                    .await
                    .unwrap();
                seen.push(observe(&writer));
            }
            seen
        });
    }
    let mut by_version: HashMap<u64, String> = HashMap::new();
    let mut check = |(version, body): (u64, String)| {
        if let Some(earlier) = by_version.insert(version, body.clone()) {
            assert_eq!(earlier, body, "two contents under version {version}");
        }
    };
    let mut reloads = 0;
    let mut written = Vec::new();
    while !writers.is_empty() {
        reader
            .snapshots
            .reload(&reader.db, &reader.secrets)
            .await
            .unwrap();
        check(observe(&reader));
        reloads += 1;
        while let Some(done) = writers.try_join_next() {
            written.extend(done.unwrap());
        }
    }
    for seen in written {
        check(seen);
    }
    assert!(reloads > 10, "the reader reloaded {reloads} times");
    // After a restart, a third replica agrees with the writer too.
    let restarted = db.state().await;
    check(observe(&restarted));
    check(observe(&writer));
}

/// Sign-ins change nothing a replica holds: they get no revision and no replica reloads for
/// them. A change of credentials moves the revision (verified tokens are dropped) without a
/// reload; a change of configuration reloads.
#[tokio::test]
async fn sign_ins_cost_a_replica_nothing_and_credentials_only_move_the_revision() {
    use app::backend::accounts;
    use sea_orm::{ConnectionTrait, Statement};
    let db = TestDatabase::new().await;
    let writer = db.state().await;
    demo::load(&writer, &Actor::named("tests")).await.unwrap();
    let reader = db.state().await;
    let catch_up = || reader.snapshots.catch_up(&reader.db, &reader.secrets);
    let revisions = || async {
        let rows = db
            .db
            .query_all_raw(Statement::from_string(
                db.db.get_database_backend(),
                "SELECT revision FROM changes ORDER BY revision",
            ))
            .await
            .unwrap();
        rows.iter()
            .map(|r| r.try_get::<i64>("", "revision").unwrap())
            .collect::<Vec<_>>()
    };
    assert!(!catch_up().await.unwrap());
    let before = reader.snapshots.loaded_revision();

    let grey = Slug::parse("user", "dr_grey").unwrap();
    let client = Actor::from_client("", None, Some("tests"));
    accounts::set_password(
        &writer,
        &Actor::named("tests"),
        &grey,
        "a password of grey".into(),
    )
    .await
    .unwrap();
    assert!(!catch_up().await.unwrap(), "credentials reload nothing");
    let after_password = reader.snapshots.loaded_revision();
    assert_eq!(after_password, before + 1);

    for password in ["a password of grey", "not the password"] {
        let _ = accounts::login(&writer, "dr_grey", password.into(), &client).await;
    }
    assert!(!catch_up().await.unwrap());
    assert_eq!(
        reader.snapshots.loaded_revision(),
        after_password,
        "sign-ins move nothing"
    );

    let request = SetEntry {
        key: ConfigKey::parse("branding.color").unwrap(),
        scope: "tenant:general_hospital".parse().unwrap(),
        value: json!("#010203"),
        locked: None,
        expect_version: None,
        reason: None,
    };
    set_entry(&writer, &Actor::named("tests"), request)
        .await
        .unwrap();
    assert!(catch_up().await.unwrap(), "configuration reloads");
    assert_eq!(reader.snapshots.loaded_revision(), after_password + 1);
    // Revisions follow one another without gaps, and say what they touched.
    let all = revisions().await;
    assert!(all.windows(2).all(|w| w[1] == w[0] + 1), "{all:?}");
    assert_eq!(*all.last().unwrap(), after_password + 1);
}

/// A replica that applies changes by the snapshots they touch holds exactly what one that
/// loads everything afresh holds, after every kind of change: entries at each level, users
/// created and moved between tenants, groups and tenants deleted, key definitions.
#[tokio::test]
async fn applying_changes_tenant_by_tenant_agrees_with_loading_everything() {
    use app::backend::directory::{self, Doomed};
    use app::domain::document::UserDoc;
    use std::sync::Arc;

    let db = TestDatabase::new().await;
    let writer = db.state().await;
    demo::load(&writer, &Actor::named("tests")).await.unwrap();
    let replica = db.state().await;
    let actor = Actor::named("tests");
    let set = |scope: &str, key: &str, value: serde_json::Value| SetEntry {
        key: ConfigKey::parse(key).unwrap(),
        scope: scope.parse().unwrap(),
        value,
        locked: None,
        expect_version: None,
        reason: None,
    };
    let agree = |step: &str| {
        let replica = &replica;
        let db = &db;
        let step = step.to_owned();
        async move {
            replica
                .snapshots
                .catch_up(&replica.db, &replica.secrets)
                .await
                .unwrap();
            let fresh = db.state().await;
            let ours = replica.snapshots.all();
            let theirs = fresh.snapshots.all();
            assert_eq!(ours.len(), theirs.len(), "{step}: the same snapshots");
            for (a, b) in ours.iter().zip(&theirs) {
                assert!(a.same_content(b), "{step}: {:?} differs", a.tenant);
                // A change made in several steps of one catch-up still takes the revision.
                assert!(
                    a.version as i64 <= replica.snapshots.loaded_revision(),
                    "{step}: {:?} at version {} past the revision",
                    a.tenant,
                    a.version
                );
            }
            for snapshot in &theirs {
                for user in snapshot.users.keys() {
                    assert_eq!(
                        replica.snapshots.for_user(user).map(|s| s.tenant.clone()),
                        Some(snapshot.tenant.clone()),
                        "{step}: {user} in the wrong snapshot"
                    );
                }
            }
        }
    };

    // An entry of one tenant rebuilds that tenant's snapshot and no other.
    let general_before = replica
        .snapshots
        .get(Some(&slug("general_hospital")))
        .unwrap();
    set_entry(
        &writer,
        &actor,
        set("tenant:mercy_hospital", "branding.color", json!("#111111")),
    )
    .await
    .unwrap();
    agree("tenant entry").await;
    let general_after = replica
        .snapshots
        .get(Some(&slug("general_hospital")))
        .unwrap();
    assert!(
        Arc::ptr_eq(&general_before, &general_after),
        "general untouched"
    );
    let mercy = replica
        .snapshots
        .get(Some(&slug("mercy_hospital")))
        .unwrap();
    assert_eq!(mercy.version as i64, replica.snapshots.loaded_revision());

    for (scope, key, value) in [
        (
            "department:mercy_hospital/medical",
            "fax.retry_attempts",
            json!(7),
        ),
        (
            "group:mercy_hospital/nurses",
            "notifications.urgency",
            json!("high"),
        ),
        ("user:dr_house", "ui.theme", json!("dark")),
        ("user:root", "ui.theme", json!("light")),
        ("global", "branding.display_name", json!("Everywhere")),
    ] {
        set_entry(&writer, &actor, set(scope, key, value))
            .await
            .unwrap();
        agree(scope).await;
    }
    // Removing entries (the last of a layer takes the layer with it).
    for (scope, key) in [
        ("department:mercy_hospital/medical", "fax.retry_attempts"),
        ("user:root", "ui.theme"),
        ("global", "branding.display_name"),
    ] {
        app::backend::entries::unset_entry(
            &writer,
            &actor,
            &ConfigKey::parse(key).unwrap(),
            &scope.parse().unwrap(),
            None,
            None,
        )
        .await
        .unwrap();
        agree(&format!("unset at {scope}")).await;
    }

    // Users created in a tenant, then moved to another and to the platform.
    let pat = UserDoc {
        id: "pat".into(),
        name: "Pat".into(),
        tenant: Some("mercy_hospital".into()),
        department: Some("medical".into()),
        groups: vec!["doctors".into()],
        traits: vec![],
        disabled: false,
    };
    directory::create_user(&writer, &actor, pat.clone())
        .await
        .unwrap();
    agree("user created").await;
    // Changed where they are: another department, two groups (put in place row by row).
    let placed = UserDoc {
        department: Some("marketing".into()),
        groups: vec!["nurses".into(), "doctors".into()],
        ..pat.clone()
    };
    directory::update_user(&writer, &actor, placed)
        .await
        .unwrap();
    agree("user changed in place").await;
    set_entry(&writer, &actor, set("user:pat", "ui.theme", json!("dark")))
        .await
        .unwrap();
    let moved = UserDoc {
        tenant: Some("general_hospital".into()),
        department: None,
        groups: vec!["staff".into()],
        ..pat.clone()
    };
    directory::update_user(&writer, &actor, moved)
        .await
        .unwrap();
    agree("user moved").await;
    let to_platform = UserDoc {
        tenant: None,
        department: None,
        groups: vec![],
        ..pat
    };
    directory::update_user(&writer, &actor, to_platform)
        .await
        .unwrap();
    agree("user moved to the platform").await;
    directory::delete(&writer, &actor, &Doomed::User(slug("pat")), None)
        .await
        .unwrap();
    agree("user deleted").await;
    assert!(replica.snapshots.for_user(&slug("pat")).is_none());

    // Key definitions: every snapshot moves to them in memory, templates' followers included.
    let define = |doc: serde_json::Value| {
        let writer = &writer;
        let actor = &actor;
        async move {
            let key = ConfigKey::parse(doc["key"].as_str().unwrap()).unwrap();
            directory::define_key(writer, actor, &key, serde_json::from_value(doc).unwrap())
                .await
                .unwrap();
        }
    };
    let full_loads = replica.snapshots.full_loads();
    define(json!({"key": "aaa.first", "type": "string", "default": "x"})).await;
    agree("a key defined before every other").await;
    define(json!({"key": "ml.limit", "type": "integer", "default": 1})).await;
    define(json!({"key": "ml.limit", "type": "integer", "default": 2})).await;
    agree("a key's default changed").await;
    let general = replica.snapshots.for_user(&slug("dr_patel")).unwrap();
    assert_eq!(
        general
            .keys
            .get(&ConfigKey::parse("ml.limit").unwrap())
            .and_then(|(_, def)| def.default.clone()),
        Some(json!(2))
    );
    let doc: app::domain::document::Document = serde_json::from_value(json!({
        "format": "strata/v1",
        "keys": [{"key": "mm.new", "type": "integer"}],
        "entries": [
            {"level": "tenant", "tenant": "mercy_hospital", "key": "mm.new", "value": 3},
            {"level": "user", "user": "dr_house", "key": "mm.new", "value": 4, "locked": false}
        ]
    }))
    .unwrap();
    let report = app::backend::transfer::apply(
        &writer,
        &actor,
        &doc,
        app::backend::transfer::Mode::Import { dry_run: false },
    )
    .await
    .unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    agree("a key defined with entries in one import").await;
    directory::delete(
        &writer,
        &actor,
        &Doomed::Key(ConfigKey::parse("aaa.first").unwrap()),
        None,
    )
    .await
    .unwrap();
    agree("a key without entries deleted").await;
    assert_eq!(
        replica.snapshots.full_loads(),
        full_loads,
        "key definitions are applied in place"
    );

    // Deletes, and a key definition.
    directory::delete(
        &writer,
        &actor,
        &Doomed::Group(slug("mercy_hospital"), slug("nurses")),
        None,
    )
    .await
    .unwrap();
    agree("group deleted").await;
    directory::delete(
        &writer,
        &actor,
        &Doomed::Tenant(slug("general_hospital")),
        None,
    )
    .await
    .unwrap();
    agree("tenant deleted").await;
    assert!(
        replica
            .snapshots
            .get(Some(&slug("general_hospital")))
            .is_none()
    );
    assert!(replica.snapshots.for_user(&slug("dr_patel")).is_none());
    // A key with entries at every level, a global one included, deleted with them.
    set_entry(&writer, &actor, set("global", "ui.theme", json!("light")))
        .await
        .unwrap();
    agree("a global entry of the key to delete").await;
    let full_loads = replica.snapshots.full_loads();
    directory::delete(
        &writer,
        &actor,
        &Doomed::Key(ConfigKey::parse("ui.theme").unwrap()),
        None,
    )
    .await
    .unwrap();
    agree("key deleted").await;
    assert_eq!(
        replica.snapshots.full_loads(),
        full_loads,
        "key definitions are applied in place, a deleted key's entries with them"
    );
}

/// A write on one replica reaches another by the change feed alone (no poll runs here): on
/// PostgreSQL through the notification its commit sends, which the other replica follows. On
/// SQLite, one process, another process's writes are picked up by catching up (the poll's
/// path).
#[tokio::test]
async fn a_write_on_one_replica_reaches_another_through_the_change_feed() {
    use sea_orm::DbBackend;
    use std::time::{Duration, Instant};

    let db = TestDatabase::new().await;
    let writer = db.state().await;
    demo::load(&writer, &Actor::named("tests")).await.unwrap();
    let reader = db.state().await;
    let postgres = db.db.get_database_backend() == DbBackend::Postgres;
    let follower =
        postgres.then(|| tokio::spawn(app::backend::feed::follow(reader.clone(), db.url.clone())));
    let mercy = slug("mercy_hospital");
    for i in 0..10 {
        let request = SetEntry {
            key: ConfigKey::parse("branding.color").unwrap(),
            scope: "tenant:mercy_hospital".parse().unwrap(),
            value: json!(format!("#0000{i:02}")),
            locked: None,
            expect_version: None,
            reason: None,
        };
        set_entry(&writer, &Actor::named("writer"), request)
            .await
            .unwrap();
        let revision = writer.snapshots.loaded_revision() as u64;
        if !postgres {
            reader
                .snapshots
                .catch_up(&reader.db, &reader.secrets)
                .await
                .unwrap();
        }
        let started = Instant::now();
        while reader.snapshots.get(Some(&mercy)).unwrap().version < revision {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "write {i} (revision {revision}) never reached the other replica"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let seen = observe(&reader);
        assert!(seen.1.contains(&format!("#0000{i:02}")), "write {i}");
    }
    if let Some(follower) = follower {
        follower.abort();
    }
}
