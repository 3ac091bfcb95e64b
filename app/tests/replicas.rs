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
