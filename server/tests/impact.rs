//! Impact over real HTTP (API.md "Change requests and impact"): what `POST /impact` predicts is
//! what saving the same change then does to every user's `/effective`; it writes nothing; it
//! names only what the caller may read; refusals name the operation and field.

#[path = "support/server.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use support::{Client, assert_error, message, start};

async fn users(client: &Client) -> Vec<String> {
    let (status, body) = client.get("/users").await;
    assert_eq!(status, 200, "{body}");
    body.as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Every listed user's effective value of `key`.
async fn values(client: &Client, users: &[String], key: &str) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for user in users {
        let (status, body) = client.get(&format!("/effective?user={user}")).await;
        assert_eq!(status, 200, "{body}");
        out.insert(user.clone(), body[key]["value"].clone());
    }
    out
}

#[tokio::test]
async fn the_predicted_impact_is_what_saving_the_change_does() {
    let server = start(&["root"]).await;
    let root = server.client_as("root").await;
    let everyone = users(&root).await;
    let before = values(&root, &everyone, "fax.retry_attempts").await;
    let events = server.count("audit_events").await;
    let entries = server.count("entries").await;

    let ops = json!({"ops": [
        {"op": "set", "scope": "global", "key": "fax.retry_attempts", "value": 9}
    ]});
    let (status, impact) = root.post("/impact", ops).await;
    assert_eq!(status, 200, "{impact}");
    // Previewing writes nothing, not even an audit event.
    assert_eq!(server.count("audit_events").await, events);
    assert_eq!(server.count("entries").await, entries);

    let (status, body) = root
        .put(
            "/entries/fax.retry_attempts?scope=global",
            json!({"value": 9, "reason": "impact test"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let after = values(&root, &everyone, "fax.retry_attempts").await;
    let changed: BTreeSet<&String> = everyone
        .iter()
        .filter(|u| before[*u] != after[*u])
        .collect();
    assert!(!changed.is_empty());
    // Cardiology keeps its own value: not everyone is affected.
    assert!(changed.len() < everyone.len());
    assert_eq!(impact["users_affected"], changed.len());
    let per_tenant: usize = impact["by_tenant"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap() as usize)
        .sum();
    assert_eq!(per_tenant, changed.len());
    for row in impact["sample"].as_array().unwrap() {
        let user = row["user"].as_str().unwrap().to_owned();
        assert!(changed.contains(&user), "{row}");
        assert_eq!(row["key"], "fax.retry_attempts");
        assert_eq!(row["from"], before[&user]);
        assert_eq!(row["to"], json!(9));
    }
}

#[tokio::test]
async fn a_lock_lists_the_overrides_it_would_hide_and_a_copy_of_the_inherited_value_is_redundant() {
    let server = start(&["root"]).await;
    let root = server.client_as("root").await;
    let (status, body) = root
        .put(
            "/entries/fax.retry_attempts?scope=global",
            json!({"value": 4, "reason": "impact test"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let (status, impact) = root
        .post(
            "/impact",
            json!({"ops": [{"op": "lock", "scope": "global", "key": "fax.retry_attempts"}]}),
        )
        .await;
    assert_eq!(status, 200, "{impact}");
    assert_eq!(
        impact["newly_shadowed"],
        json!([{"scope": "department:general_hospital/cardiology", "key": "fax.retry_attempts"}])
    );
    assert_eq!(impact["newly_shadowed_total"], 1);

    // Cardiology's value set to what it would inherit anyway.
    let (status, impact) = root
        .post(
            "/impact",
            json!({"ops": [{"op": "set", "scope": "department:general_hospital/cardiology",
                "key": "fax.retry_attempts", "value": 4}]}),
        )
        .await;
    assert_eq!(status, 200, "{impact}");
    assert_eq!(
        impact["redundant"],
        json!([{"scope": "department:general_hospital/cardiology", "key": "fax.retry_attempts"}])
    );
}

#[tokio::test]
async fn a_tenant_admin_sees_only_their_tenant_and_may_preview_only_what_they_may_write() {
    let server = start(&["mercy_admin"]).await;
    let admin = server.client_as("mercy_admin").await;
    let events = server.count("audit_events").await;

    let (status, impact) = admin
        .post(
            "/impact",
            json!({"ops": [{"op": "set", "scope": "tenant:mercy_hospital",
                "key": "fax.retry_attempts", "value": 8}]}),
        )
        .await;
    assert_eq!(status, 200, "{impact}");
    let tenants: Vec<&String> = impact["by_tenant"].as_object().unwrap().keys().collect();
    assert_eq!(tenants, ["mercy_hospital"]);
    assert!(impact["users_affected"].as_u64().unwrap() > 0);

    let (status, body) = admin
        .post(
            "/impact",
            json!({"ops": [{"op": "set", "scope": "global", "key": "fax.retry_attempts", "value": 8}]}),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = admin
        .post(
            "/impact",
            json!({"ops": [{"op": "set", "scope": "tenant:general_hospital",
                "key": "fax.retry_attempts", "value": 8}]}),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(server.count("audit_events").await, events);
}

#[tokio::test]
async fn bad_operations_are_refused_with_the_operation_and_field_named() {
    let server = start(&["root"]).await;
    let root = server.client_as("root").await;
    let cases = [
        (json!({"ops": []}), "ops"),
        (
            json!({"ops": [{"op": "set", "scope": "nowhere", "key": "fax.retry_attempts", "value": 1}]}),
            "ops[0].scope",
        ),
        (
            json!({"ops": [{"op": "set", "scope": "global", "key": "fax.retry_attempts"}]}),
            "ops[0].value",
        ),
        (
            json!({"ops": [{"op": "set", "scope": "global", "key": "fax.retry_attempts", "value": 99}]}),
            "ops[0].value",
        ),
        (
            json!({"ops": [{"op": "set", "scope": "global", "key": "no.such_key", "value": 1}]}),
            "ops[0].key",
        ),
        (
            json!({"ops": [{"op": "swap", "scope": "global", "key": "fax.retry_attempts"}]}),
            "ops[0].op",
        ),
        (
            json!({"ops": [{"op": "lock", "scope": "tenant:mercy_hospital", "key": "fax.retry_attempts"}]}),
            "ops[0]",
        ),
    ];
    for (body, field) in cases {
        let (status, answer) = root.post("/impact", body.clone()).await;
        assert_eq!(status, 422, "{body} → {answer}");
        assert_error(&answer, "invalid_input");
        assert!(message(&answer).starts_with(field), "{body} → {answer}");
    }
    let (status, answer) = server
        .anonymous()
        .post(
            "/impact",
            json!({"ops": [{"op": "unset", "scope": "global", "key": "fax.retry_attempts"}]}),
        )
        .await;
    assert_eq!(status, 401, "{answer}");
}

/// A template edit reaches the users of every scope that follows it: Mercy follows the demo's
/// `enterprise` template, whose PHI redaction its Marketing department overrides.
#[tokio::test]
async fn a_template_edit_shows_whom_it_affects_before_it_is_made() {
    let server = start(&["root", "mercy_admin"]).await;
    let root = server.client_as("root").await;
    let everyone = users(&root).await;
    let key = "compliance.phi_redaction";
    let before = values(&root, &everyone, key).await;
    let events = server.count("audit_events").await;
    let (status, template) = root.get("/templates/enterprise").await;
    assert_eq!(status, 200, "{template}");

    // Locking the template's entry hides Marketing's own: its users get redaction back.
    let (status, lock) = root
        .post(
            "/templates/enterprise/impact",
            json!({"ops": [{"op": "lock", "key": key}]}),
        )
        .await;
    assert_eq!(status, 200, "{lock}");
    assert!(
        lock["newly_shadowed"]
            .as_array()
            .unwrap()
            .contains(&json!({"scope": "department:mercy_hospital/marketing", "key": key})),
        "{lock}"
    );
    assert!(lock["users_affected"].as_u64().unwrap() > 0, "{lock}");
    assert_eq!(lock["by_tenant"].as_object().unwrap().len(), 1, "{lock}");
    assert!(lock["by_tenant"].get("mercy_hospital").is_some(), "{lock}");

    // Turning it off: predicted, then done through PUT, compared user by user.
    let ops = json!({"ops": [{"op": "set", "key": key, "value": false}]});
    let (status, impact) = root.post("/templates/enterprise/impact", ops).await;
    assert_eq!(status, 200, "{impact}");
    // Previewing writes nothing.
    assert_eq!(server.count("audit_events").await, events);
    let (_, unchanged) = root.get("/templates/enterprise").await;
    assert_eq!(unchanged["version"], template["version"]);

    let mut edited = template.clone();
    for entry in edited["entries"].as_array_mut().unwrap() {
        if entry["key"] == key {
            entry["value"] = json!(false);
        }
    }
    let doc = json!({
        "name": "enterprise",
        "target_level": "tenant",
        "description": edited["description"],
        "entries": edited["entries"],
    });
    let (status, body) = root.put("/templates/enterprise", doc).await;
    assert_eq!(status, 200, "{body}");
    let after = values(&root, &everyone, key).await;
    let changed: BTreeSet<&String> = everyone
        .iter()
        .filter(|u| before[*u] != after[*u])
        .collect();
    assert!(!changed.is_empty());
    assert_eq!(impact["users_affected"], changed.len(), "{impact}");
    assert_eq!(
        impact["by_tenant"]["mercy_hospital"],
        changed.len(),
        "{impact}"
    );
    for row in impact["sample"].as_array().unwrap() {
        let user = row["user"].as_str().unwrap().to_owned();
        assert!(changed.contains(&user), "{row}");
        assert_eq!(row["from"], before[&user]);
        assert_eq!(row["to"], json!(false));
    }
    // Marketing's own entry now equals what it inherits.
    assert!(
        impact["redundant"]
            .as_array()
            .unwrap()
            .contains(&json!({"scope": "department:mercy_hospital/marketing", "key": key})),
        "{impact}"
    );
}

#[tokio::test]
async fn template_impact_is_refused_with_the_operation_and_field_named_and_writes_nothing() {
    let server = start(&["root", "mercy_admin"]).await;
    let root = server.client_as("root").await;
    // Signing in is audited: both sign in before counting.
    let mercy_admin = server.client_as("mercy_admin").await;
    let events = server.count("audit_events").await;
    let cases = [
        (json!({"ops": []}), "ops"),
        (
            json!({"ops": [{"op": "set", "key": "fax.retry_attempts"}]}),
            "ops[0].value",
        ),
        (
            json!({"ops": [{"op": "set", "key": "fax.retry_attempts", "value": 99}]}),
            "ops[0].value",
        ),
        (
            json!({"ops": [{"op": "set", "key": "no.such_key", "value": 1}]}),
            "ops[0].key",
        ),
        (
            json!({"ops": [{"op": "swap", "key": "fax.retry_attempts"}]}),
            "ops[0].op",
        ),
        (
            json!({"ops": [{"op": "unlock", "key": "fax.retry_attempts"}]}),
            "ops[0]: the template has no entry",
        ),
    ];
    for (body, field) in cases {
        let (status, answer) = root
            .post("/templates/enterprise/impact", body.clone())
            .await;
        assert_eq!(status, 422, "{body} → {answer}");
        assert_error(&answer, "invalid_input");
        assert!(message(&answer).starts_with(field), "{body} → {answer}");
    }
    let ok = json!({"ops": [{"op": "unset", "key": "compliance.phi_redaction"}]});
    let (status, answer) = root.post("/templates/nowhere/impact", ok.clone()).await;
    assert_eq!(status, 404, "{answer}");
    // Templates are changed by super admins only; a tenant admin may not ask either.
    let (status, answer) = mercy_admin
        .post("/templates/enterprise/impact", ok.clone())
        .await;
    assert_eq!(status, 403, "{answer}");
    let (status, answer) = server
        .anonymous()
        .post("/templates/enterprise/impact", ok)
        .await;
    assert_eq!(status, 401, "{answer}");
    assert_eq!(server.count("audit_events").await, events);
}
