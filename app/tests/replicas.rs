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
    let catch_up = || {
        reader
            .snapshots
            .reload_if_changed(&reader.db, &reader.secrets)
    };
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
