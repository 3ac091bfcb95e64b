//! Server-side render time of the configuration editor for a tenant with 500 keys: the
//! editor's data from the in-memory snapshots (chains, labels, policy per key) and the HTML
//! of the page body, as a request for `/configuration?scope=tenant:…` produces them.

use std::hint::black_box;

use app::backend::audit::Actor;
use app::backend::testing::TestDatabase;
use app::backend::{accounts, editor, transfer};
use app::domain::document::{Document, EntryDoc, KeyDoc, TenantDoc, UserDoc};
use app::domain::scope::Scope;
use app::pages::configuration::Editor;
use criterion::{Criterion, criterion_group, criterion_main};
use leptos::prelude::*;
use serde_json::json;

const KEYS: usize = 500;

/// 500 keys of every type in 25 categories; the tenant sets every other key, locks some,
/// and the global level sets every fifth.
fn document() -> Document {
    let types = ["string", "integer", "boolean", "json", "enum", "float"];
    let mut doc = Document {
        format: "strata/v1".into(),
        ..Default::default()
    };
    for i in 0..KEYS {
        let key_type = types[i % types.len()];
        let (default, options) = match key_type {
            "string" => (json!(format!("value {i}")), None),
            "integer" => (json!(i), None),
            "boolean" => (json!(i % 2 == 0), None),
            "json" => (json!({"n": i, "tags": ["a", "b"]}), None),
            "enum" => (json!("low"), Some(vec!["low".into(), "high".into()])),
            _ => (json!(i as f64 / 2.0), None),
        };
        let key = format!("area{:02}.setting_{i:03}", i % 25);
        doc.keys.push(KeyDoc {
            key: key.clone(),
            key_type: key_type.into(),
            options,
            min: None,
            max: None,
            max_length: None,
            pattern: None,
            default: Some(default.clone()),
            description: Some(format!("Setting number {i} of its area")),
            category: Some(format!("Area {:02}", i % 25)),
            levels: None,
            sensitive: Some(false),
            user_editable: None,
        });
        if i % 2 == 0 {
            doc.entries.push(EntryDoc {
                level: "tenant".into(),
                tenant: Some("bench".into()),
                department: None,
                group: None,
                user: None,
                key: key.clone(),
                value: default.clone(),
                locked: i % 10 == 0,
            });
        }
        if i % 5 == 0 {
            doc.entries.push(EntryDoc {
                level: "global".into(),
                tenant: None,
                department: None,
                group: None,
                user: None,
                key,
                value: default,
                locked: false,
            });
        }
    }
    doc.tenants.push(TenantDoc {
        id: "bench".into(),
        name: "Bench".into(),
        template: None,
        plan: None,
        departments: Vec::new(),
        groups: Vec::new(),
    });
    doc.users.push(UserDoc {
        id: "bench_admin".into(),
        name: "Bench admin".into(),
        tenant: Some("bench".into()),
        department: None,
        groups: Vec::new(),
        traits: vec![
            "admin_capable".into(),
            "tenant_admin".into(),
            "config_write".into(),
        ],
        disabled: false,
    });
    doc
}

fn editor_render(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (_db, state, principal) = runtime.block_on(async {
        let db = TestDatabase::new().await;
        let state = db.state().await;
        let report = transfer::import(&state, &Actor::named("bench"), &document(), false)
            .await
            .unwrap();
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        let principal = accounts::principal_by_slug(&state.db, "bench_admin")
            .await
            .unwrap()
            .unwrap();
        (db, state, principal)
    });
    let scope: Scope = "tenant:bench".parse().unwrap();

    let render = || {
        let view = runtime
            .block_on(editor::view(&state, &principal, &scope, false, None))
            .unwrap();
        assert_eq!(view.rows.len(), KEYS);
        let owner = Owner::new();
        owner.with(|| view! { <Editor view search=String::new() preview=None/> }.to_html())
    };
    let html = render();
    assert!(
        html.contains("area24.setting_499"),
        "the page lists every key"
    );

    let mut group = c.benchmark_group("editor");
    group.bench_function("data for 500 keys", |b| {
        b.iter(|| {
            runtime
                .block_on(editor::view(&state, &principal, &scope, false, None))
                .unwrap()
        })
    });
    group.bench_function("data and HTML for 500 keys", |b| {
        b.iter(|| black_box(render()))
    });
    group.finish();
}

criterion_group!(benches, editor_render);
criterion_main!(benches);
