//! The managing half of the HTTP API over real HTTP: key registry, directory, audit revert,
//! import/export and the OpenAPI document. Every refusal is checked to write nothing.

#[path = "support/server.rs"]
mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{TestServer, assert_error, message, start};

const USERS: &[&str] = &[
    "root",
    "platform_auditor",
    "mercy_admin",
    "mercy_viewer",
    "medical_head",
    "general_admin",
    "dr_house",
];

/// Entries and audit events, to show a refusal changed nothing.
async fn footprint(server: &TestServer) -> (i64, i64, i64, i64) {
    (
        server.count("entries").await,
        server.count("audit_events").await,
        server.count("users").await,
        server.count("config_keys").await,
    )
}

async fn last_event(server: &TestServer, action: &str) -> Value {
    let root = server.client_as("root").await;
    let (status, body) = root.get(&format!("/audit?action={action}&limit=1")).await;
    assert_eq!(status, 200, "{body}");
    body["events"][0].clone()
}

#[tokio::test]
async fn keys_are_defined_changed_and_deleted_by_super_admins() {
    let server = start(USERS).await;
    let root = server.client_as("root").await;
    let mercy_admin = server.client_as("mercy_admin").await;

    let definition = json!({"type": "integer", "min": 1, "max": 10, "default": 3,
        "description": "Parallel jobs", "category": "Jobs"});
    let before = footprint(&server).await;
    let (status, body) = mercy_admin
        .put("/keys/jobs.parallel", definition.clone())
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(message(&body).contains("super admins"), "{body}");
    let (status, body) = root
        .put(
            "/keys/jobs.parallel",
            json!({"type": "integer", "colour": "red"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(message(&body).contains("colour"), "{body}");
    let (status, body) = root
        .put(
            "/keys/jobs.parallel",
            json!({"type": "integer", "default": "many"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(message(&body).contains("default"), "{body}");
    let (status, body) = root
        .put(
            "/keys/jobs.parallel",
            json!({"key": "jobs.other", "type": "integer"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(footprint(&server).await, before, "refusals write nothing");

    let (status, body) = root.put("/keys/jobs.parallel", definition.clone()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["key"], "jobs.parallel");
    assert_eq!(body["max"], 10);
    let (status, body) = root.put("/keys/jobs.parallel", definition.clone()).await;
    assert_eq!(status, 200, "the same definition again: {body}");
    assert_eq!(
        last_event(&server, "key.create").await["key"],
        "jobs.parallel"
    );

    // An entry of 8, then a definition it would no longer fit.
    let (status, body) = root
        .put(
            "/entries/jobs.parallel?scope=tenant:mercy_hospital",
            json!({"value": 8}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let before = footprint(&server).await;
    let (status, body) = root
        .put(
            "/keys/jobs.parallel",
            json!({"type": "integer", "min": 1, "max": 5, "default": 3}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(message(&body).contains("tenant:mercy_hospital"), "{body}");
    assert_eq!(footprint(&server).await, before);
    let (status, body) = root
        .put(
            "/keys/jobs.parallel",
            json!({"type": "integer", "min": 1, "max": 20, "default": 3, "category": "Jobs"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["max"], 20);
    let (_, keys) = mercy_admin.get("/keys").await;
    let listed = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key"] == "jobs.parallel")
        .cloned()
        .unwrap();
    assert_eq!(listed["max"], 20, "everyone reads the registry");

    // A sensitive default is never shown.
    let (status, body) = root
        .put(
            "/keys/jobs.api_token",
            json!({"type": "string", "default": "default-token-value"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["sensitive"], true);
    assert_eq!(body["default"], "••••••");

    // Deleting removes the key and its entries, each audited.
    let (status, body) = mercy_admin.delete("/keys/jobs.parallel").await;
    assert_eq!(status, 403, "{body}");
    let entries = server.count("entries").await;
    let (status, body) = root.delete("/keys/jobs.parallel?reason=retired").await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(server.count("entries").await, entries - 1);
    let deleted = last_event(&server, "key.delete").await;
    assert_eq!(deleted["key"], "jobs.parallel");
    assert_eq!(deleted["reason"], "retired");
    let unset = last_event(&server, "entry.unset").await;
    assert_eq!(unset["key"], "jobs.parallel");
    assert_eq!(unset["batch_id"], deleted["batch_id"]);
    let (status, body) = root.delete("/keys/jobs.parallel").await;
    assert_eq!(status, 404, "{body}");
    assert_error(&body, "not_found");
    let (status, _) = root.get("/effective?user=dr_house").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn tenants_departments_and_groups() {
    let server = start(USERS).await;
    let root = server.client_as("root").await;
    let mercy_admin = server.client_as("mercy_admin").await;
    let medical_head = server.client_as("medical_head").await;
    let general_admin = server.client_as("general_admin").await;
    let auditor = server.client_as("platform_auditor").await;

    // Lists show what the caller may read.
    let (status, tenants) = root.get("/tenants").await;
    assert_eq!(status, 200);
    assert_eq!(tenants.as_array().unwrap().len(), 2);
    let (_, tenants) = mercy_admin.get("/tenants").await;
    assert_eq!(tenants.as_array().unwrap().len(), 1);
    assert_eq!(tenants[0]["id"], "mercy_hospital");
    assert_eq!(tenants[0]["departments"].as_array().unwrap().len(), 3);
    let (_, departments) = medical_head
        .get("/tenants/mercy_hospital/departments")
        .await;
    assert_eq!(departments, json!([{"id": "medical", "name": "Medical"}]));
    let (status, body) = mercy_admin.get("/tenants/general_hospital").await;
    assert_eq!(
        status, 404,
        "another tenant does not exist for them: {body}"
    );
    let (status, _) = mercy_admin.get("/tenants/general_hospital/groups").await;
    assert_eq!(status, 404);

    // Tenants belong to super admins with config_write.
    let before = footprint(&server).await;
    let new_tenant = json!({"id": "north_clinic", "name": "North Clinic", "plan": "basic",
        "departments": [{"id": "front", "name": "Front desk"}],
        "groups": [{"id": "night", "name": "Night shift", "priority": 5}]});
    let (status, body) = mercy_admin.post("/tenants", new_tenant.clone()).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = auditor.post("/tenants", new_tenant.clone()).await;
    assert_eq!(status, 403, "no config_write: {body}");
    let (status, body) = root
        .post("/tenants", json!({"id": "Bad Id", "name": "x"}))
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(message(&body).contains("id"), "{body}");
    let (status, body) = root
        .post(
            "/tenants",
            json!({"id": "north_clinic", "name": "North", "groups": [{"id": "g", "name": "G", "priority": "high"}]}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(message(&body).contains("priority"), "{body}");
    assert_eq!(footprint(&server).await, before);
    assert_eq!(server.count("tenants").await, 2);

    let (status, body) = root.post("/tenants", new_tenant.clone()).await;
    assert_eq!(status, 201, "{body}");
    // The plan, the older name of the template, comes back as the template it made.
    let mut expected = new_tenant.clone();
    expected.as_object_mut().unwrap().remove("plan");
    expected["template"] = json!("basic");
    assert_eq!(body, expected);
    let (status, body) = root.post("/tenants", new_tenant.clone()).await;
    assert_eq!(status, 409, "{body}");
    assert_error(&body, "conflict");
    let (status, body) = root
        .patch(
            "/tenants/north_clinic",
            json!({"name": "North Clinic Group"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "North Clinic Group");
    assert_eq!(body["template"], "basic");
    let event = last_event(&server, "tenant.update").await;
    assert_eq!(event["scope"], "north_clinic");
    let (status, body) = root
        .patch("/tenants/north_clinic", json!({"departments": []}))
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = root
        .patch("/tenants/north_clinic", json!({"owner": "me"}))
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(message(&body).contains("owner"), "{body}");
    let (status, _) = mercy_admin
        .patch("/tenants/mercy_hospital", json!({"name": "Mine"}))
        .await;
    assert_eq!(status, 403, "tenant admins do not rename tenants");
    let (status, _) = root.get("/tenants/nowhere").await;
    assert_eq!(status, 404);

    // Departments and groups belong to the tenant's admins.
    let before = footprint(&server).await;
    let (status, _) = general_admin
        .post(
            "/tenants/mercy_hospital/departments",
            json!({"id": "radiology", "name": "Radiology"}),
        )
        .await;
    assert_eq!(status, 404, "another tenant's admin");
    let (status, body) = medical_head
        .post(
            "/tenants/mercy_hospital/departments",
            json!({"id": "radiology", "name": "Radiology"}),
        )
        .await;
    assert_eq!(status, 403, "a department admin: {body}");
    let (status, body) = mercy_admin
        .post(
            "/tenants/mercy_hospital/departments",
            json!({"id": "medical", "name": "Medical again"}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(footprint(&server).await, before);

    let (status, body) = mercy_admin
        .post(
            "/tenants/mercy_hospital/departments",
            json!({"id": "radiology", "name": "Radiology"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = mercy_admin
        .patch(
            "/tenants/mercy_hospital/departments/radiology",
            json!({"name": "Radiology & Imaging"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "Radiology & Imaging");
    let (status, body) = mercy_admin
        .patch(
            "/tenants/mercy_hospital/departments/radiology",
            json!({"id": "imaging"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = mercy_admin
        .post(
            "/tenants/mercy_hospital/groups",
            json!({"id": "residents", "name": "Residents", "priority": 7}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = mercy_admin
        .patch(
            "/tenants/mercy_hospital/groups/residents",
            json!({"priority": 12}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"id": "residents", "name": "Residents", "priority": 12})
    );
    let (_, groups) = root.get("/tenants/mercy_hospital/groups").await;
    assert!(
        groups
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["id"] == "residents" && g["priority"] == 12),
        "{groups}"
    );
    let (status, body) = mercy_admin
        .delete("/tenants/mercy_hospital/groups/residents")
        .await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = mercy_admin
        .delete("/tenants/mercy_hospital/departments/radiology")
        .await;
    assert_eq!(status, 204, "{body}");
    let (_, departments) = root.get("/tenants/mercy_hospital/departments").await;
    assert_eq!(departments.as_array().unwrap().len(), 3);
    assert_eq!(
        last_event(&server, "department.delete").await["scope"],
        "mercy_hospital/radiology"
    );
}

#[tokio::test]
async fn deleting_a_scope_removes_what_it_holds_in_one_transaction() {
    let server = start(USERS).await;
    let root = server.client_as("root").await;
    let mercy_admin = server.client_as("mercy_admin").await;

    // The department `marketing` holds users and (after this) an entry.
    let (status, body) = mercy_admin
        .put(
            "/entries/notifications.sms.enabled?scope=department:mercy_hospital/marketing",
            json!({"value": true}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let entries = server.count("entries").await;
    let (status, body) = mercy_admin
        .delete("/tenants/mercy_hospital/departments/marketing?reason=merged")
        .await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(
        server.count("entries").await,
        entries - 4,
        "the three demo entries of marketing and the new one"
    );
    let (_, mia) = root.get("/users/marketer_mia").await;
    assert_eq!(mia.get("department"), None, "{mia}");
    let event = last_event(&server, "department.delete").await;
    assert_eq!(event["reason"], "merged");
    let unset = last_event(&server, "entry.unset").await;
    assert_eq!(unset["scope"], "mercy_hospital/marketing");
    assert_eq!(unset["batch_id"], event["batch_id"]);

    // A whole tenant: its departments, groups, users, entries and their tokens.
    let (status, _) = mercy_admin.delete("/tenants/general_hospital").await;
    assert_eq!(status, 404);
    let (status, _) = mercy_admin.delete("/tenants/mercy_hospital").await;
    assert_eq!(status, 403);
    let users = server.count("users").await;
    let entries = server.count("entries").await;
    let (status, body) = root.delete("/tenants/general_hospital").await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(server.count("tenants").await, 1);
    assert_eq!(server.count("users").await, users - 5);
    assert_eq!(server.count("entries").await, entries - 5);
    assert_eq!(server.count("departments").await, 2);
    assert_eq!(server.count("groups").await, 3);
    let (status, _) = root.get("/users/dr_patel").await;
    assert_eq!(status, 404);
    let (status, body) = root.get("/effective?tenant=general_hospital").await;
    assert_eq!(status, 404, "{body}");
    let (_, exported) = root.get("/export").await;
    assert!(
        !exported.to_string().contains("general_hospital"),
        "nothing of the tenant is left"
    );
    let (status, _) = root.delete("/tenants/general_hospital").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn users_and_passwords() {
    let server = start(USERS).await;
    let root = server.client_as("root").await;
    let mercy_admin = server.client_as("mercy_admin").await;
    let medical_head = server.client_as("medical_head").await;
    let dr_house = server.client_as("dr_house").await;

    let (_, all) = root.get("/users").await;
    let (_, mercy) = mercy_admin.get("/users").await;
    let (_, medical) = medical_head.get("/users").await;
    let (_, own) = dr_house.get("/users").await;
    let ids = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&all).len(), 22);
    assert!(ids(&mercy).iter().all(|u| u != "dr_patel" && u != "root"));
    assert!(ids(&mercy).contains(&"nurse_nina".to_owned()));
    assert!(ids(&medical).contains(&"dr_grey".to_owned()));
    assert!(!ids(&medical).contains(&"marketer_mia".to_owned()));
    assert_eq!(ids(&own), vec!["dr_house"]);
    let (status, _) = mercy_admin.get("/users/dr_patel").await;
    assert_eq!(status, 404);
    let (status, body) = medical_head.get("/users/marketer_mia").await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = mercy_admin.get("/users/dr_house").await;
    assert_eq!(status, 200);
    assert_eq!(body["groups"], json!(["doctors", "emergency_doctors"]));

    // Creating: the tenant's admins, within their tenant, granting what they may.
    let before = footprint(&server).await;
    let new_user = json!({"id": "dr_new", "name": "Dr. New", "tenant": "mercy_hospital",
        "department": "medical", "groups": ["doctors"], "traits": ["admin_capable"]});
    let (status, _) = medical_head.post("/users", new_user.clone()).await;
    assert_eq!(status, 403);
    let mut foreign = new_user.clone();
    foreign["tenant"] = json!("general_hospital");
    foreign["department"] = json!("cardiology");
    foreign["groups"] = json!([]);
    let (status, _) = mercy_admin.post("/users", foreign).await;
    assert_eq!(status, 404);
    let mut grand = new_user.clone();
    grand["traits"] = json!(["super_admin"]);
    let (status, body) = mercy_admin.post("/users", grand).await;
    assert_eq!(status, 403, "{body}");
    assert!(message(&body).contains("super_admin"), "{body}");
    let mut lost = new_user.clone();
    lost["department"] = json!("surgery");
    let (status, body) = mercy_admin.post("/users", lost).await;
    assert_eq!(status, 422, "{body}");
    assert!(message(&body).starts_with("department"), "{body}");
    let mut platform = new_user.clone();
    platform.as_object_mut().unwrap().remove("tenant");
    platform.as_object_mut().unwrap().remove("department");
    platform["groups"] = json!([]);
    let (status, body) = mercy_admin.post("/users", platform).await;
    assert_eq!(status, 403, "platform users are the super admins': {body}");
    assert_eq!(footprint(&server).await, before);

    let (status, body) = mercy_admin.post("/users", new_user.clone()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body, new_user);
    let (status, _) = mercy_admin.post("/users", new_user.clone()).await;
    assert_eq!(status, 409);

    // Changing.
    let (status, body) = mercy_admin
        .patch(
            "/users/dr_new",
            json!({"groups": ["doctors", "nurses"], "name": "Dr. Newer"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["groups"], json!(["doctors", "nurses"]));
    let (status, body) = mercy_admin
        .patch(
            "/users/dr_new",
            json!({"traits": ["admin_capable", "super_admin"]}),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = mercy_admin
        .patch(
            "/users/dr_new",
            json!({"tenant": "general_hospital", "department": null, "groups": []}),
        )
        .await;
    assert_eq!(status, 404, "moving into another tenant: {body}");
    let (status, body) = mercy_admin
        .patch("/users/dr_new", json!({"id": "dr_old"}))
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = medical_head
        .patch("/users/dr_house", json!({"name": "House"}))
        .await;
    assert_eq!(status, 403, "{body}");

    // A password, then the user signs in.
    let (status, body) = mercy_admin
        .put("/users/dr_new/password", json!({"password": "short"}))
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(message(&body).contains("password"), "{body}");
    let (status, _) = medical_head
        .put(
            "/users/dr_new/password",
            json!({"password": "a long enough password"}),
        )
        .await;
    assert_eq!(status, 403);
    let (status, body) = mercy_admin
        .put(
            "/users/dr_new/password",
            json!({"password": "a long enough password"}),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let new_client = server.anonymous();
    let (status, body) = new_client
        .post(
            "/session",
            json!({"username": "dr_new", "password": "a long enough password"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["name"], "Dr. Newer");

    // Deleting: with their entries; never oneself.
    let (status, body) = mercy_admin
        .put(
            "/entries/ui.theme?scope=user:dr_new",
            json!({"value": "dark"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let before = footprint(&server).await;
    let (status, body) = mercy_admin.delete("/users/mercy_admin").await;
    assert_eq!(status, 422, "{body}");
    assert!(message(&body).contains("own account"), "{body}");
    let (status, body) = mercy_admin
        .patch("/users/mercy_admin", json!({"disabled": true}))
        .await;
    assert_eq!(status, 422, "disabling oneself: {body}");
    assert!(message(&body).starts_with("disabled:"), "{body}");
    assert_eq!(footprint(&server).await, before, "refusals write nothing");
    let (status, me) = mercy_admin.get("/users/mercy_admin").await;
    assert_eq!(status, 200, "{me}");
    assert_ne!(me["disabled"], json!(true), "still enabled: {me}");
    let entries = server.count("entries").await;
    let (status, body) = mercy_admin.delete("/users/dr_new").await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(server.count("entries").await, entries - 1);
    let (status, _) = new_client.get("/me").await;
    assert_eq!(status, 401, "a deleted user's session ends");
    let (status, _) = root.get("/users/dr_new").await;
    assert_eq!(status, 404);
}

/// The id of the newest event for `key`.
async fn newest_event_of(server: &TestServer, key: &str) -> i64 {
    let root = server.client_as("root").await;
    let (_, body) = root.get(&format!("/audit?key={key}&limit=1")).await;
    body["events"][0]["id"].as_i64().unwrap()
}

#[tokio::test]
async fn reverting_an_entry_change() {
    let server = start(USERS).await;
    let root = server.client_as("root").await;
    let mercy_admin = server.client_as("mercy_admin").await;
    let general_admin = server.client_as("general_admin").await;
    let medical_head = server.client_as("medical_head").await;
    let path = "/entries/notifications.digest_hour?scope=tenant:mercy_hospital";

    let (status, body) = mercy_admin.put(path, json!({"value": 6})).await;
    assert_eq!(status, 200, "{body}");
    let created = newest_event_of(&server, "notifications.digest_hour").await;
    let (status, body) = mercy_admin
        .put(path, json!({"value": 9, "locked": true}))
        .await;
    assert_eq!(status, 200, "{body}");
    let changed = newest_event_of(&server, "notifications.digest_hour").await;

    // Refusals first: none of them writes anything.
    let before = footprint(&server).await;
    let (status, body) = mercy_admin
        .post(&format!("/audit/{created}/revert"), json!({}))
        .await;
    assert_eq!(status, 409, "it changed since: {body}");
    assert_eq!(body["current"]["value"], 9, "{body}");
    let (status, _) = general_admin
        .post(&format!("/audit/{changed}/revert"), json!({}))
        .await;
    assert_eq!(status, 404, "another tenant's event");
    let (status, body) = medical_head
        .post(&format!("/audit/{changed}/revert"), json!({}))
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = root.post("/audit/999999/revert", json!({})).await;
    assert_eq!(status, 404);
    assert_eq!(footprint(&server).await, before);
    // Another tenant's event is not found, whatever it is: nothing about it is said.
    let password = last_event(&server, "user.password").await;
    assert_eq!(password["tenant"], "mercy_hospital", "{password}");
    let before = footprint(&server).await;
    let (status, body) = general_admin
        .post(&format!("/audit/{}/revert", password["id"]), json!({}))
        .await;
    assert_eq!(status, 404, "{body}");
    assert!(!message(&body).contains("user.password"), "{body}");
    let (status, body) = root
        .post(&format!("/audit/{changed}/revert"), json!({"why": 1}))
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(footprint(&server).await, before);
    let login = last_event(&server, "login.success").await["id"]
        .as_i64()
        .unwrap();
    let before = footprint(&server).await;
    let (status, body) = root
        .post(&format!("/audit/{login}/revert"), json!({}))
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(message(&body).contains("not an entry change"), "{body}");
    assert_eq!(footprint(&server).await, before);

    // Back to 6, unlocked: a new, audited change.
    let (status, body) = mercy_admin
        .send(
            Method::POST,
            &format!("/audit/{changed}/revert"),
            Some(json!({"reason": "too late in the day"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["value"], 6);
    assert_eq!(body["locked"], false);
    let event = last_event(&server, "entry.set").await;
    assert_eq!(
        event["reason"],
        format!("revert of event {changed}: too late in the day")
    );
    let (_, entries) = mercy_admin
        .get("/entries?scope=tenant:mercy_hospital")
        .await;
    assert!(
        entries
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["key"] == "notifications.digest_hour" && e["value"] == 6),
        "{entries}"
    );

    // Reverting the creation removes the entry (after its later changes were reverted in
    // turn, newest first).
    let revert_event = newest_event_of(&server, "notifications.digest_hour").await;
    let (status, body) = root
        .send(Method::POST, &format!("/audit/{revert_event}/revert"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["value"], 9);
    let (status, _) = root
        .post(&format!("/audit/{created}/revert"), json!({}))
        .await;
    assert_eq!(status, 409, "still changed since its creation");

    // A secret comes back from its sealed copy.
    let secret = "/entries/providers.phaxio.api_key?scope=tenant:mercy_hospital";
    let (status, _) = mercy_admin
        .put(secret, json!({"value": "first-secret"}))
        .await;
    assert_eq!(status, 200);
    let (status, _) = mercy_admin
        .put(secret, json!({"value": "second-secret"}))
        .await;
    assert_eq!(status, 200);
    let second = newest_event_of(&server, "providers.phaxio.api_key").await;
    let (status, body) = mercy_admin
        .post(&format!("/audit/{second}/revert"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["value"], "••••••", "masked in the answer");
    let (_, effective) = root
        .get("/effective?tenant=mercy_hospital&reveal=true")
        .await;
    assert_eq!(
        effective["providers.phaxio.api_key"]["value"],
        "first-secret"
    );
    let restored = newest_event_of(&server, "providers.phaxio.api_key").await;
    let (_, page) = root
        .get("/audit?key=providers.phaxio.api_key&limit=5")
        .await;
    let text = page.to_string();
    assert!(!text.contains("first-secret") && !text.contains("second-secret"));
    assert!(restored > second);

    // Reverting a creation (nothing later) removes the entry.
    let (status, _) = mercy_admin
        .put(
            "/entries/features.video_visits.enabled?scope=tenant:mercy_hospital",
            json!({"value": true}),
        )
        .await;
    assert_eq!(status, 200);
    let colour = newest_event_of(&server, "features.video_visits.enabled").await;
    let entries = server.count("entries").await;
    let (status, _) = mercy_admin
        .post(&format!("/audit/{colour}/revert"), json!({}))
        .await;
    assert_eq!(status, 204);
    assert_eq!(server.count("entries").await, entries - 1);
}

#[tokio::test]
async fn import_and_export() {
    let server = start(USERS).await;
    let root = server.client_as("root").await;
    let mercy_admin = server.client_as("mercy_admin").await;
    let dr_house = server.client_as("dr_house").await;

    // Export: what the caller may read.
    let (status, whole) = root.get("/export").await;
    assert_eq!(status, 200);
    assert_eq!(whole["format"], "strata/v1");
    assert_eq!(whole["tenants"].as_array().unwrap().len(), 2);
    let (_, mercy) = mercy_admin.get("/export").await;
    assert_eq!(mercy["tenants"].as_array().unwrap().len(), 1);
    assert!(!mercy.to_string().contains("general_hospital"));
    assert!(!mercy.to_string().contains("\"root\""));
    assert_eq!(mercy["keys"], whole["keys"]);
    let (_, own) = dr_house.get("/export").await;
    assert_eq!(own["users"].as_array().unwrap().len(), 1);
    assert!(
        own["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e.get("department").is_none_or(|d| d == "medical")),
        "{own}"
    );

    // Revealing needs secrets_read and is audited; sealed otherwise.
    assert!(!whole.to_string().contains("phx_live_mercy_77c41d09e3"));
    let (status, body) = dr_house.get("/export?reveal=true").await;
    assert_eq!(status, 403, "{body}");
    let (status, revealed) = mercy_admin.get("/export?reveal=true").await;
    assert_eq!(status, 200, "{revealed}");
    assert!(revealed.to_string().contains("phx_live_mercy_77c41d09e3"));
    assert!(!revealed.to_string().contains("general_hospital"));
    let event = last_event(&server, "secret.reveal").await;
    assert_eq!(event["actor"], "mercy_admin");
    assert_eq!(event["new_value"], "export");

    // Import: the whole export back changes nothing.
    let events = server.count("audit_events").await;
    let (status, report) = root.post("/import", whole.clone()).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["created"], 0);
    assert_eq!(report["updated"], 0);
    assert!(report["unchanged"].as_u64().unwrap() > 50);
    assert_eq!(server.count("audit_events").await, events);

    let addition = json!({"format": "strata/v1",
        "tenants": [{"id": "east_clinic", "name": "East Clinic"}],
        "entries": [{"level": "tenant", "tenant": "east_clinic", "key": "ui.theme", "value": "dark"}]});
    let (status, report) = root.post("/import?dry_run=true", addition.clone()).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["created"], 2);
    assert_eq!(server.count("tenants").await, 2, "a dry run writes nothing");
    assert_eq!(server.count("audit_events").await, events);

    let before = footprint(&server).await;
    let (status, body) = mercy_admin.post("/import", addition.clone()).await;
    assert_eq!(status, 403, "{body}");
    let broken = json!({"format": "strata/v1",
        "tenants": [{"id": "east_clinic", "name": "East Clinic"}],
        "entries": [{"level": "tenant", "tenant": "east_clinic", "key": "ui.theme", "value": "neon"},
                    {"level": "tenant", "tenant": "east_clinic", "key": "fax.retry_attempts", "value": "abc"}]});
    let (status, body) = root.post("/import", broken).await;
    assert_eq!(status, 422, "{body}");
    assert_error(&body, "invalid_input");
    let paths: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        vec!["entries[0].value", "entries[1].value"],
        "{body}"
    );
    let (status, body) = root
        .post("/import", json!({"format": "strata/v1", "extra": 1}))
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(message(&body).contains("extra"), "{body}");
    assert_eq!(footprint(&server).await, before);
    assert_eq!(server.count("tenants").await, 2);

    let (status, report) = root.post("/import", addition).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["created"], 2);
    assert_eq!(server.count("tenants").await, 3);
    let imported = last_event(&server, "import").await;
    assert!(imported["batch_id"].is_string());
}

/// Every route of ../shared/API.md, by method and path.
const CONTRACT: &[(&str, &str)] = &[
    ("post", "/api/v1/session"),
    ("delete", "/api/v1/session"),
    ("get", "/api/v1/me"),
    ("post", "/api/v1/tokens"),
    ("get", "/api/v1/tokens"),
    ("delete", "/api/v1/tokens/{id}"),
    ("get", "/api/v1/effective"),
    ("get", "/api/v1/watch"),
    ("get", "/api/v1/chain/{key}"),
    ("get", "/api/v1/entries"),
    ("put", "/api/v1/entries/{key}"),
    ("delete", "/api/v1/entries/{key}"),
    ("get", "/api/v1/keys"),
    ("put", "/api/v1/keys/{key}"),
    ("delete", "/api/v1/keys/{key}"),
    ("get", "/api/v1/tenants"),
    ("post", "/api/v1/tenants"),
    ("get", "/api/v1/tenants/{t}"),
    ("patch", "/api/v1/tenants/{t}"),
    ("delete", "/api/v1/tenants/{t}"),
    ("get", "/api/v1/tenants/{t}/status"),
    ("get", "/api/v1/tenants/{t}/departments"),
    ("post", "/api/v1/tenants/{t}/departments"),
    ("patch", "/api/v1/tenants/{t}/departments/{d}"),
    ("delete", "/api/v1/tenants/{t}/departments/{d}"),
    ("get", "/api/v1/tenants/{t}/groups"),
    ("post", "/api/v1/tenants/{t}/groups"),
    ("patch", "/api/v1/tenants/{t}/groups/{g}"),
    ("delete", "/api/v1/tenants/{t}/groups/{g}"),
    ("get", "/api/v1/users"),
    ("post", "/api/v1/users"),
    ("get", "/api/v1/users/{u}"),
    ("patch", "/api/v1/users/{u}"),
    ("delete", "/api/v1/users/{u}"),
    ("put", "/api/v1/users/{u}/password"),
    ("get", "/api/v1/audit"),
    ("get", "/api/v1/audit/verify"),
    ("post", "/api/v1/audit/{id}/revert"),
    ("post", "/api/v1/import"),
    ("post", "/api/v1/import/env"),
    ("post", "/api/v1/impact"),
    ("post", "/api/v1/changes"),
    ("get", "/api/v1/changes"),
    ("get", "/api/v1/changes/{id}"),
    ("put", "/api/v1/changes/{id}"),
    ("post", "/api/v1/changes/{id}/{action}"),
    ("get", "/api/v1/approval-policy"),
    ("put", "/api/v1/approval-policy"),
    ("get", "/api/v1/templates"),
    ("post", "/api/v1/templates"),
    ("get", "/api/v1/templates/{name}"),
    ("put", "/api/v1/templates/{name}"),
    ("delete", "/api/v1/templates/{name}"),
    ("get", "/api/v1/templates/{name}/drift"),
    ("post", "/api/v1/templates/{name}/impact"),
    ("get", "/api/v1/export"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
];

#[tokio::test]
async fn the_openapi_document_covers_every_route() {
    let server = start(&[]).await;
    let anonymous = server.anonymous();
    let (status, doc) = anonymous.get("/openapi.json").await;
    assert_eq!(status, 200, "the document is public");
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    let paths = doc["paths"].as_object().unwrap();

    // The contract is documented...
    for (method, path) in CONTRACT {
        let operation = &paths.get(*path).unwrap_or(&Value::Null)[*method];
        assert!(operation.is_object(), "{method} {path} is not documented");
        assert!(
            operation["responses"]
                .as_object()
                .is_some_and(|r| !r.is_empty()),
            "{method} {path} documents no responses"
        );
    }
    // ...and everything documented is routed: no documented operation falls through to the
    // API's "no such route" answer or is refused as a wrong method.
    let mut documented = 0;
    for (path, item) in paths {
        for method in ["get", "post", "put", "patch", "delete"] {
            if !item[method].is_object() {
                continue;
            }
            documented += 1;
            let concrete = path
                .replace("{key}", "ui.theme")
                .replace("{id}", "1")
                .replace("{t}", "mercy_hospital")
                .replace("{d}", "medical")
                .replace("{g}", "doctors")
                .replace("{u}", "dr_house");
            let url = format!("{}{concrete}", server.root);
            let response = anonymous
                .http
                .request(method.to_uppercase().parse().unwrap(), url)
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            assert_ne!(status, 405, "{method} {path} is documented but not routed");
            assert_ne!(
                message(&body),
                "no such API route",
                "{method} {path} is documented but not routed"
            );
        }
    }
    assert_eq!(
        documented,
        CONTRACT.len() + 1,
        "the contract plus openapi.json itself"
    );
    let (status, body) = anonymous.get("/no/such/route").await;
    assert_eq!(status, 404);
    assert_eq!(message(&body), "no such API route");

    // Query parameters are documented where clients send them.
    for (path, name) in [
        ("/api/v1/audit", "before_id"),
        ("/api/v1/import", "dry_run"),
        ("/api/v1/effective", "context"),
    ] {
        let method = if path.ends_with("import") {
            "post"
        } else {
            "get"
        };
        let parameters = paths[path][method]["parameters"].as_array().unwrap();
        let parameter = parameters.iter().find(|p| p["name"] == name).unwrap();
        assert_eq!(parameter["in"], "query", "{path} {name}");
    }
    // A context is `user=U` or `tenant=T…`, one shape or the other: an exploded query object.
    let context = paths["/api/v1/effective"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "context")
        .unwrap();
    assert_eq!(context["explode"], true);
    let shapes = context["schema"]["oneOf"].as_array().unwrap();
    assert_eq!(shapes[0]["required"], json!(["user"]));
    assert_eq!(shapes[1]["required"], json!(["tenant"]));

    // Schemas are named and referenced.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "TenantDoc",
        "UserDoc",
        "KeyDoc",
        "EntryView",
        "ErrorBody",
        "Document",
    ] {
        assert!(schemas.contains_key(name), "{name} is missing");
    }
}

#[tokio::test]
async fn effective_as_env_and_audit_as_csv() {
    let server = start(USERS).await;
    let mercy_admin = server.client_as("mercy_admin").await;
    let response = mercy_admin
        .http
        .get(format!(
            "{}/effective?user=dr_house&format=env",
            mercy_admin.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let tag = response.headers()["etag"].to_str().unwrap().to_owned();
    let body = response.text().await.unwrap();
    assert!(body.contains("UI_THEME=dark\n"), "{body}");
    assert!(
        body.contains("PROVIDERS_PHAXIO_API_KEY='••••••'\n"),
        "{body}"
    );
    let (_, json) = mercy_admin.get("/effective?user=dr_house").await;
    assert_eq!(json["ui.theme"]["value"], "dark");
    let json_tag = mercy_admin
        .http
        .get(format!("{}/effective?user=dr_house", mercy_admin.base))
        .send()
        .await
        .unwrap()
        .headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(tag, json_tag, "the formats have their own ETags");
    let (status, body) = mercy_admin.get("/effective?user=dr_house&format=xml").await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = mercy_admin
        .get("/chain/ui.theme?user=dr_house&format=env")
        .await;
    assert_eq!(status, 422, "{body}");

    let (status, _) = mercy_admin
        .put(
            "/entries/ui.theme?scope=tenant:mercy_hospital",
            json!({"value": "dark", "reason": "night, mostly"}),
        )
        .await;
    assert_eq!(status, 200);
    let response = mercy_admin
        .http
        .get(format!(
            "{}/audit?key=ui.theme&level=tenant&format=csv",
            mercy_admin.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = response.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "id,at,actor,action,level,scope,key,old_value,new_value,reason,batch_id"
    );
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[1].contains(",mercy_admin,entry.set,tenant,mercy_hospital,ui.theme,,\"\"\"dark\"\"\",\"night, mostly\","),
        "{text}"
    );
    let (_, page) = mercy_admin.get("/audit?level=user").await;
    assert!(
        page["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["level"] == "user"),
        "{page}"
    );
}

#[tokio::test]
async fn no_admin_gains_a_trait_through_another_account() {
    let server = start(&["general_admin", "root"]).await;
    // general_admin is a tenant admin with config_write but without secrets_read;
    // cardio_head, of the same tenant, holds secrets_read.
    let admin = server.client_as("general_admin").await;
    let before = footprint(&server).await;
    let (status, body) = admin
        .put(
            "/users/cardio_head/password",
            json!({"password": "a long enough password"}),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(message(&body).contains("holds secrets_read"), "{body}");
    let (status, body) = admin
        .patch("/users/cardio_head", json!({"disabled": true}))
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = admin.delete("/users/cardio_head").await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = admin
        .patch("/users/clerk_cole", json!({"traits": ["secrets_read"]}))
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(message(&body).contains("secrets_read"), "{body}");
    let (status, body) = admin
        .patch(
            "/users/general_admin",
            json!({"traits": ["admin_capable", "tenant_admin", "config_write", "secrets_read"]}),
        )
        .await;
    assert_eq!(status, 403, "not to oneself either: {body}");
    assert_eq!(footprint(&server).await, before, "refusals write nothing");

    // What they hold, they manage: a plain user, and dept_admin (within a tenant admin's reach).
    let (status, body) = admin
        .patch(
            "/users/clerk_cole",
            json!({"traits": ["admin_capable", "dept_admin", "config_write"]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // A super admin manages everyone.
    let root = server.client_as("root").await;
    let (status, body) = root
        .patch("/users/cardio_head", json!({"disabled": true}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["disabled"], json!(true));
}

#[tokio::test]
async fn a_key_definition_sent_back_keeps_its_secret_default() {
    let server = start(&["root"]).await;
    let root = server.client_as("root").await;
    let definition = json!({"type": "string", "sensitive": true, "default": "s3cret-default",
        "description": "A token"});
    let (status, body) = root.put("/keys/billing.api_key", definition).await;
    assert!(status == 200 || status == 201, "{status} {body}");
    let (status, all) = root.get("/keys").await;
    assert_eq!(status, 200, "{all}");
    let shown = all
        .as_array()
        .or(all["keys"].as_array())
        .and_then(|keys| keys.iter().find(|k| k["key"] == "billing.api_key"))
        .cloned()
        .unwrap_or_else(|| panic!("billing.api_key is listed: {all}"));
    assert_eq!(shown["default"], "••••••", "masked when read: {shown}");
    // Sending back what was read changes nothing: the stored default stays.
    let (status, body) = root.put("/keys/billing.api_key", shown.clone()).await;
    assert_eq!(status, 200, "{body}");
    let (_, effective) = root
        .get("/effective?tenant=mercy_hospital&reveal=true")
        .await;
    assert_eq!(effective["billing.api_key"]["value"], "s3cret-default");
    // The mask for a key with no stored default is refused, naming the field.
    let (status, body) = root
        .put(
            "/keys/other.api_key",
            json!({"type": "string", "sensitive": true, "default": "••••••"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(message(&body).starts_with("default:"), "{body}");
}

#[tokio::test]
async fn the_audit_shows_a_tenant_admin_platform_events_and_their_own_only() {
    let server = start(&["root", "mercy_admin", "general_admin"]).await;
    let root = server.client_as("root").await;
    for (scope, value) in [("global", "dark"), ("tenant:general_hospital", "light")] {
        let (status, body) = root
            .put(
                &format!("/entries/ui.theme?scope={scope}"),
                json!({"value": value}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let mercy = server.client_as("mercy_admin").await;
    let (status, page) = mercy.get("/audit?key=ui.theme&level=global").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        page["events"].as_array().unwrap().len(),
        1,
        "the global change: {page}"
    );
    let (status, page) = mercy
        .get("/audit?key=ui.theme&tenant=general_hospital")
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["events"], json!([]), "another tenant's events: {page}");
    let general = server.client_as("general_admin").await;
    let (_, page) = general
        .get("/audit?key=ui.theme&tenant=general_hospital")
        .await;
    assert_eq!(page["events"].as_array().unwrap().len(), 1, "{page}");
}
