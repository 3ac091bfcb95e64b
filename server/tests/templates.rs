//! Templates over real HTTP (API.md "Templates", DESIGN §2 rule 5): a template's entries sit
//! just before the following scope's own, an edit reaches every follower's users at once, drift
//! shows what followers override, a tenant created from a template gets its skeleton, and
//! refusals write nothing.

#[path = "support/server.rs"]
mod support;

use serde_json::{Value, json};
use support::{Client, TestServer, assert_error, message, start};

/// Rows that a refused request must leave as they were.
async fn footprint(server: &TestServer) -> (i64, i64, i64, i64) {
    (
        server.count("templates").await,
        server.count("template_entries").await,
        server.count("audit_events").await,
        server.count("tenants").await,
    )
}

async fn effective(client: &Client, user: &str) -> Value {
    let (status, body) = client.get(&format!("/effective?user={user}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn clinic() -> Value {
    json!({
        "name": "clinic",
        "description": "Outpatient clinics",
        "target_level": "tenant",
        "entries": [
            {"key": "fax.retry_attempts", "value": 7},
            {"key": "features.video_visits.enabled", "value": true, "locked": true}
        ],
        "departments": [{"id": "front", "name": "Front desk"}],
        "groups": [{"id": "night", "name": "Night shift", "priority": 5}]
    })
}

#[tokio::test]
async fn a_template_edit_reaches_every_user_of_the_scopes_that_follow_it() {
    let server = start(&["root", "mercy_admin"]).await;
    let root = server.client_as("root").await;
    let mercy_admin = server.client_as("mercy_admin").await;

    let (status, created) = root.post("/templates", clinic()).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["version"], 1);
    assert_eq!(created["followers"], 0);
    assert_eq!(created["entries"][0]["key"], "fax.retry_attempts");
    let event_count = server.count("audit_events").await;

    // Mercy follows it: its users get the template's values, labelled with the template.
    let (status, body) = root
        .patch("/tenants/mercy_hospital", json!({"template": "clinic"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["template"], "clinic");
    assert!(server.count("audit_events").await > event_count);
    let values = effective(&mercy_admin, "nurse_joy").await;
    assert_eq!(
        values["fax.retry_attempts"],
        json!({"value": 7, "level": "tenant", "scope": "mercy_hospital", "template": "clinic"})
    );
    assert_eq!(values["features.video_visits.enabled"]["value"], true);
    // Another tenant's users are untouched.
    let general = effective(&root, "dr_patel").await;
    assert_ne!(general["fax.retry_attempts"]["value"], 7);
    assert!(general["fax.retry_attempts"].get("template").is_none());

    // The chain shows the template's candidate just before the tenant's own.
    let (status, chain) = mercy_admin
        .get("/chain/fax.retry_attempts?user=nurse_joy")
        .await;
    assert_eq!(status, 200, "{chain}");
    let steps: Vec<(Value, Value, Value)> = chain
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["level"].clone(),
                c["template"].clone(),
                c["state"].clone(),
            )
        })
        .collect();
    assert!(
        steps.contains(&(json!("tenant"), json!("clinic"), json!("applied"))),
        "{chain}"
    );

    // Editing the template changes the followers' users at once.
    let mut edited = clinic();
    edited["entries"][0]["value"] = json!(9);
    let (status, body) = root.put("/templates/clinic", edited).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["version"], 2);
    assert_eq!(body["followers"], 1);
    let values = effective(&mercy_admin, "nurse_joy").await;
    assert_eq!(values["fax.retry_attempts"]["value"], 9);

    // The tenant's own entry overrides the template: that is its drift.
    let (status, body) = mercy_admin
        .put(
            "/entries/fax.retry_attempts?scope=tenant:mercy_hospital",
            json!({"value": 2}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let values = effective(&mercy_admin, "nurse_joy").await;
    assert_eq!(
        values["fax.retry_attempts"],
        json!({"value": 2, "level": "tenant", "scope": "mercy_hospital"})
    );
    let (status, drift) = root.get("/templates/clinic/drift").await;
    assert_eq!(status, 200, "{drift}");
    assert_eq!(
        drift,
        json!([{"scope": "tenant:mercy_hospital", "overridden": [
            {"key": "fax.retry_attempts", "template_value": 9, "value": 2}
        ]}])
    );

    // A locked template entry wins over the tenant's own entry.
    let (status, body) = mercy_admin
        .put(
            "/entries/features.video_visits.enabled?scope=tenant:mercy_hospital",
            json!({"value": false}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let values = effective(&mercy_admin, "nurse_joy").await;
    assert_eq!(values["features.video_visits.enabled"]["value"], true);
    assert_eq!(
        values["features.video_visits.enabled"]["template"],
        "clinic"
    );

    // The export carries the template and the follow; importing it again changes nothing.
    let (status, doc) = root.get("/export").await;
    assert_eq!(status, 200, "{doc}");
    let exported = doc["templates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "clinic")
        .cloned()
        .unwrap();
    assert_eq!(exported["entries"][0]["value"], 9);
    let mercy = doc["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "mercy_hospital")
        .cloned()
        .unwrap();
    assert_eq!(mercy["template"], "clinic");
    let before = footprint(&server).await;
    let (status, report) = root.post("/import", doc).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        (report["created"].clone(), report["updated"].clone()),
        (json!(0), json!(0)),
        "{report}"
    );
    assert_eq!(footprint(&server).await, before);

    // A followed template cannot be deleted; once nothing follows it, it can.
    let (status, body) = root.delete("/templates/clinic").await;
    assert_eq!(status, 409, "{body}");
    assert!(message(&body).contains("followed by 1"), "{body}");
    let (status, body) = root
        .patch("/tenants/mercy_hospital", json!({"template": null}))
        .await;
    assert_eq!(status, 200, "{body}");
    let values = effective(&mercy_admin, "nurse_joy").await;
    assert_eq!(values["features.video_visits.enabled"]["value"], false);
    let (status, body) = root.delete("/templates/clinic").await;
    assert_eq!(status, 204, "{body}");
    let (status, _) = root.get("/templates/clinic").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_tenant_created_from_a_template_gets_its_skeleton_and_values() {
    let server = start(&["root"]).await;
    let root = server.client_as("root").await;
    let (status, body) = root.post("/templates", clinic()).await;
    assert_eq!(status, 201, "{body}");

    let (status, tenant) = root
        .post(
            "/tenants",
            json!({"id": "north_clinic", "name": "North Clinic", "template": "clinic"}),
        )
        .await;
    assert_eq!(status, 201, "{tenant}");
    assert_eq!(tenant["template"], "clinic");
    assert_eq!(
        tenant["departments"],
        json!([{"id": "front", "name": "Front desk"}])
    );
    assert_eq!(
        tenant["groups"],
        json!([{"id": "night", "name": "Night shift", "priority": 5}])
    );
    let (status, body) = root
        .post(
            "/users",
            json!({"id": "nick", "name": "Nick", "tenant": "north_clinic",
                "department": "front", "groups": ["night"]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let values = effective(&root, "nick").await;
    assert_eq!(values["fax.retry_attempts"]["value"], 7);
    assert_eq!(values["fax.retry_attempts"]["template"], "clinic");
}

#[tokio::test]
async fn refused_and_invalid_template_changes_write_nothing() {
    let server = start(&["root", "mercy_admin", "platform_auditor"]).await;
    let root = server.client_as("root").await;
    let mercy_admin = server.client_as("mercy_admin").await;
    let auditor = server.client_as("platform_auditor").await;
    let before = footprint(&server).await;

    let (status, body) = mercy_admin.post("/templates", clinic()).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = auditor.post("/templates", clinic()).await;
    assert_eq!(status, 403, "no config_write: {body}");
    let (status, body) = server.anonymous().post("/templates", clinic()).await;
    assert_eq!(status, 401, "{body}");

    let mut bad = clinic();
    bad["entries"][0]["value"] = json!(99);
    let (status, body) = root.post("/templates", bad).await;
    assert_eq!(status, 422, "{body}");
    assert_error(&body, "invalid_input");
    assert!(message(&body).contains("entries[0].value"), "{body}");

    let mut bad = clinic();
    bad["target_level"] = json!("user");
    let (status, body) = root.post("/templates", bad).await;
    assert_eq!(status, 422, "{body}");
    assert!(message(&body).contains("target_level"), "{body}");

    // A department template cannot carry a skeleton, nor keys the level does not allow.
    let (status, body) = root
        .post(
            "/templates",
            json!({"name": "dept", "target_level": "department",
                "entries": [{"key": "compliance.hipaa.enabled", "value": true}]}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(message(&body).contains("department level"), "{body}");

    // A scope follows a template of its own level only, and an existing one.
    let (status, body) = root
        .patch("/tenants/mercy_hospital", json!({"template": "nope"}))
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        message(&body).contains("template nope does not exist"),
        "{body}"
    );
    assert_eq!(footprint(&server).await, before);

    let (status, body) = root.post("/templates", clinic()).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = root.post("/templates", clinic()).await;
    assert_eq!(status, 409, "{body}");
    let (status, body) = mercy_admin
        .patch(
            "/tenants/mercy_hospital/departments/medical",
            json!({"template": "clinic"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(message(&body).contains("tenant template"), "{body}");
    // Another tenant's admin reads templates but sees no drift of scopes they cannot read.
    let (status, body) = root
        .patch("/tenants/general_hospital", json!({"template": "clinic"}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = root
        .put(
            "/entries/fax.retry_attempts?scope=tenant:general_hospital",
            json!({"value": 1}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, drift) = mercy_admin.get("/templates/clinic/drift").await;
    assert_eq!(status, 200, "{drift}");
    assert_eq!(drift, json!([]));
    let (status, drift) = root.get("/templates/clinic/drift").await;
    assert_eq!(status, 200, "{drift}");
    assert_eq!(drift[0]["scope"], "tenant:general_hospital");
}
