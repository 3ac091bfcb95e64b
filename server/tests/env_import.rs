//! `.env` import over real HTTP (API.md ".env import"): a dry run first, then the same plan
//! applied as one audited batch; anything in error, refused or moved writes nothing.

#[path = "support/server.rs"]
mod support;

use serde_json::{Value, json};
use support::{Client, TestServer, assert_error, message, start};

const EXAMPLE: &str = include_str!("../examples/mercy-medical.env");
const EXAMPLE_MAPPING: &str = include_str!("../examples/mercy-medical.mapping.json");
const MEDICAL: &str = "department:mercy_hospital/medical";

fn statuses(report: &Value) -> Vec<(u64, String)> {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["line"].as_u64().unwrap(),
                r["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn import(
    client: &Client,
    scope: &str,
    body: Value,
    dry_run: bool,
) -> (reqwest::StatusCode, Value) {
    let dry = if dry_run { "&dry_run=true" } else { "" };
    client
        .post(&format!("/import/env?scope={scope}{dry}"), body)
        .await
}

/// Rows that a refused request must leave as they were.
async fn counts(server: &TestServer) -> (i64, i64, i64) {
    (
        server.count("entries").await,
        server.count("audit_events").await,
        server.count("config_keys").await,
    )
}

#[tokio::test]
async fn a_legacy_env_file_imports_into_a_department_after_its_dry_run() {
    let server = start(&["mercy_admin"]).await;
    let admin = server.client_as("mercy_admin").await;
    let mapping: Value = serde_json::from_str(EXAMPLE_MAPPING).unwrap();
    let body = json!({"text": EXAMPLE, "mapping": mapping, "reason": "moving off the fax server"});
    let before = counts(&server).await;

    let (status, plan) = import(&admin, MEDICAL, body.clone(), true).await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(
        statuses(&plan),
        vec![
            (6, "create".into()),
            (7, "create".into()),
            (8, "create".into()),
            (9, "create".into()),
            (10, "create".into()),
            (11, "create".into()),
            (12, "create".into()),
            (15, "ignored".into()),
            (16, "ignored".into()),
        ]
    );
    let row = &plan["rows"][0];
    assert_eq!(row["name"], "FAX_BACKEND_PROVIDER");
    assert_eq!(row["key"], "fax.backend.provider");
    assert_eq!(row["new"], "sip");
    assert_eq!(plan["rows"][5]["new"], json!(["pdf", "tiff"]));
    assert_eq!(plan["rows"][6]["key"], "branding.display_name");
    assert_eq!(
        (plan["created"].clone(), plan["applied"].clone()),
        (json!(7), json!(false))
    );
    assert_eq!(counts(&server).await, before, "a dry run writes nothing");

    // Applying needs the dry run's hash, and only that one.
    let (status, refused) = import(&admin, MEDICAL, body.clone(), false).await;
    assert_eq!(status, 422);
    assert_error(&refused, "invalid_input");
    assert!(message(&refused).starts_with("plan_hash:"), "{refused}");
    let mut wrong = body.clone();
    wrong["plan_hash"] = json!("0".repeat(64));
    let (status, refused) = import(&admin, MEDICAL, wrong, false).await;
    assert_eq!(status, 409);
    assert_error(&refused, "conflict");
    assert_eq!(counts(&server).await, before);

    // Each row says how many users it reaches: checked below against what applying does.
    let affected = plan["affected"].as_object().unwrap().clone();
    assert_eq!(affected.len(), 7, "{plan}");
    let (_, users) = admin.get("/users").await;
    let users: Vec<String> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    let mut before_values = Vec::new();
    for user in &users {
        let (_, effective) = admin.get(&format!("/effective?user={user}")).await;
        before_values.push(effective);
    }

    let mut apply = body.clone();
    apply["plan_hash"] = plan["plan_hash"].clone();
    let (status, applied) = import(&admin, MEDICAL, apply, false).await;
    assert_eq!(status, 200, "{applied}");
    assert_eq!(applied["applied"], true);
    assert_eq!(applied["rows"], plan["rows"]);
    for (key, predicted) in &affected {
        let mut changed = 0;
        for (user, before) in users.iter().zip(&before_values) {
            let (_, after) = admin.get(&format!("/effective?user={user}")).await;
            if after[key]["value"] != before[key]["value"] {
                changed += 1;
            }
        }
        assert_eq!(predicted, &json!(changed), "{key}");
    }
    assert!(affected.values().any(|n| n.as_u64().unwrap() > 0), "{plan}");

    let (_, entries) = admin.get(&format!("/entries?scope={MEDICAL}")).await;
    let value_of = |key: &str| {
        entries
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["key"] == key)
            .map(|e| e["value"].clone())
    };
    assert_eq!(value_of("fax.backend.provider"), Some(json!("sip")));
    assert_eq!(value_of("fax.retry_attempts"), Some(json!(5)));
    assert_eq!(value_of("fax.priority_processing"), Some(json!(true)));
    assert_eq!(
        value_of("fax.sip.trunk_host"),
        Some(json!("sip.mercy.example"))
    );
    assert_eq!(
        value_of("branding.display_name"),
        Some(json!("Mercy Medical"))
    );
    // The department's users get them at once.
    let (_, effective) = admin
        .get("/effective?tenant=mercy_hospital&department=medical")
        .await;
    assert_eq!(effective["fax.backend.provider"]["value"], "sip");
    assert_eq!(effective["fax.backend.provider"]["level"], "department");
    assert_eq!(effective["fax.retry_attempts"]["value"], 5);
    assert_eq!(effective["notifications.urgency"]["value"], "high");

    // One batch: an event per entry and the import's own, all with one batch id and the reason.
    let (_, audit) = admin.get("/audit?limit=8").await;
    let events = audit["events"].as_array().unwrap();
    assert_eq!(events[0]["action"], "import.env");
    assert_eq!(events[0]["scope"], "mercy_hospital/medical");
    let batch = events[0]["batch_id"].clone();
    assert!(batch.is_string(), "{}", events[0]);
    for event in &events[1..8] {
        assert_eq!(event["action"], "entry.set");
        assert_eq!(event["batch_id"], batch);
        assert_eq!(event["reason"], "moving off the fax server");
    }
    let (entries_after, events_after, keys_after) = counts(&server).await;
    assert_eq!(
        (entries_after, events_after, keys_after),
        (before.0 + 7, before.1 + 8, before.2)
    );

    // The same file again: nothing left to do.
    let (status, again) = import(&admin, MEDICAL, body, true).await;
    assert_eq!(status, 200);
    assert_eq!(again["unchanged"], 7);
    assert_eq!(again["created"], 0);
}

#[tokio::test]
async fn rows_in_error_write_nothing_and_say_which_line() {
    let server = start(&["mercy_admin"]).await;
    let admin = server.client_as("mercy_admin").await;
    let text = "FAX_RETRY_ATTEMPTS=many\nNO_SUCH_SETTING=1\nCOMPLIANCE_HIPAA_ENABLED=false\nbroken line\nFAX_BACKEND_PROVIDER=sip\n";
    let before = counts(&server).await;
    let (status, plan) = import(&admin, MEDICAL, json!({"text": text}), true).await;
    assert_eq!(status, 422, "{plan}");
    assert_error(&plan, "invalid_input");
    assert_eq!(
        statuses(&plan),
        vec![
            (1, "invalid".into()),
            (2, "unknown_key".into()),
            (3, "level_not_allowed".into()),
            (4, "parse_error".into()),
            (5, "create".into()),
        ]
    );
    assert_eq!(
        plan["rows"][0]["message"],
        "fax.retry_attempts: expected integer, got \"many\""
    );
    let paths: Vec<&str> = plan["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, vec!["line 1", "line 2", "line 3", "line 4"]);
    // Even with the plan's own hash, a plan in error is not applied.
    let (status, _) = import(
        &admin,
        MEDICAL,
        json!({"text": text, "plan_hash": plan["plan_hash"]}),
        false,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(counts(&server).await, before);
}

#[tokio::test]
async fn a_plan_that_moved_since_its_dry_run_is_refused_whole() {
    let server = start(&["mercy_admin"]).await;
    let admin = server.client_as("mercy_admin").await;
    let body = json!({"text": "FAX_BACKEND_PROVIDER=sip\nFAX_RETRY_ATTEMPTS=4\n"});
    let (status, plan) = import(&admin, MEDICAL, body.clone(), true).await;
    assert_eq!(status, 200, "{plan}");
    // Another admin sets one of the keys meanwhile.
    let (status, _) = admin
        .put(
            &format!("/entries/fax.retry_attempts?scope={MEDICAL}"),
            json!({"value": 2}),
        )
        .await;
    assert_eq!(status, 200);
    let before = counts(&server).await;
    let mut apply = body;
    apply["plan_hash"] = plan["plan_hash"].clone();
    let (status, refused) = import(&admin, MEDICAL, apply, false).await;
    assert_eq!(status, 409, "{refused}");
    assert_error(&refused, "conflict");
    assert_eq!(
        counts(&server).await,
        before,
        "nothing of the plan was written"
    );
}

#[tokio::test]
async fn a_value_under_a_lock_is_reported_and_an_update_shows_old_and_new() {
    let server = start(&["mercy_admin"]).await;
    let admin = server.client_as("mercy_admin").await;
    // uploads.max_size_mb is 50 in medical and locked at 20 by the tenant.
    let (status, plan) = import(
        &admin,
        MEDICAL,
        json!({"text": "UPLOADS_MAX_SIZE_MB=60\nFAX_COVER_PAGE_ENABLED=false\n"}),
        true,
    )
    .await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(
        statuses(&plan),
        vec![(1, "locked_above".into()), (2, "unchanged".into())]
    );
    assert_eq!(plan["rows"][0]["old"], 50);
    assert_eq!(plan["rows"][0]["new"], 60);
    assert_eq!(
        plan["rows"][0]["message"],
        "locked at tenant:mercy_hospital: stored here, but without effect while that lock holds"
    );
}

#[tokio::test]
async fn secrets_stay_masked_in_rows_answers_and_the_audit() {
    let server = start(&["mercy_admin"]).await;
    let admin = server.client_as("mercy_admin").await;
    let body = json!({"text": "PROVIDERS_PHAXIO_API_KEY=phx_live_new_secret_0042\n"});
    let (status, plan) = import(&admin, "tenant:mercy_hospital", body.clone(), true).await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(plan["rows"][0]["status"], "update");
    assert_eq!(plan["rows"][0]["old"], "••••••");
    assert_eq!(plan["rows"][0]["new"], "••••••");
    assert!(!plan.to_string().contains("phx_live"), "{plan}");
    let mut apply = body;
    apply["plan_hash"] = plan["plan_hash"].clone();
    let (status, applied) = import(&admin, "tenant:mercy_hospital", apply, false).await;
    assert_eq!(status, 200);
    assert!(!applied.to_string().contains("phx_live"));
    let (_, audit) = admin.get("/audit?limit=5").await;
    assert!(!audit.to_string().contains("phx_live"), "{audit}");
    // Stored encrypted, readable by whoever may reveal it.
    let (_, revealed) = admin.get("/effective?user=mercy_admin&reveal=true").await;
    assert_eq!(
        revealed["providers.phaxio.api_key"]["value"],
        "phx_live_new_secret_0042"
    );
}

#[tokio::test]
async fn only_admins_who_may_write_the_scope_import_and_only_super_admins_create_keys() {
    let server = start(&[
        "root",
        "mercy_admin",
        "mercy_viewer",
        "medical_head",
        "general_admin",
    ])
    .await;
    let text = json!({"text": "FAX_BACKEND_PROVIDER=sip\n"});
    let head = server.client_as("medical_head").await;
    let other = server.client_as("general_admin").await;
    let viewer = server.client_as("mercy_viewer").await;
    let admin = server.client_as("mercy_admin").await;
    let root = server.client_as("root").await;
    // After the sign-ins, which are audited.
    let before = counts(&server).await;

    let (status, _) = import(&head, MEDICAL, text.clone(), true).await;
    assert_eq!(
        status, 200,
        "a department admin imports into their department"
    );
    let (status, body) = import(
        &head,
        "department:mercy_hospital/marketing",
        text.clone(),
        true,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = import(&head, "tenant:mercy_hospital", text.clone(), true).await;
    assert_eq!(status, 403, "{body}");

    let (status, body) = import(&other, MEDICAL, text.clone(), true).await;
    assert_eq!(
        status, 404,
        "another tenant's scope does not exist for them: {body}"
    );
    assert_error(&body, "not_found");

    let (status, body) = import(&viewer, "tenant:mercy_hospital", text.clone(), true).await;
    assert_eq!(status, 403, "{body}");

    let anonymous = server.anonymous();
    let (status, _) = import(&anonymous, MEDICAL, text, true).await;
    assert_eq!(status, 401);

    let creating = json!({"text": "LEGACY_RETRIES=3\n", "mapping": {"create_keys": true}});
    let (status, body) = import(&admin, "tenant:mercy_hospital", creating.clone(), true).await;
    assert_eq!(status, 403, "{body}");
    assert!(message(&body).starts_with("mapping.create_keys:"), "{body}");
    assert_eq!(
        counts(&server).await,
        before,
        "refusals write nothing, audit included"
    );

    // A super admin may: the key is made from the value and the entry set, in one batch.
    let (status, plan) = import(&root, "global", creating.clone(), true).await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(
        plan["rows"][0]["message"],
        "creates the key legacy.retries (integer)"
    );
    let mut apply = creating;
    apply["plan_hash"] = plan["plan_hash"].clone();
    let (status, _) = import(&root, "global", apply, false).await;
    assert_eq!(status, 200);
    let (_, keys) = root.get("/keys").await;
    let created = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key"] == "legacy.retries")
        .cloned()
        .expect("the key was created");
    assert_eq!(created["type"], "integer");
    let (_, effective) = root.get("/effective?tenant=general_hospital").await;
    assert_eq!(effective["legacy.retries"]["value"], 3);
}

#[tokio::test]
async fn bad_requests_name_the_field() {
    let server = start(&["mercy_admin"]).await;
    let admin = server.client_as("mercy_admin").await;
    let (status, body) = admin.post("/import/env", json!({"text": "A=1"})).await;
    assert_eq!(status, 422);
    assert!(message(&body).starts_with("scope:"), "{body}");
    let (status, body) = import(
        &admin,
        MEDICAL,
        json!({"text": "A=1", "mapping": {"map": {"A": "Not A Key"}}}),
        true,
    )
    .await;
    assert_eq!(status, 422);
    assert!(message(&body).starts_with("mapping.map.A:"), "{body}");
    let (status, body) = import(&admin, MEDICAL, json!({"text": "A=1", "extra": 1}), true).await;
    assert_eq!(status, 422, "{body}");
}
