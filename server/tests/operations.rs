//! What operators read: `/metrics` (local clients and super admins' tokens only) and a
//! tenant's status, over real HTTP against a real database.

// Shared with the other test crates; this one needs only part of it.
#[path = "support/server.rs"]
#[allow(dead_code)]
mod support;

use serde_json::json;

use support::{Client, TestServer, assert_error, start_with};

async fn token_of(client: &Client) -> String {
    let (status, body) = client
        .post("/tokens", json!({"name": "ops", "scopes": ["read"]}))
        .await;
    assert_eq!(status, 201, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

/// `/metrics` as a client on this machine (`None`) or at `address` behind a proxy sees it.
async fn scrape(server: &TestServer, address: Option<&str>, token: Option<&str>) -> (u16, String) {
    let mut request = server
        .anonymous()
        .http
        .get(format!("{}/metrics", server.root));
    if let Some(address) = address {
        request = request.header("x-forwarded-for", address);
    }
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The value of the sample `line` starts with.
fn sample(body: &str, line: &str) -> f64 {
    body.lines()
        .find_map(|l| l.strip_prefix(line))
        .unwrap_or_else(|| panic!("no {line} in\n{body}"))
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn metrics_are_for_local_clients_and_super_admins_tokens() {
    let server = start_with(
        &["root", "mercy_admin"],
        &[("STRATA_TRUSTED_PROXIES", "127.0.0.1")],
    )
    .await;
    let mercy = server.client_as("mercy_admin").await;
    let (status, _) = mercy.get("/effective?user=dr_house").await;
    assert_eq!(status, 200);
    let (status, _) = mercy.get("/effective?user=nobody_at_all").await;
    assert_eq!(status, 404);

    let (status, body) = scrape(&server, None, None).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(
            "strata_http_requests_total{route=\"/api/v1/effective\",method=\"GET\",status=\"200\"} 1"
        ),
        "{body}"
    );
    assert!(body.contains(
        "strata_http_requests_total{route=\"/api/v1/effective\",method=\"GET\",status=\"404\"} 1"
    ));
    assert!(
        sample(
            &body,
            "strata_http_request_duration_seconds_count{route=\"/api/v1/effective\",method=\"GET\"}"
        ) >= 2.0
    );
    // The route, never the path: one series whatever the user asked about.
    assert!(!body.contains("dr_house") && !body.contains("nobody_at_all"));
    let head = server.state.snapshots.loaded_revision() as f64;
    assert_eq!(sample(&body, "strata_snapshot_revision"), head);
    assert!(sample(&body, "strata_snapshot_age_seconds") >= 0.0);
    assert_eq!(
        sample(&body, "strata_snapshot_full_loads"),
        server.state.snapshots.full_loads() as f64
    );
    assert!(
        sample(&body, "strata_snapshot_full_loads") >= 1.0,
        "start-up loads"
    );
    assert!(sample(&body, "strata_replica_lag_seconds") >= 0.0);
    assert!(sample(&body, "strata_db_pool_max_connections") >= 1.0);
    assert!(body.ends_with("# EOF\n"));

    // From elsewhere: a super admin's token, nothing else. A request a proxy on this
    // machine forwards is from elsewhere, whatever address it names.
    for forwarded in ["203.0.113.5", "127.0.0.1"] {
        let (status, _) = scrape(&server, Some(forwarded), None).await;
        assert_eq!(status, 401, "{forwarded}");
    }
    let tenant_admin = token_of(&mercy).await;
    let (status, body) = scrape(&server, Some("203.0.113.5"), Some(&tenant_admin)).await;
    assert_eq!(status, 403, "{body}");
    let root = server.client_as("root").await;
    let platform = token_of(&root).await;
    let (status, body) = scrape(&server, Some("203.0.113.5"), Some(&platform)).await;
    assert_eq!(status, 200);
    assert!(body.contains("strata_http_requests_total"));
    // Methods a client invents share one series.
    for method in ["BREW", "PROPFIND"] {
        let response = server
            .anonymous()
            .http
            .request(
                method.parse().unwrap(),
                format!("{}/api/v1/me", server.root),
            )
            .send()
            .await
            .unwrap();
        assert!(response.status().is_client_error());
    }
    let (_, body) = scrape(&server, None, None).await;
    assert!(!body.contains("BREW") && !body.contains("PROPFIND"));
    assert!(body.contains("method=\"other\""), "{body}");
}

#[tokio::test]
async fn a_tenant_s_status_counts_it_and_names_its_latest_change() {
    let server = start_with(&["mercy_admin", "general_admin", "dr_house"], &[]).await;
    let mercy = server.client_as("mercy_admin").await;
    let (status, body) = mercy
        .put(
            "/entries/branding.color?scope=tenant:mercy_hospital",
            json!({"value": "#123456"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, status_body) = mercy.get("/tenants/mercy_hospital/status").await;
    assert_eq!(status, 200, "{status_body}");
    let count = |sql: &str| {
        let server = &server;
        let sql = sql.to_owned();
        async move { server.count(&sql).await }
    };
    let mercy_id = "(SELECT id FROM tenants WHERE slug = 'mercy_hospital')";
    assert_eq!(
        status_body["users"],
        count(&format!("users WHERE tenant_id = {mercy_id}")).await
    );
    assert_eq!(
        status_body["departments"],
        count(&format!("departments WHERE tenant_id = {mercy_id}")).await
    );
    assert_eq!(
        status_body["entries"],
        count(&format!(
            "entries WHERE tenant_id = {mercy_id} OR user_id IN (SELECT id FROM users WHERE tenant_id = {mercy_id})"
        ))
        .await
    );
    assert!(status_body["entries"].as_i64().unwrap() > 5);
    assert_eq!(status_body["last_change"]["action"], "entry.set");
    assert_eq!(status_body["last_change"]["actor"], "mercy_admin");
    assert_eq!(
        status_body["revision"].as_i64().unwrap(),
        server.state.snapshots.loaded_revision()
    );
    // Its admins only: a member is refused; another tenant's admin finds nothing.
    let house = server.client_as("dr_house").await;
    let (status, body) = house.get("/tenants/mercy_hospital/status").await;
    assert_eq!(status, 403);
    assert_error(&body, "forbidden");
    let general = server.client_as("general_admin").await;
    let (status, body) = general.get("/tenants/mercy_hospital/status").await;
    assert_eq!(status, 404);
    assert_error(&body, "not_found");
}
