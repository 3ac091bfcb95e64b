//! Change requests and the approval policy over real HTTP (API.md "Change requests and
//! impact", DESIGN §5): where the policy asks for review no entry point writes directly; a
//! request goes through review by someone else who may write all of it; an edit clears its
//! approvals; applying writes everything as one audited batch or reports the entry that moved;
//! refusals write nothing.

#[path = "support/server.rs"]
mod support;

use serde_json::{Value, json};
use support::{Client, TestServer, assert_error, message, start};

const COVER: &str = "fax.cover_page.enabled";
const MEDICAL: &str = "department:mercy_hospital/medical";

fn cover_page(value: bool) -> Value {
    json!({"title": "Cover pages for medical", "reason": "fax recipients asked",
        "ops": [{"op": "set", "scope": MEDICAL, "key": COVER, "value": value}]})
}

async fn department_rule(root: &Client) {
    let (status, body) = root
        .put(
            "/approval-policy",
            json!({"rules": [{"level": "department", "approvals": 1}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

async fn act(client: &Client, id: i64, action: &str) -> (reqwest::StatusCode, Value) {
    client
        .post(&format!("/changes/{id}/{action}"), json!({}))
        .await
}

async fn entry(client: &Client, key: &str, scope: &str) -> Value {
    let (status, body) = client.get(&format!("/entries?scope={scope}")).await;
    assert_eq!(status, 200, "{body}");
    body.as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"] == key)
        .cloned()
        .unwrap_or(Value::Null)
}

/// What the tables of change requests hold, to show a refusal wrote nothing.
async fn counts(server: &TestServer) -> [i64; 4] {
    [
        server.count("change_requests").await,
        server.count("change_reviews").await,
        server.count("audit_events").await,
        server.count("entries").await,
    ]
}

#[tokio::test]
async fn a_change_that_needs_approval_applies_only_after_review_by_someone_else() {
    let server = start(&[
        "root",
        "medical_head",
        "mercy_admin",
        "mercy_viewer",
        "general_admin",
        "dr_grey",
    ])
    .await;
    let root = server.client_as("root").await;
    let head = server.client_as("medical_head").await;
    let admin = server.client_as("mercy_admin").await;
    let viewer = server.client_as("mercy_viewer").await;
    let other_tenant = server.client_as("general_admin").await;
    let grey = server.client_as("dr_grey").await;

    let before = counts(&server).await;
    department_rule(&root).await;
    let (_, policy) = head.get("/approval-policy").await;
    assert_eq!(policy["rules"][0]["approvals"], 1, "{policy}");
    assert_eq!(server.count("audit_events").await, before[2] + 1);

    // A direct write at the department level is refused, whichever verb, and writes nothing.
    let before = counts(&server).await;
    let (status, body) = head
        .put(
            &format!("/entries/{COVER}?scope={MEDICAL}"),
            json!({"value": true}),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert_error(&body, "approval_required");
    assert!(message(&body).contains("change request"), "{body}");
    let (status, body) = head
        .delete(&format!("/entries/uploads.max_size_mb?scope={MEDICAL}"))
        .await;
    assert_eq!(status, 403, "{body}");
    assert_error(&body, "approval_required");
    assert_eq!(counts(&server).await, before);
    // The tenant level is not covered by the rule: the tenant admin still writes directly.
    let (status, body) = admin
        .put(
            "/entries/branding.color?scope=tenant:mercy_hospital",
            json!({"value": "#112233"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // The department admin proposes the change instead; the draft shows whom it affects.
    let (status, draft) = head.post("/changes", cover_page(true)).await;
    assert_eq!(status, 201, "{draft}");
    let id = draft["id"].as_i64().unwrap();
    assert_eq!(draft["state"], "draft");
    assert_eq!(draft["author"], "medical_head");
    assert_eq!(draft["required_approvals"], 1);
    assert!(
        draft["impact"]["users_affected"].as_u64().unwrap() > 0,
        "{draft}"
    );
    assert_eq!(draft["ops"][0]["value"], true);
    assert_eq!(draft["ops"][0]["based"], false);
    assert!(
        draft["actions"]
            .as_array()
            .unwrap()
            .contains(&json!("submit"))
    );
    assert_eq!(entry(&head, COVER, MEDICAL).await["value"], false);

    // Nobody reviews a draft; another tenant's admin does not even see it.
    let (status, body) = act(&admin, id, "approve").await;
    assert_eq!(status, 409, "{body}");
    let (status, body) = other_tenant.get(&format!("/changes/{id}")).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = act(&other_tenant, id, "approve").await;
    assert_eq!(status, 404, "{body}");
    let (_, list) = other_tenant.get("/changes").await;
    assert!(
        !list.as_array().unwrap().iter().any(|c| c["id"] == id),
        "{list}"
    );
    // An ordinary user of the department does not see it either.
    let (status, _) = grey.get(&format!("/changes/{id}")).await;
    assert_eq!(status, 404);

    let (status, submitted) = act(&head, id, "submit").await;
    assert_eq!(status, 200, "{submitted}");
    assert_eq!(submitted["state"], "in_review");
    assert_eq!(submitted["ops"][0]["based"], true);
    assert_eq!(submitted["ops"][0]["base"]["value"], false);
    assert_eq!(submitted["ops"][0]["moved"], false);

    // The author may not approve their own request, nor apply it unapproved; a read-only
    // tenant admin may not approve.
    let before = counts(&server).await;
    let (status, body) = act(&head, id, "approve").await;
    assert_eq!(status, 403, "{body}");
    assert!(message(&body).contains("your own"), "{body}");
    let (status, body) = act(&head, id, "apply").await;
    assert_eq!(status, 409, "{body}");
    assert!(message(&body).contains("needs 1 approval"), "{body}");
    let (status, body) = act(&viewer, id, "approve").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(counts(&server).await, before);

    let (_, waiting) = admin.get("/changes?state=in_review").await;
    assert!(
        waiting.as_array().unwrap().iter().any(|c| c["id"] == id),
        "{waiting}"
    );
    let (status, approved) = admin
        .post(
            &format!("/changes/{id}/approve"),
            json!({"comment": "fine by me"}),
        )
        .await;
    assert_eq!(status, 200, "{approved}");
    assert_eq!(approved["state"], "approved");
    assert_eq!(approved["approvals"][0]["by"], "mercy_admin");
    assert_eq!(approved["approvals"][0]["comment"], "fine by me");
    let (status, body) = act(&admin, id, "approve").await;
    assert_eq!(status, 403, "{body}");

    // An edit is a new proposal: the approval no longer counts.
    let mut edited = cover_page(true);
    edited["title"] = json!("Cover pages for medical, reworded");
    let (status, body) = head.put(&format!("/changes/{id}"), edited).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "in_review");
    assert_eq!(body["approvals"], json!([]));
    let (status, body) = act(&head, id, "apply").await;
    assert_eq!(status, 409, "{body}");
    let (status, body) = act(&admin, id, "approve").await;
    assert_eq!(status, 200, "{body}");

    let (status, applied) = act(&head, id, "apply").await;
    assert_eq!(status, 200, "{applied}");
    assert_eq!(applied["state"], "applied");
    assert!(applied.get("impact").is_none(), "{applied}");
    let written = entry(&head, COVER, MEDICAL).await;
    assert_eq!(written["value"], true, "{written}");
    assert_eq!(written["updated_by"], "medical_head");
    let (_, effective) = root.get("/effective?user=dr_grey").await;
    assert_eq!(effective[COVER]["value"], true, "{effective}");
    let (status, body) = act(&head, id, "cancel").await;
    assert_eq!(status, 409, "{body}");

    // The entry's event and every transition are audited as one batch, visible to the
    // tenant's admin.
    let (_, audit) = admin.get(&format!("/audit?key={COVER}")).await;
    let set = &audit["events"][0];
    assert_eq!(set["action"], "entry.set", "{audit}");
    assert_eq!(set["batch_id"], format!("change-{id}"));
    assert!(
        set["reason"].as_str().unwrap().contains("change request"),
        "{set}"
    );
    let (_, audit) = admin.get("/audit?limit=200").await;
    let mut actions: Vec<&str> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["batch_id"] == format!("change-{id}"))
        .map(|e| e["action"].as_str().unwrap())
        .filter(|a| a.starts_with("change."))
        .collect();
    actions.reverse();
    assert_eq!(
        actions,
        [
            "change.create",
            "change.submit",
            "change.approve",
            "change.edit",
            "change.approve",
            "change.apply"
        ],
        "{audit}"
    );
    let (_, audit) = other_tenant.get("/audit?limit=200").await;
    assert!(
        !audit["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"].as_str().unwrap().starts_with("change.")),
        "{audit}"
    );
}

#[tokio::test]
async fn applying_after_the_entry_moved_marks_the_request_conflicted() {
    let server = start(&["root", "medical_head", "mercy_admin"]).await;
    let root = server.client_as("root").await;
    let head = server.client_as("medical_head").await;
    let admin = server.client_as("mercy_admin").await;
    department_rule(&root).await;

    // Two requests on one entry, both approved.
    let (_, first) = head.post("/changes", cover_page(true)).await;
    let first = first["id"].as_i64().unwrap();
    let mut other = cover_page(false);
    other["ops"] = json!([
        {"op": "set", "scope": MEDICAL, "key": COVER, "value": true},
        {"op": "lock", "scope": MEDICAL, "key": "uploads.max_size_mb"}
    ]);
    let (status, second) = head.post("/changes", other).await;
    assert_eq!(status, 201, "{second}");
    let second = second["id"].as_i64().unwrap();
    for id in [first, second] {
        assert_eq!(act(&head, id, "submit").await.0, 200);
        assert_eq!(act(&admin, id, "approve").await.0, 200);
    }
    let (status, body) = act(&admin, second, "apply").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "applied");
    let moved = entry(&head, COVER, MEDICAL).await;
    assert_eq!(
        entry(&head, "uploads.max_size_mb", MEDICAL).await["locked"],
        true
    );

    // The first was made against the entry before: applying it writes nothing and shows base,
    // current and proposed.
    let entries = server.count("entries").await;
    let (status, conflicted) = act(&admin, first, "apply").await;
    assert_eq!(status, 200, "{conflicted}");
    assert_eq!(conflicted["state"], "conflicted");
    let op = &conflicted["ops"][0];
    assert_eq!(op["moved"], true, "{op}");
    assert_eq!(op["base"]["value"], false);
    assert_eq!(op["current"]["version"], moved["version"]);
    assert_eq!(op["value"], true);
    assert_eq!(entry(&head, COVER, MEDICAL).await, moved);
    assert_eq!(server.count("entries").await, entries);
    let (status, _) = act(&admin, first, "apply").await;
    assert_eq!(status, 409);

    // Submitted again against the entry as it is now, it is a new proposal: the approval it
    // had does not carry over.
    let (status, body) = act(&head, first, "submit").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "in_review");
    assert_eq!(body["approvals"], json!([]), "{body}");
    assert_eq!(body["ops"][0]["moved"], false);
    let (status, body) = act(&admin, first, "apply").await;
    assert_eq!(status, 409, "{body}");

    // Its author reworks it, and it goes through again.
    let (status, body) = head
        .put(&format!("/changes/{first}"), cover_page(false))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "in_review");
    assert_eq!(act(&admin, first, "approve").await.0, 200);
    let (status, body) = act(&admin, first, "apply").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "applied");
    assert_eq!(entry(&head, COVER, MEDICAL).await["value"], false);
}

#[tokio::test]
async fn sensitive_values_stay_masked_and_rules_can_name_a_tenant() {
    let server = start(&["root", "mercy_admin", "general_admin"]).await;
    let root = server.client_as("root").await;
    let admin = server.client_as("mercy_admin").await;
    let other_tenant = server.client_as("general_admin").await;
    let (status, body) = root
        .put(
            "/approval-policy",
            json!({"rules": [{"tenant": "mercy_hospital", "sensitive_only": true, "approvals": 1}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let key = "providers.phaxio.api_key";
    let (status, body) = admin
        .put(
            &format!("/entries/{key}?scope=tenant:mercy_hospital"),
            json!({"value": "phx_live_new_secret"}),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert_error(&body, "approval_required");
    // Not sensitive, or another tenant: written directly.
    let (status, body) = admin
        .put(
            "/entries/branding.color?scope=tenant:mercy_hospital",
            json!({"value": "#445566"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = other_tenant
        .put(
            &format!("/entries/{key}?scope=tenant:general_hospital"),
            json!({"value": "phx_live_general"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let (status, draft) = admin
        .post(
            "/changes",
            json!({"title": "Rotate the fax key", "ops": [
                {"op": "set", "scope": "tenant:mercy_hospital", "key": key, "value": "phx_live_new_secret"}
            ]}),
        )
        .await;
    assert_eq!(status, 201, "{draft}");
    let id = draft["id"].as_i64().unwrap();
    assert_eq!(act(&admin, id, "submit").await.0, 200);
    let (_, seen) = root.get(&format!("/changes/{id}")).await;
    assert_eq!(seen["ops"][0]["value"], app::domain::value::MASK, "{seen}");
    assert!(!seen.to_string().contains("phx_live"), "{seen}");
    let (status, body) = act(&root, id, "approve").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = act(&admin, id, "apply").await;
    assert_eq!(status, 200, "{body}");
    assert!(!body.to_string().contains("phx_live"), "{body}");
    let (status, revealed) = root
        .get("/effective?tenant=mercy_hospital&reveal=true")
        .await;
    assert_eq!(status, 200, "{revealed}");
    assert_eq!(revealed[key]["value"], "phx_live_new_secret", "{revealed}");
    let (_, audit) = root.get("/audit?limit=200").await;
    assert!(!audit.to_string().contains("phx_live"), "{audit}");
    // Another tenant's admin does not learn of a rule about this tenant.
    let (_, policy) = other_tenant.get("/approval-policy").await;
    assert_eq!(policy["rules"], json!([]), "{policy}");
    let (_, policy) = admin.get("/approval-policy").await;
    assert_eq!(policy["rules"][0]["tenant"], "mercy_hospital", "{policy}");
}

#[tokio::test]
async fn a_tenant_admin_reading_a_platform_wide_request_sees_its_reach_in_their_tenant_only() {
    let server = start(&["root", "mercy_admin", "general_admin"]).await;
    let root = server.client_as("root").await;
    let admin = server.client_as("mercy_admin").await;
    let (status, draft) = root
        .post(
            "/changes",
            json!({"title": "More fax retries", "ops": [
                {"op": "set", "scope": "global", "key": "fax.retry_attempts", "value": 9}
            ]}),
        )
        .await;
    assert_eq!(status, 201, "{draft}");
    let id = draft["id"].as_i64().unwrap();
    let everywhere = draft["impact"]["by_tenant"].as_object().unwrap().clone();
    assert!(everywhere.contains_key("general_hospital"), "{draft}");

    let (status, seen) = admin.get(&format!("/changes/{id}")).await;
    assert_eq!(status, 200, "{seen}");
    let by_tenant = seen["impact"]["by_tenant"].as_object().unwrap();
    assert_eq!(
        by_tenant.keys().collect::<Vec<_>>(),
        ["mercy_hospital"],
        "{seen}"
    );
    assert_eq!(
        seen["impact"]["users_affected"],
        everywhere["mercy_hospital"]
    );
    assert!(!seen.to_string().contains("general_hospital"), "{seen}");
    // Reading is not reviewing: a tenant admin may not approve a global change.
    assert!(
        !seen["actions"]
            .as_array()
            .unwrap()
            .contains(&json!("approve"))
    );
    let (status, body) = act(&admin, id, "approve").await;
    assert_eq!(status, 403, "{body}");
}

#[tokio::test]
async fn refused_requests_write_nothing() {
    let server = start(&["root", "medical_head", "mercy_admin", "general_admin"]).await;
    let root = server.client_as("root").await;
    let head = server.client_as("medical_head").await;
    let admin = server.client_as("mercy_admin").await;
    department_rule(&root).await;
    let (_, draft) = head.post("/changes", cover_page(true)).await;
    let id = draft["id"].as_i64().unwrap();
    let before = counts(&server).await;

    let mut untitled = cover_page(true);
    untitled["title"] = json!("  ");
    let (status, body) = head.post("/changes", untitled).await;
    assert_eq!(status, 422, "{body}");
    assert!(message(&body).starts_with("title:"), "{body}");
    let twice = json!({"title": "twice", "ops": [
        {"op": "set", "scope": MEDICAL, "key": COVER, "value": true},
        {"op": "unset", "scope": MEDICAL, "key": COVER}
    ]});
    let (status, body) = head.post("/changes", twice).await;
    assert_eq!(status, 422, "{body}");
    assert!(message(&body).starts_with("ops[1]:"), "{body}");
    let wrong_type = json!({"title": "t", "ops": [
        {"op": "set", "scope": MEDICAL, "key": COVER, "value": "yes"}
    ]});
    let (status, body) = head.post("/changes", wrong_type).await;
    assert_eq!(status, 422, "{body}");
    assert!(message(&body).starts_with("ops[0].value:"), "{body}");
    // Proposing is no way around the policy: only what the proposer may write.
    let above = json!({"title": "t", "ops": [
        {"op": "set", "scope": "tenant:mercy_hospital", "key": COVER, "value": true}
    ]});
    let (status, body) = head.post("/changes", above).await;
    assert_eq!(status, 403, "{body}");
    let elsewhere = json!({"title": "t", "ops": [
        {"op": "set", "scope": "department:general_hospital/cardiology", "key": COVER, "value": true}
    ]});
    let (status, body) = head.post("/changes", elsewhere).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = head.post(&format!("/changes/{id}/merge"), json!({})).await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = admin
        .post(&format!("/changes/{id}/comment"), json!({}))
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = admin
        .put(&format!("/changes/{id}"), cover_page(false))
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = act(&admin, id, "cancel").await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = head.post("/changes/999999/submit", json!({})).await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = server.anonymous().get(&format!("/changes/{id}")).await;
    assert_eq!(status, 401);

    // The policy is the super admins'; a bad rule names itself.
    let (status, body) = admin.put("/approval-policy", json!({"rules": []})).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = root
        .put("/approval-policy", json!({"rules": [{"approvals": 0}]}))
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(message(&body).starts_with("rules[0].approvals:"), "{body}");
    let (status, body) = root
        .put(
            "/approval-policy",
            json!({"rules": [{"tenant": "no_such_tenant", "approvals": 1}]}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(message(&body).starts_with("rules[0].tenant:"), "{body}");
    assert_eq!(counts(&server).await, before);

    // A comment is history, not a transition: the request stays a draft.
    let (status, body) = head
        .post(
            &format!("/changes/{id}/comment"),
            json!({"comment": "ready soon"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "draft");
    assert_eq!(body["history"][1]["comment"], "ready soon");
    let (status, body) = act(&head, id, "cancel").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "cancelled");
    let (status, _) = act(&head, id, "submit").await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn a_rejected_request_ends_there() {
    let server = start(&["root", "medical_head", "mercy_admin"]).await;
    let root = server.client_as("root").await;
    let head = server.client_as("medical_head").await;
    let admin = server.client_as("mercy_admin").await;
    department_rule(&root).await;
    let (_, draft) = head.post("/changes", cover_page(true)).await;
    let id = draft["id"].as_i64().unwrap();
    assert_eq!(act(&head, id, "submit").await.0, 200);
    let (status, body) = head
        .post(&format!("/changes/{id}/reject"), json!({"comment": "mine"}))
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, rejected) = admin
        .post(
            &format!("/changes/{id}/reject"),
            json!({"comment": "not this quarter"}),
        )
        .await;
    assert_eq!(status, 200, "{rejected}");
    assert_eq!(rejected["state"], "rejected");
    assert_eq!(rejected["actions"], json!(["comment"]), "{rejected}");
    let entries = server.count("entries").await;
    for action in ["apply", "approve", "submit", "cancel"] {
        let (status, body) = act(&admin, id, action).await;
        assert!(status == 409 || status == 403, "{action}: {status} {body}");
    }
    let (status, body) = head.put(&format!("/changes/{id}"), cover_page(false)).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(server.count("entries").await, entries);
    assert_eq!(entry(&head, COVER, MEDICAL).await["value"], false);
    // The discussion may go on.
    let (status, body) = head
        .post(
            &format!("/changes/{id}/comment"),
            json!({"comment": "next quarter then"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "rejected");
}

/// `template` as `root` reads it, as the body of a `PUT` that changes its first entry's value.
async fn template_edit(root: &Client, template: &str, value: Value) -> Value {
    let (status, view) = root.get(&format!("/templates/{template}")).await;
    assert_eq!(status, 200, "{view}");
    let mut doc = json!({});
    for field in [
        "name",
        "description",
        "target_level",
        "entries",
        "departments",
        "groups",
    ] {
        if !view[field].is_null() {
            doc[field] = view[field].clone();
        }
    }
    doc["entries"][0]["value"] = value;
    doc
}

/// What a refused template, directory or import write must leave as it was.
async fn footprint(server: &TestServer) -> [i64; 4] {
    [
        server.count("template_entries").await,
        server.count("audit_events").await,
        server.count("entries").await,
        server.count("tenants").await,
    ]
}

#[tokio::test]
async fn template_edits_template_switches_and_imports_are_held_by_the_policy_too() {
    let server = start(&["root"]).await;
    let root = server.client_as("root").await;
    let (status, body) = root
        .put(
            "/approval-policy",
            json!({"rules": [{"level": "tenant", "tenant": "mercy_hospital", "approvals": 1}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // A template only general_hospital follows lands outside the rule.
    let edit = template_edit(&root, "healthcare", json!(false)).await;
    let (status, body) = root.put("/templates/healthcare", edit).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["version"], 2);

    // mercy_hospital follows enterprise: editing it would change mercy's tenant level.
    let before = footprint(&server).await;
    let edit = template_edit(&root, "enterprise", json!(false)).await;
    let (status, body) = root.put("/templates/enterprise", edit).await;
    assert_eq!(status, 403, "{body}");
    assert_error(&body, "approval_required");
    assert!(message(&body).contains("tenant mercy_hospital"), "{body}");
    assert!(message(&body).contains("template"), "{body}");
    let (_, enterprise) = root.get("/templates/enterprise").await;
    assert_eq!(enterprise["version"], 1, "{enterprise}");
    assert_eq!(enterprise["entries"][0]["value"], true, "{enterprise}");
    assert_eq!(footprint(&server).await, before);

    // Following another template brings and takes away entries at mercy's tenant level.
    let (status, body) = root
        .patch("/tenants/mercy_hospital", json!({"template": "business"}))
        .await;
    assert_eq!(status, 403, "{body}");
    assert_error(&body, "approval_required");
    let (_, mercy) = root.get("/tenants/mercy_hospital").await;
    assert_eq!(mercy["template"], "enterprise", "{mercy}");
    assert_eq!(footprint(&server).await, before);
    // general_hospital is not covered: it may switch, and business is then edited freely.
    let (status, body) = root
        .patch("/tenants/general_hospital", json!({"template": "business"}))
        .await;
    assert_eq!(status, 200, "{body}");
    let edit = template_edit(&root, "business", json!(true)).await;
    let (status, body) = root.put("/templates/business", edit).await;
    assert_eq!(status, 200, "{body}");

    // An import is a direct write of its entries: one the rule covers refuses the whole
    // document, a dry run included, and writes nothing.
    let import = |tenant: &str, level: &str, value: &str| {
        let mut entry =
            json!({"level": level, "tenant": tenant, "key": "ui.theme", "value": value});
        if level == "department" {
            entry["department"] = json!("medical");
        }
        json!({"format": "strata/v1", "entries": [
            {"level": "tenant", "tenant": "general_hospital", "key": "ui.theme", "value": "dark"},
            entry
        ]})
    };
    let before = footprint(&server).await;
    for path in ["/import", "/import?dry_run=true"] {
        let (status, body) = root
            .post(path, import("mercy_hospital", "tenant", "dark"))
            .await;
        assert_eq!(status, 403, "{path}: {body}");
        assert_error(&body, "approval_required");
        assert!(message(&body).contains("change request"), "{body}");
    }
    assert_eq!(footprint(&server).await, before);
    assert_ne!(
        entry(&root, "ui.theme", "tenant:mercy_hospital").await["value"],
        "dark"
    );
    // Mercy's department level is not the rule's.
    let (status, report) = root
        .post("/import", import("mercy_hospital", "department", "dark"))
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        report["created"].as_u64().unwrap() + report["updated"].as_u64().unwrap(),
        2
    );
    assert_eq!(
        entry(&root, "ui.theme", "department:mercy_hospital/medical").await["value"],
        "dark"
    );
}
