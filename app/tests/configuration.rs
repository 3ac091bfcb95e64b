//! The configuration services against a real database: import, writes with optimistic
//! concurrency, the audit chain, encryption at rest and the snapshots.

use app::backend::AppState;
use app::backend::audit::{self, Actor, AuditFilter};
use app::backend::demo;
use app::backend::entries::{SetEntry, set_entry, unset_entry};
use app::backend::error::ServiceError;
use app::backend::resolution::{ContextSpec, chain, with_effective};
use app::backend::testing::TestDatabase;
use app::backend::transfer::{export, import};
use app::domain::document::Document;
use app::domain::name::{ConfigKey, Slug};
use app::domain::resolve::EffectiveView;
use app::domain::scope::Scope;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{Value, json};

fn actor() -> Actor {
    Actor::named("tester")
}

fn slug(s: &str) -> Slug {
    Slug::parse("id", s).unwrap()
}

fn key(s: &str) -> ConfigKey {
    ConfigKey::parse(s).unwrap()
}

fn user(u: &str) -> ContextSpec {
    ContextSpec::User(slug(u))
}

fn document(value: Value) -> Document {
    serde_json::from_value(value).unwrap()
}

fn example() -> Value {
    json!({
      "format": "strata/v1",
      "keys": [
        {"key": "fax.backend.provider", "type": "enum", "options": ["phaxio", "sip"], "default": "phaxio", "category": "Fax"},
        {"key": "uploads.max_size_mb", "type": "integer", "min": 1, "max": 100, "default": 10, "levels": ["global", "tenant"]},
        {"key": "providers.phaxio.api_key", "type": "string"}
      ],
      "tenants": [
        {"id": "mercy_hospital", "name": "Mercy Hospital Network",
         "departments": [{"id": "medical", "name": "Medical"}],
         "groups": [{"id": "doctors", "name": "Doctors", "priority": 10}]},
        {"id": "general_hospital", "name": "General Hospital"}
      ],
      "users": [
        {"id": "root", "name": "Platform admin", "traits": ["admin_capable", "super_admin", "config_write"]},
        {"id": "user123", "name": "Dr. Who", "tenant": "mercy_hospital", "department": "medical", "groups": ["doctors"], "traits": []},
        {"id": "gina", "name": "Gina", "tenant": "general_hospital"}
      ],
      "entries": [
        {"level": "global", "key": "fax.backend.provider", "value": "phaxio"},
        {"level": "tenant", "tenant": "mercy_hospital", "key": "uploads.max_size_mb", "value": 20, "locked": true},
        {"level": "group", "tenant": "mercy_hospital", "group": "doctors", "key": "fax.backend.provider", "value": "sip"},
        {"level": "tenant", "tenant": "mercy_hospital", "key": "providers.phaxio.api_key", "value": "sk_live_PLAINTEXT_MARKER_42"}
      ]
    })
}

async fn count(state: &AppState, table: &str) -> i64 {
    let row = state
        .db
        .query_one_raw(Statement::from_string(
            state.db.get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM {table}"),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get("", "n").unwrap()
}

async fn counts(state: &AppState) -> [i64; 5] {
    [
        count(state, "config_keys").await,
        count(state, "tenants").await,
        count(state, "users").await,
        count(state, "entries").await,
        count(state, "audit_events").await,
    ]
}

async fn imported() -> (TestDatabase, AppState) {
    let test = TestDatabase::new().await;
    let state = test.state().await;
    let report = import(&state, &actor(), &document(example()), false)
        .await
        .unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    (test, state)
}

fn effective(state: &AppState, spec: &ContextSpec) -> Value {
    with_effective(state, spec, |resolved, _| {
        serde_json::to_value(EffectiveView {
            resolved,
            reveal: false,
        })
        .unwrap()
    })
    .unwrap()
}

#[tokio::test]
async fn an_import_applies_everything_and_a_second_one_changes_nothing() {
    let test = TestDatabase::new().await;
    let state = test.state().await;
    let first = import(&state, &actor(), &document(example()), false)
        .await
        .unwrap();
    // 3 keys, 2 tenants, 1 department, 1 group, 3 users, 4 entries
    assert_eq!((first.created, first.updated, first.unchanged), (14, 0, 0));
    let after_first = counts(&state).await;
    assert_eq!(after_first, [3, 2, 3, 4, 15]); // 14 changes + the import event

    let second = import(&state, &actor(), &document(example()), false)
        .await
        .unwrap();
    assert_eq!(
        (second.created, second.updated, second.unchanged),
        (0, 0, 14)
    );
    assert_eq!(
        counts(&state).await,
        after_first,
        "the second import wrote something"
    );

    let resolved = effective(&state, &user("user123"));
    assert_eq!(
        resolved["fax.backend.provider"],
        json!({"value": "sip", "level": "group", "scope": "mercy_hospital/doctors"})
    );
    assert_eq!(
        resolved["uploads.max_size_mb"],
        json!({"value": 20, "level": "tenant", "scope": "mercy_hospital"})
    );
    assert_eq!(resolved["providers.phaxio.api_key"]["value"], "••••••");
}

#[tokio::test]
async fn an_invalid_import_writes_nothing() {
    let (_test, state) = imported().await;
    let before = counts(&state).await;
    let mut doc = example();
    doc["tenants"][0]["name"] = json!("Renamed");
    doc["entries"][1]["value"] = json!("abc");
    doc["entries"].as_array_mut().unwrap().push(
        json!({"level": "user", "user": "ghost", "key": "fax.backend.provider", "value": "sip"}),
    );
    let report = import(&state, &actor(), &document(doc), false)
        .await
        .unwrap();
    let problems: Vec<String> = report.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        problems,
        vec![
            "entries[1].value: expected integer, got \"abc\"",
            "entries[4]: user ghost does not exist",
        ]
    );
    assert_eq!((report.created, report.updated), (0, 0));
    assert_eq!(counts(&state).await, before);
    let doc = export(&state.db, &state.secrets, false).await.unwrap();
    assert_eq!(
        doc.tenants
            .iter()
            .find(|t| t.id == "mercy_hospital")
            .unwrap()
            .name,
        "Mercy Hospital Network"
    );
}

#[tokio::test]
async fn a_dry_run_counts_without_writing() {
    let test = TestDatabase::new().await;
    let state = test.state().await;
    let report = import(&state, &actor(), &document(example()), true)
        .await
        .unwrap();
    assert_eq!(report.created, 14);
    assert_eq!(counts(&state).await, [0, 0, 0, 0, 0]);
}

#[tokio::test]
async fn redefining_a_key_must_keep_its_entries_valid() {
    let (_test, state) = imported().await;
    let before = counts(&state).await;
    let mut doc = example();
    doc["keys"][1]["max"] = json!(15); // mercy's entry holds 20
    doc["entries"].as_array_mut().unwrap().remove(1);
    let report = import(&state, &actor(), &document(doc), false)
        .await
        .unwrap();
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    assert_eq!(report.errors[0].path, "keys[1]");
    assert!(
        report.errors[0]
            .message
            .contains("expected integer between 1 and 15, got 20")
    );
    assert_eq!(counts(&state).await, before);
}

fn set(scope: &str, key_name: &str, value: Value) -> SetEntry {
    SetEntry {
        key: key(key_name),
        scope: scope.parse().unwrap(),
        value,
        locked: None,
        expect_version: None,
        reason: None,
    }
}

#[tokio::test]
async fn writes_are_validated_and_refusals_write_nothing() {
    let (_test, state) = imported().await;
    let before = counts(&state).await;
    let cases: Vec<(SetEntry, &str)> = vec![
        (
            set("tenant:mercy_hospital", "uploads.max_size_mb", json!(500)),
            "value: key uploads.max_size_mb: expected integer between 1 and 100, got 500",
        ),
        (
            set("user:user123", "uploads.max_size_mb", json!(5)),
            "key uploads.max_size_mb cannot be set at the user level (allowed: global, tenant)",
        ),
        (
            set("global", "no.such.key", json!(1)),
            "key no.such.key is not defined",
        ),
        (
            set(
                "department:mercy_hospital/nope",
                "fax.backend.provider",
                json!("sip"),
            ),
            "department mercy_hospital/nope was not found",
        ),
        (
            set("user:ghost", "fax.backend.provider", json!("sip")),
            "user ghost was not found",
        ),
        (
            set(
                "tenant:mercy_hospital",
                "providers.phaxio.api_key",
                json!(7),
            ),
            "value: key providers.phaxio.api_key: expected string, got a hidden value",
        ),
    ];
    for (request, message) in cases {
        let err = set_entry(&state, &actor(), request).await.unwrap_err();
        assert_eq!(err.to_string(), message);
    }
    assert_eq!(counts(&state).await, before);
}

#[tokio::test]
async fn a_stale_version_is_a_conflict_that_shows_the_current_value() {
    let (_test, state) = imported().await;
    let mut first = set(
        "group:mercy_hospital/doctors",
        "fax.backend.provider",
        json!("phaxio"),
    );
    first.expect_version = Some(1);
    let written = set_entry(&state, &actor(), first).await.unwrap();
    assert_eq!(written.version, 2);
    let before = counts(&state).await;

    let mut stale = set(
        "group:mercy_hospital/doctors",
        "fax.backend.provider",
        json!("sip"),
    );
    stale.expect_version = Some(1);
    match set_entry(&state, &actor(), stale).await.unwrap_err() {
        ServiceError::Conflict { message, current } => {
            assert!(message.contains("changed since version 1"), "{message}");
            let current = current.unwrap();
            assert_eq!((current.value, current.version), (json!("phaxio"), 2));
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    let mut create_only = set("global", "uploads.max_size_mb", json!(30));
    create_only.expect_version = Some(0);
    set_entry(&state, &actor(), create_only.clone())
        .await
        .unwrap();
    assert!(matches!(
        set_entry(&state, &actor(), create_only).await,
        Err(ServiceError::Conflict { .. })
    ));
    let err = unset_entry(
        &state,
        &actor(),
        &key("fax.backend.provider"),
        &"group:mercy_hospital/doctors".parse().unwrap(),
        Some(1),
        None,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ServiceError::Conflict { .. }));
    assert_eq!(counts(&state).await[3], before[3] + 1);
}

#[tokio::test]
async fn writes_update_the_snapshots_and_only_the_affected_tenant_versions() {
    let (_test, state) = imported().await;
    let mercy = slug("mercy_hospital");
    let general = slug("general_hospital");
    let v_mercy = state.snapshots.get(Some(&mercy)).unwrap().version;
    let v_general = state.snapshots.get(Some(&general)).unwrap().version;

    set_entry(
        &state,
        &actor(),
        set("user:user123", "fax.backend.provider", json!("phaxio")),
    )
    .await
    .unwrap();
    assert_eq!(
        effective(&state, &user("user123"))["fax.backend.provider"]["level"],
        "user"
    );
    assert!(state.snapshots.get(Some(&mercy)).unwrap().version > v_mercy);
    assert_eq!(
        state.snapshots.get(Some(&general)).unwrap().version,
        v_general
    );

    // A lock at the tenant level makes the user's entry ignored.
    let mut lock = set(
        "tenant:mercy_hospital",
        "fax.backend.provider",
        json!("sip"),
    );
    lock.locked = Some(true);
    set_entry(&state, &actor(), lock).await.unwrap();
    let chain = chain(&state, &key("fax.backend.provider"), &user("user123"), None)
        .await
        .unwrap();
    let states: Vec<&str> = chain
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        [
            "overridden",
            "overridden",
            "applied",
            "ignored_locked",
            "ignored_locked"
        ]
    );

    // A global change moves every tenant.
    let v_general = state.snapshots.get(Some(&general)).unwrap().version;
    set_entry(
        &state,
        &actor(),
        set("global", "uploads.max_size_mb", json!(12)),
    )
    .await
    .unwrap();
    assert!(state.snapshots.get(Some(&general)).unwrap().version > v_general);

    unset_entry(
        &state,
        &actor(),
        &key("fax.backend.provider"),
        &Scope::User {
            user: slug("user123"),
        },
        None,
        Some("cleanup".into()),
    )
    .await
    .unwrap();
    let events = audit::list(
        &state.db,
        &AuditFilter {
            limit: Some(1),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(events[0].action, "entry.unset");
    assert_eq!(events[0].reason.as_deref(), Some("cleanup"));
    assert_eq!(events[0].tenant.as_deref(), Some("mercy_hospital"));
}

#[tokio::test]
async fn the_audit_records_changes_and_masks_secrets() {
    let (_test, state) = imported().await;
    let mut lock = set("tenant:mercy_hospital", "uploads.max_size_mb", json!(20));
    lock.locked = Some(false);
    lock.reason = Some("let departments choose".into());
    set_entry(&state, &actor(), lock).await.unwrap();
    set_entry(
        &state,
        &actor(),
        set(
            "tenant:mercy_hospital",
            "providers.phaxio.api_key",
            json!("sk_live_OTHER_SECRET"),
        ),
    )
    .await
    .unwrap();

    let events = audit::list(
        &state.db,
        &AuditFilter {
            tenant: Some("mercy_hospital".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let secret = &events[0];
    assert_eq!(
        (secret.action.as_str(), secret.key.as_deref()),
        ("entry.set", Some("providers.phaxio.api_key"))
    );
    let old = secret.old_value.as_deref().unwrap();
    let new = secret.new_value.as_deref().unwrap();
    assert!(
        old.starts_with("•••••• ") && new.starts_with("•••••• ") && old != new,
        "{old} / {new}"
    );
    let unlock = &events[1];
    assert_eq!(unlock.action, "entry.unlock");
    assert_eq!(
        (unlock.old_locked, unlock.new_locked),
        (Some(true), Some(false))
    );
    assert_eq!(unlock.reason.as_deref(), Some("let departments choose"));
    assert_eq!(unlock.actor, "tester");
    let all = serde_json::to_string(
        &audit::list(&state.db, &AuditFilter::default())
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(!all.contains("PLAINTEXT_MARKER") && !all.contains("OTHER_SECRET"));
    assert_eq!(
        audit::verify(&state.db).await.unwrap(),
        Ok(events.len() + 8)
    );
}

#[tokio::test]
async fn audit_verify_finds_an_edited_or_deleted_event() {
    let (_test, state) = imported().await;
    let total = audit::verify(&state.db).await.unwrap().unwrap() as i64;
    assert_eq!(total, 15);
    state
        .db
        .execute_unprepared("UPDATE audit_events SET new_value = '\"forged\"' WHERE id = 5")
        .await
        .unwrap();
    assert_eq!(
        audit::verify(&state.db)
            .await
            .unwrap()
            .unwrap_err()
            .first_broken(),
        5
    );

    let (_test, state) = imported().await;
    state
        .db
        .execute_unprepared("DELETE FROM audit_events WHERE id = 7")
        .await
        .unwrap();
    assert_eq!(
        audit::verify(&state.db)
            .await
            .unwrap()
            .unwrap_err()
            .first_broken(),
        8
    );

    let (_test, state) = imported().await;
    state
        .db
        .execute_unprepared(&format!("DELETE FROM audit_events WHERE id = {total}"))
        .await
        .unwrap();
    assert_eq!(
        audit::verify(&state.db)
            .await
            .unwrap()
            .unwrap_err()
            .first_broken(),
        total
    );
}

#[tokio::test]
async fn sensitive_plaintext_never_reaches_the_database() {
    let (test, state) = imported().await;
    set_entry(
        &state,
        &actor(),
        set(
            "global",
            "providers.phaxio.api_key",
            json!("sk_live_PLAINTEXT_MARKER_43"),
        ),
    )
    .await
    .unwrap();
    // The service can read it back…
    let revealed = with_effective(&state, &user("gina"), |resolved, _| {
        serde_json::to_value(EffectiveView {
            resolved,
            reveal: true,
        })
        .unwrap()
    })
    .unwrap();
    assert_eq!(
        revealed["providers.phaxio.api_key"]["value"],
        "sk_live_PLAINTEXT_MARKER_43"
    );
    // …but no stored byte holds it.
    match state.db.get_database_backend() {
        DbBackend::Sqlite => {
            state
                .db
                .execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
                .await
                .unwrap();
            let path = test
                .url
                .trim_start_matches("sqlite://")
                .split('?')
                .next()
                .unwrap()
                .to_owned();
            for file in [path.clone(), format!("{path}-wal")] {
                if let Ok(bytes) = std::fs::read(&file) {
                    let text = String::from_utf8_lossy(&bytes);
                    assert!(!text.contains("PLAINTEXT_MARKER"), "{file} holds a secret");
                }
            }
        }
        _ => {
            for table in ["entries", "audit_events", "config_keys"] {
                let rows = state
                    .db
                    .query_all_raw(Statement::from_string(
                        DbBackend::Postgres,
                        format!("SELECT t::text AS row FROM {table} t"),
                    ))
                    .await
                    .unwrap();
                for row in rows {
                    let text: String = row.try_get("", "row").unwrap();
                    assert!(
                        !text.contains("PLAINTEXT_MARKER"),
                        "{table} holds a secret: {text}"
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn an_export_imports_back_unchanged() {
    let (_test, state) = imported().await;
    demo::load(&state, &actor()).await.unwrap();
    let exported = export(&state.db, &state.secrets, false).await.unwrap();
    let text = serde_json::to_string(&exported).unwrap();
    assert!(
        !text.contains("PLAINTEXT_MARKER") && !text.contains("phx_live"),
        "secrets leaked into the export"
    );
    let report = import(&state, &actor(), &exported, false).await.unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!((report.created, report.updated), (0, 0));

    let revealed = export(&state.db, &state.secrets, true).await.unwrap();
    // The demo replaced mercy's key; the revealed export shows the current plaintext.
    assert!(
        serde_json::to_string(&revealed)
            .unwrap()
            .contains("phx_live_mercy_77c41d09e3")
    );
}

#[tokio::test]
async fn the_demo_organisation_resolves_as_designed() {
    let test = TestDatabase::new().await;
    let state = test.state().await;
    let report = demo::load(&state, &actor()).await.unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert!(report.created > 80);
    let house = effective(&state, &user("dr_house"));
    assert_eq!(
        house["fax.backend.provider"],
        json!({"value": "sip", "level": "group", "scope": "mercy_hospital/emergency_doctors"})
    );
    assert_eq!(house["notifications.urgency"]["value"], "high");
    assert_eq!(house["fax.priority_processing"]["value"], true);
    // The tenant lock beats the medical department's 50.
    assert_eq!(
        house["uploads.max_size_mb"],
        json!({"value": 20, "level": "tenant", "scope": "mercy_hospital"})
    );
    assert_eq!(house["ui.theme"]["level"], "user");
    let grey = effective(&state, &user("dr_grey"));
    assert_eq!(grey["fax.backend.provider"]["value"], "phaxio");
    assert_eq!(grey["notifications.urgency"]["value"], "normal");
    let patel = effective(&state, &user("dr_patel"));
    assert_eq!(patel["fax.backend.provider"]["value"], "sip");
    assert_eq!(patel["fax.retry_attempts"]["value"], 5);
    let what_if = effective(
        &state,
        &ContextSpec::WhatIf {
            tenant: slug("mercy_hospital"),
            department: Some(slug("marketing")),
            groups: vec![],
        },
    );
    assert_eq!(what_if["features.chat.enabled"]["value"], false);
    // Loading it again changes nothing.
    let again = demo::load(&state, &actor()).await.unwrap();
    assert_eq!((again.created, again.updated), (0, 0));
}

#[tokio::test]
async fn changes_by_another_process_are_picked_up_through_the_change_feed() {
    let (test, server) = imported().await;
    let cli = test.state().await; // a second process on the same database
    assert!(
        !server
            .snapshots
            .catch_up(&server.db, &server.secrets)
            .await
            .unwrap()
    );

    set_entry(
        &cli,
        &actor(),
        set("user:user123", "fax.backend.provider", json!("phaxio")),
    )
    .await
    .unwrap();
    assert_eq!(
        effective(&server, &user("user123"))["fax.backend.provider"]["level"],
        "group",
        "stale until checked"
    );
    assert!(
        server
            .snapshots
            .catch_up(&server.db, &server.secrets)
            .await
            .unwrap()
    );
    assert_eq!(
        effective(&server, &user("user123"))["fax.backend.provider"]["level"],
        "user"
    );
    assert!(
        !server
            .snapshots
            .catch_up(&server.db, &server.secrets)
            .await
            .unwrap()
    );
}

/// An import larger than one batch of rows (users, memberships, traits, entries, audit events
/// and their ciphertexts are written a thousand per statement): every row lands where it
/// belongs, the chain verifies, the snapshots resolve it, and importing it again writes nothing.
#[tokio::test]
async fn a_bulk_import_across_batches_writes_every_row_and_keeps_the_chain() {
    let db = TestDatabase::new().await;
    let state = db.state().await;
    let users: Vec<Value> = (0..2_500)
        .map(|u| {
            json!({"id": format!("u{u:04}"), "name": format!("User {u}"), "tenant": "t",
                "department": format!("d{}", u % 3), "groups": [format!("g{}", u % 4), "all"],
                "traits": if u % 500 == 0 { json!(["admin_capable", "tenant_admin"]) } else { json!([]) }})
        })
        .collect();
    let entries: Vec<Value> = (0..2_500)
        .flat_map(|u| {
            [
                json!({"level": "user", "user": format!("u{u:04}"), "key": "bulk.limit", "value": u}),
                json!({"level": "user", "user": format!("u{u:04}"), "key": "bulk.api_key", "value": format!("sk_{u}")}),
            ]
        })
        .collect();
    let doc = json!({
        "format": "strata/v1",
        "keys": [{"key": "bulk.limit", "type": "integer", "default": 1},
                 {"key": "bulk.api_key", "type": "string"}],
        "tenants": [{"id": "t", "name": "T",
            "departments": (0..3).map(|d| json!({"id": format!("d{d}"), "name": format!("D{d}")})).collect::<Vec<_>>(),
            "groups": (0..4).map(|g| json!({"id": format!("g{g}"), "name": format!("G{g}"), "priority": g}))
                .chain([json!({"id": "all", "name": "All", "priority": 9})]).collect::<Vec<_>>()}],
        "users": users,
        "entries": entries,
    });
    let report = import(&state, &actor(), &document(doc.clone()), false)
        .await
        .unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let count = |sql: &'static str| {
        let db = &state.db;
        async move {
            db.query_one_raw(Statement::from_string(db.get_database_backend(), sql))
                .await
                .unwrap()
                .unwrap()
                .try_get::<i64>("", "n")
                .unwrap()
        }
    };
    assert_eq!(count("SELECT COUNT(*) AS n FROM users").await, 2_500);
    assert_eq!(count("SELECT COUNT(*) AS n FROM user_groups").await, 5_000);
    assert_eq!(count("SELECT COUNT(*) AS n FROM user_traits").await, 10);
    assert_eq!(count("SELECT COUNT(*) AS n FROM entries").await, 5_000);
    assert_eq!(
        count("SELECT COUNT(*) AS n FROM audit_secrets").await,
        2_500,
        "one ciphertext per secret set"
    );
    let events = audit::verify(&state.db).await.unwrap().unwrap();
    // Two keys, a tenant, 3 departments, 5 groups, 2,500 users, 5,000 entries and the import.
    assert_eq!(events, 2 + 1 + 3 + 5 + 2_500 + 5_000 + 1);

    // Resolved from the snapshots as written, memberships included.
    let shown = with_effective(&state, &user("u1234"), |resolved, _| {
        serde_json::to_value(EffectiveView {
            resolved,
            reveal: true,
        })
        .unwrap()
    })
    .unwrap();
    assert_eq!(shown["bulk.limit"]["value"], 1234);
    assert_eq!(shown["bulk.api_key"]["value"], "sk_1234");
    let snapshot = state.snapshots.for_user(&slug("u1234")).unwrap();
    let placement = &snapshot.users[&slug("u1234")];
    assert_eq!(placement.department, Some(slug("d1")));
    assert_eq!(placement.groups.len(), 2);

    let again = import(&state, &actor(), &document(doc), false)
        .await
        .unwrap();
    assert_eq!((again.created, again.updated), (0, 0));
    assert_eq!(audit::verify(&state.db).await.unwrap().unwrap(), events);
}

/// A write to one tenant's directory reads that tenant (and every key and template), never the
/// whole platform: with another tenant's row unreadable, every read of the whole platform
/// fails, while creating, changing, reading and deleting in this tenant still works.
#[tokio::test]
async fn directory_writes_read_only_the_tenant_they_change() {
    use app::backend::directory::{self, Doomed};
    use app::domain::document::{DepartmentDoc, UserDoc};

    let db = TestDatabase::new().await;
    let state = db.state().await;
    demo::load(&state, &actor()).await.unwrap();
    // A user id is one across the platform: creating one another tenant holds is refused.
    let taken = directory::create_user(
        &state,
        &actor(),
        UserDoc {
            id: "dr_patel".into(),
            name: "Someone Else".into(),
            tenant: Some("mercy_hospital".into()),
            department: None,
            groups: vec![],
            traits: vec![],
            disabled: false,
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(taken, ServiceError::Conflict { .. }), "{taken}");
    let damaged = state
        .db
        .execute_raw(Statement::from_string(
            state.db.get_database_backend(),
            "UPDATE entries SET value = 'not a sealed value', encrypted = TRUE \
             WHERE level = 'tenant' AND tenant_id = \
             (SELECT id FROM tenants WHERE slug = 'general_hospital')",
        ))
        .await
        .unwrap();
    assert!(damaged.rows_affected() > 0);
    assert!(
        export(&state.db, &state.secrets, false).await.is_err(),
        "a read of the whole platform meets the damaged row"
    );

    let pat = UserDoc {
        id: "pat".into(),
        name: "Pat".into(),
        tenant: Some("mercy_hospital".into()),
        department: Some("medical".into()),
        groups: vec!["doctors".into()],
        traits: vec![],
        disabled: false,
    };
    let created = directory::create_user(&state, &actor(), pat).await.unwrap();
    assert_eq!(created.department.as_deref(), Some("medical"));
    directory::create_department(
        &state,
        &actor(),
        &slug("mercy_hospital"),
        DepartmentDoc {
            id: "radiology".into(),
            name: "Radiology".into(),
            template: None,
        },
    )
    .await
    .unwrap();
    let moved = directory::update_user(
        &state,
        &actor(),
        UserDoc {
            department: Some("radiology".into()),
            ..created
        },
    )
    .await
    .unwrap();
    assert_eq!(moved.department.as_deref(), Some("radiology"));
    let renamed = directory::update_tenant(
        &state,
        &actor(),
        &slug("mercy_hospital"),
        json!({"name": "Mercy General"}),
    )
    .await
    .unwrap();
    assert_eq!(renamed.name, "Mercy General");
    assert_eq!(
        directory::entries_held(&state, &Doomed::User(slug("dr_house")))
            .await
            .unwrap(),
        2
    );
    directory::delete(&state, &actor(), &Doomed::User(slug("pat")), None)
        .await
        .unwrap();
    assert!(directory::user_doc(&state, &slug("pat")).await.is_err());
    // A key redefined reads its own entries, wherever they are: they must still fit.
    let mut theme = directory::key_doc(&state, &key("ui.theme")).await.unwrap();
    theme.description = Some("Colour scheme".into());
    directory::define_key(&state, &actor(), &key("ui.theme"), theme)
        .await
        .unwrap();
    let mut size = directory::key_doc(&state, &key("uploads.max_size_mb"))
        .await
        .unwrap();
    size.max = Some(10.into());
    let refused = directory::define_key(&state, &actor(), &key("uploads.max_size_mb"), size)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("tenant:mercy_hospital"),
        "{refused}"
    );
    // A key deleted reads its own entries, each audited where it was (dr_house's under his
    // tenant and department, root's on the platform).
    let theme = Doomed::Key(key("ui.theme"));
    assert_eq!(directory::entries_held(&state, &theme).await.unwrap(), 2);
    directory::delete(&state, &actor(), &theme, None)
        .await
        .unwrap();
    let unset = audit::list(
        &state.db,
        &AuditFilter {
            key_prefix: Some("ui.theme".into()),
            action: Some("entry.unset".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mut places: Vec<_> = unset
        .iter()
        .map(|e| {
            (
                e.scope.clone().unwrap_or_default(),
                e.tenant.clone(),
                e.department.clone(),
            )
        })
        .collect();
    places.sort();
    assert_eq!(
        places,
        [
            (
                "dr_house".to_string(),
                Some("mercy_hospital".to_string()),
                Some("medical".to_string())
            ),
            ("root".to_string(), None, None),
        ]
    );
    assert!(directory::key_doc(&state, &key("ui.theme")).await.is_err());
    // What was written is what the database holds.
    let tenant = count(&state, "tenants").await;
    assert_eq!(tenant, 2);
    assert_eq!(
        directory::tenant_doc(&state, &slug("mercy_hospital"))
            .await
            .unwrap()
            .departments
            .iter()
            .filter(|d| d.id == "radiology")
            .count(),
        1
    );
}
