//! The security defects of the hardening issue, each shown over real HTTP against a real
//! server on a real database (SQLite, or PostgreSQL under `STRATA_TEST_BACKEND`): who sees
//! sign-in events, reveals and their audit, the sign-in throttle under races and behind a
//! proxy, what an unauthenticated client can put into the audit, sessions after a password
//! change, caching of revealed secrets, body limits of server functions, concurrent creates,
//! secret fingerprints, platform accounts and the token cache.

#[path = "support/server.rs"]
mod support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use app::backend::accounts::MAX_ADDRESS_FAILURES;
use support::{Client, PASSWORD, TestServer, assert_error, message, start, start_with};

/// Actors of the events `client` sees with `action`, newest first.
async fn actors(client: &Client, action: &str) -> Vec<String> {
    let (status, page) = client
        .get(&format!("/audit?action={action}&limit=500"))
        .await;
    assert_eq!(status, 200, "{page}");
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["actor"].as_str().unwrap().to_owned())
        .collect()
}

async fn sign_in_as(client: &Client, name: &str, password: &str) -> StatusCode {
    client
        .post("/session", json!({"username": name, "password": password}))
        .await
        .0
}

/// A sign-in from behind the proxy at 127.0.0.1, for the client at `forwarded_for`.
async fn sign_in_via_proxy(
    server: &TestServer,
    name: &str,
    password: &str,
    forwarded_for: &str,
) -> StatusCode {
    server
        .anonymous()
        .http
        .post(format!("{}/api/v1/session", server.root))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({"username": name, "password": password}))
        .send()
        .await
        .unwrap()
        .status()
}

async fn events(server: &TestServer, action: &str) -> i64 {
    server
        .count(&format!("audit_events WHERE action = '{action}'"))
        .await
}

#[tokio::test]
async fn sign_in_events_are_seen_only_by_the_account_s_admins() {
    let server = start(&["mercy_admin", "general_admin", "medical_head", "root"]).await;
    let anonymous = server.anonymous();
    for name in ["dr_house", "dr_patel", "root", "=nobody(1)"] {
        assert_eq!(sign_in_as(&anonymous, name, "wrong password!").await, 401);
    }
    let mercy = server.client_as("mercy_admin").await;
    let general = server.client_as("general_admin").await;
    let medical = server.client_as("medical_head").await;
    let root = server.client_as("root").await;
    assert_eq!(actors(&mercy, "login.failure").await, ["dr_house"]);
    assert_eq!(actors(&medical, "login.failure").await, ["dr_house"]);
    assert_eq!(actors(&general, "login.failure").await, ["dr_patel"]);
    // A platform account's failures and names matching no account: super admins only.
    assert_eq!(
        actors(&root, "login.failure").await,
        ["=nobody(1)", "root", "dr_patel", "dr_house"]
    );
    // Every admin's successful sign-in above is their own tenant's business too.
    assert_eq!(actors(&general, "login.success").await, ["general_admin"]);

    // Using a revoked token is filed under its owner.
    let (status, token) = mercy
        .post("/tokens", json!({"name": "old", "scopes": ["read"]}))
        .await;
    assert_eq!(status, 201);
    let (status, _) = mercy.delete(&format!("/tokens/{}", token["id"])).await;
    assert_eq!(status, 204);
    let used = server
        .anonymous()
        .http
        .get(format!("{}/api/v1/me", server.root))
        .bearer_auth(token["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(used.status(), 401);
    assert_eq!(actors(&mercy, "token.revoked_use").await, ["token"]);
    assert!(actors(&general, "token.revoked_use").await.is_empty());
}

#[tokio::test]
async fn a_revealed_chain_is_audited_and_never_stored() {
    let server = start(&["mercy_admin"]).await;
    let mercy = server.client_as("mercy_admin").await;
    let before = events(&server, "secret.reveal").await;
    let response = mercy
        .http
        .get(format!(
            "{}/chain/providers.phaxio.api_key?user=dr_house&reveal=true",
            mercy.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cache = response.headers().get("cache-control").cloned();
    let chain: Value = response.json().await.unwrap();
    assert_eq!(chain[1]["value"], "phx_live_mercy_77c41d09e3", "{chain}");
    assert_eq!(events(&server, "secret.reveal").await, before + 1);
    assert_eq!(
        cache.as_ref().map(|v| v.to_str().unwrap()),
        Some("no-store")
    );
    let (_, page) = mercy.get("/audit?action=secret.reveal&limit=1").await;
    assert_eq!(page["events"][0]["key"], "providers.phaxio.api_key");
    assert_eq!(page["events"][0]["actor"], "mercy_admin");

    // Masked, nothing is audited.
    let (status, masked) = mercy
        .get("/chain/providers.phaxio.api_key?user=dr_house")
        .await;
    assert_eq!(status, 200);
    assert_eq!(masked[1]["value"], "••••••");
    assert_eq!(events(&server, "secret.reveal").await, before + 1);
}

#[tokio::test]
async fn responses_with_revealed_secrets_are_never_stored() {
    let server = start(&["mercy_admin"]).await;
    let mercy = server.client_as("mercy_admin").await;
    for path in [
        "/api/v1/effective?user=dr_house&reveal=true",
        "/api/v1/effective?user=dr_house&reveal=true&format=env",
        "/api/v1/chain/providers.phaxio.api_key?user=dr_house&reveal=true",
        "/api/v1/export?reveal=true",
        "/configuration?scope=tenant:mercy_hospital&reveal=true",
        "/preview?user=dr_house&reveal=true",
    ] {
        let response = mercy
            .http
            .get(format!("{}{path}", server.root))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["cache-control"], "no-store", "{path}");
        let body = response.text().await.unwrap();
        assert!(body.contains("phx_live_mercy_77c41d09e3"), "{path}: {body}");
    }
    // Masked answers may be kept, privately, and revalidated.
    let page = mercy
        .http
        .get(format!(
            "{}/configuration?scope=tenant:mercy_hospital",
            server.root
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.headers()["cache-control"], "private, no-cache");
}

#[tokio::test]
async fn racing_wrong_passwords_are_checked_at_most_five_times() {
    let server = start(&["dr_grey"]).await;
    let mut attempts = tokio::task::JoinSet::new();
    for _ in 0..24 {
        let client = server.anonymous();
        attempts.spawn(async move { sign_in_as(&client, "dr_grey", "wrong password!").await });
    }
    let mut statuses = Vec::new();
    while let Some(status) = attempts.join_next().await {
        statuses.push(status.unwrap().as_u16());
    }
    statuses.sort();
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert_eq!(checked, 5, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "{statuses:?}"
    );
    assert_eq!(
        server
            .count("login_failures WHERE account = 'dr_grey'")
            .await,
        5
    );
    assert_eq!(events(&server, "login.failure").await, 5);
    // The refusals are audited once, not nineteen times: a flood does not flood the audit.
    assert_eq!(events(&server, "login.throttled").await, 1);
    // The right password waits too.
    assert_eq!(
        sign_in_as(&server.anonymous(), "dr_grey", PASSWORD).await,
        429
    );
}

#[tokio::test]
async fn one_address_failing_does_not_lock_out_its_neighbours() {
    let server = start_with(
        &["dr_grey", "dr_ross"],
        &[("STRATA_TRUSTED_PROXIES", "127.0.0.1")],
    )
    .await;
    let office = "198.51.100.7";
    for _ in 0..5 {
        assert_eq!(
            sign_in_via_proxy(&server, "dr_grey", "wrong password!", office).await,
            401
        );
    }
    // The next person behind the same address signs in.
    assert_eq!(
        sign_in_via_proxy(&server, "dr_ross", PASSWORD, office).await,
        200
    );
    // The account itself waits, from anywhere.
    assert_eq!(
        sign_in_via_proxy(&server, "dr_grey", PASSWORD, "203.0.113.1").await,
        429
    );
    // The audit and the throttle saw the client behind the proxy, not the proxy.
    assert_eq!(
        server
            .count(&format!("login_failures WHERE client_ip = '{office}'"))
            .await,
        5
    );
    assert_eq!(
        server
            .count(&format!(
                "audit_events WHERE action = 'login.failure' AND client_ip = '{office}'"
            ))
            .await,
        5
    );

    // One address trying many names is stopped at its own, higher limit.
    let sprayer = "192.0.2.50";
    for i in 0..MAX_ADDRESS_FAILURES {
        let name = format!("guess{i}");
        assert_eq!(
            sign_in_via_proxy(&server, &name, "wrong password!", sprayer).await,
            401
        );
    }
    assert_eq!(
        sign_in_via_proxy(&server, "dr_ross", PASSWORD, sprayer).await,
        429
    );
    assert_eq!(
        sign_in_via_proxy(&server, "dr_ross", PASSWORD, "192.0.2.51").await,
        200
    );

    // An untrusted peer cannot choose its address: without the setting the header is ignored.
    let direct = start(&["dr_grey"]).await;
    for i in 0..5 {
        let forged = format!("10.9.9.{i}");
        assert_eq!(
            sign_in_via_proxy(&direct, "dr_grey", "wrong password!", &forged).await,
            401
        );
    }
    assert_eq!(
        direct
            .count("login_failures WHERE client_ip = '127.0.0.1'")
            .await,
        5
    );
}

#[tokio::test]
async fn what_a_client_types_reaches_the_audit_bounded_and_the_csv_as_text() {
    let server = start(&["root"]).await;
    let formula = "=HYPERLINK(\"http://evil.test\",\"open\")";
    assert_eq!(
        sign_in_as(&server.anonymous(), formula, "wrong password!").await,
        401
    );
    let long = format!("{}\nforged line\u{1b}[31m", "x".repeat(5000));
    let response = server
        .anonymous()
        .http
        .post(format!("{}/api/v1/session", server.root))
        .header("user-agent", format!("+agent{}", "y".repeat(10_000)))
        .json(&json!({"username": long, "password": "wrong password!"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    let root = server.client_as("root").await;
    let (_, page) = root.get("/audit?action=login.failure&limit=5").await;
    let newest = &page["events"][0];
    let actor = newest["actor"].as_str().unwrap();
    assert_eq!(actor.chars().count(), 64, "{actor}");
    assert!(actor.ends_with('…'));
    assert!(!actor.chars().any(char::is_control), "{actor:?}");
    let agent = newest["user_agent"].as_str().unwrap();
    assert_eq!(agent.chars().count(), 256);
    assert!(
        server
            .count("login_failures WHERE LENGTH(account) > 64")
            .await
            == 0
    );

    let csv = root
        .http
        .get(format!(
            "{}/audit?action=login.failure&format=csv&limit=10",
            root.base
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let mut cells = 0;
    for record in reader.records() {
        for cell in record.unwrap().iter() {
            cells += 1;
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "a cell a spreadsheet would run: {cell:?}"
            );
        }
    }
    assert!(cells > 0);
    assert!(csv.contains("'=hyperlink"), "{csv}");
}

#[tokio::test]
async fn a_password_change_ends_the_account_s_other_sessions() {
    let server = start(&["mercy_admin", "root"]).await;
    let here = server.client_as("mercy_admin").await;
    let elsewhere = server.client_as("mercy_admin").await;
    let (status, body) = here
        .put(
            "/users/mercy_admin/password",
            json!({"password": "a brand new passphrase"}),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    // The session that changed it stays; the other one is over.
    assert_eq!(here.get("/me").await.0, 200);
    let (status, body) = elsewhere.get("/me").await;
    assert_eq!(status, 401);
    assert_error(&body, "unauthenticated");

    // A reset by another admin ends every session of the account.
    let root = server.client_as("root").await;
    let (status, _) = root
        .put(
            "/users/mercy_admin/password",
            json!({"password": "reset by the platform"}),
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(here.get("/me").await.0, 401);
    // The new password opens a new one.
    let again = server.anonymous();
    assert_eq!(
        sign_in_as(&again, "mercy_admin", "reset by the platform").await,
        200
    );
    // Disabling ends it too.
    let (status, _) = root
        .patch("/users/mercy_admin", json!({"disabled": true}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(again.get("/me").await.0, 401);
}

#[tokio::test]
async fn an_oversized_server_function_call_is_refused_with_413() {
    let server = start(&[]).await;
    let big = format!("username=admin&password={}", "p".repeat(2 * 1024 * 1024));
    let response = server
        .anonymous()
        .http
        .post(format!("{}/fn/login", server.root))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let body = response.text().await.unwrap();
    assert!(body.contains("larger than"), "{body}");
    assert_eq!(events(&server, "login.failure").await, 0);
}

#[tokio::test]
async fn two_admins_creating_one_id_at_once_cannot_take_each_other_s_user() {
    let server = start(&["mercy_admin", "general_admin"]).await;
    let mercy = server.client_as("mercy_admin").await;
    let general = server.client_as("general_admin").await;
    for round in 0..8 {
        let id = format!("twin{round}");
        let (a, b) = tokio::join!(
            mercy.post(
                "/users",
                json!({"id": id, "name": "Mercy twin", "tenant": "mercy_hospital"})
            ),
            general.post(
                "/users",
                json!({"id": id, "name": "General twin", "tenant": "general_hospital"})
            ),
        );
        let mut statuses = [a.0.as_u16(), b.0.as_u16()];
        statuses.sort();
        assert_eq!(statuses, [201, 409], "{id}: {} / {}", a.1, b.1);
        let (winner, tenant) = if a.0 == 201 {
            (&mercy, "mercy_hospital")
        } else {
            (&general, "general_hospital")
        };
        let (status, user) = winner.get(&format!("/users/{id}")).await;
        assert_eq!(status, 200);
        assert_eq!(user["tenant"], tenant, "{user}");
    }
    // Every create wrote one event.
    assert_eq!(
        server
            .count("audit_events WHERE action = 'user.create' AND scope LIKE 'twin%'")
            .await,
        8
    );
    assert_eq!(
        server
            .count("audit_events WHERE action = 'user.update' AND scope LIKE 'twin%'")
            .await,
        0
    );
}

#[tokio::test]
async fn a_secret_s_fingerprint_confirms_no_guess_written_elsewhere() {
    let server = start(&["general_admin"]).await;
    let general = server.client_as("general_admin").await;
    // general_admin may write secrets of their tenant but not read them.
    let (status, body) = general
        .put(
            "/entries/providers.phaxio.api_key?scope=tenant:general_hospital",
            json!({"value": "phx_live_platform_5b1f0c2e9a"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, page) = general
        .get("/audit?key=providers.phaxio.api_key&action=entry.set&limit=50")
        .await;
    let shown = |level: &str| {
        page["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["level"] == level)
            .and_then(|e| e["new_value"].as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no {level} event in {page}"))
    };
    let global = shown("global");
    let guess = shown("tenant");
    assert!(global.starts_with("•••••• ") && guess.starts_with("•••••• "));
    assert_ne!(
        global, guess,
        "the same value at another scope must not show the same fingerprint"
    );
}

#[tokio::test]
async fn a_platform_account_answers_like_an_unknown_user() {
    let server = start(&["mercy_admin"]).await;
    let mercy = server.client_as("mercy_admin").await;
    for path in [
        "/entries?scope=user:{}",
        "/effective?user={}",
        "/chain/branding.color?user={}",
        "/users/{}",
    ] {
        let platform = mercy.get(&path.replace("{}", "root")).await;
        let unknown = mercy.get(&path.replace("{}", "nobody_at_all")).await;
        assert_eq!(platform.0, 404, "{path}: {}", platform.1);
        assert_eq!(unknown.0, 404, "{path}");
        assert_eq!(
            message(&platform.1).replace("root", "X"),
            message(&unknown.1).replace("nobody_at_all", "X"),
            "{path}"
        );
    }
    let (status, body) = mercy
        .put(
            "/entries/ui.theme?scope=user:root",
            json!({"value": "dark"}),
        )
        .await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test]
async fn a_token_read_during_its_revocation_is_not_served_after_it() {
    let server = start(&["mercy_admin", "root"]).await;
    let mercy = server.client_as("mercy_admin").await;
    let url = format!("{}/api/v1/effective?user=dr_house", server.root);
    for round in 0..5 {
        let (status, token) = mercy
            .post(
                "/tokens",
                json!({"name": format!("race {round}"), "scopes": ["read"]}),
            )
            .await;
        assert_eq!(status, 201);
        let secret = token["token"].as_str().unwrap().to_owned();
        let mut readers = tokio::task::JoinSet::new();
        for _ in 0..24 {
            let http = server.anonymous().http;
            let (url, secret) = (url.clone(), secret.clone());
            readers.spawn(async move {
                http.get(url)
                    .bearer_auth(secret)
                    .send()
                    .await
                    .unwrap()
                    .status()
            });
        }
        let (status, _) = mercy.delete(&format!("/tokens/{}", token["id"])).await;
        assert_eq!(status, 204);
        while readers.join_next().await.is_some() {}
        for _ in 0..3 {
            let after = server
                .anonymous()
                .http
                .get(&url)
                .bearer_auth(&secret)
                .send()
                .await
                .unwrap();
            assert_eq!(
                after.status(),
                401,
                "round {round}: served after revocation"
            );
        }
    }

    // A token whose owner is disabled stops at once, though it was just verified.
    let (_, token) = mercy
        .post("/tokens", json!({"name": "owner", "scopes": ["read"]}))
        .await;
    let secret = token["token"].as_str().unwrap();
    let read = || server.anonymous().http.get(&url).bearer_auth(secret).send();
    assert_eq!(read().await.unwrap().status(), 200);
    let root = server.client_as("root").await;
    let (status, _) = root
        .patch("/users/mercy_admin", json!({"disabled": true}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(read().await.unwrap().status(), 401);
}

#[tokio::test]
async fn a_token_reveals_only_with_its_secrets_scope_and_is_audited_once_per_secret() {
    let server = start(&["mercy_admin", "root"]).await;
    let mercy = server.client_as("mercy_admin").await;
    let token = |scopes: Value| {
        let mercy = &mercy;
        async move {
            let (status, body) = mercy
                .post("/tokens", json!({"name": "app", "scopes": scopes}))
                .await;
            assert_eq!(status, 201, "{body}");
            body["token"].as_str().unwrap().to_owned()
        }
    };
    let get = |secret: String, path: &'static str| {
        let http = server.anonymous().http;
        let url = format!("{}/api/v1{path}", server.root);
        async move {
            let response = http.get(url).bearer_auth(secret).send().await.unwrap();
            let status = response.status();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let reveal = "/effective?user=dr_house&reveal=true";

    let reader = token(json!(["read"])).await;
    let (status, body) = get(reader.clone(), reveal).await;
    assert_eq!(status, 403);
    assert!(message(&body).contains("secrets scope"), "{body}");

    let app_token = token(json!(["read", "secrets"])).await;
    let before = events(&server, "secret.reveal").await;
    for _ in 0..5 {
        let (status, body) = get(app_token.clone(), reveal).await;
        assert_eq!(status, 200);
        assert_eq!(
            body["providers.phaxio.api_key"]["value"],
            "phx_live_mercy_77c41d09e3"
        );
    }
    assert_eq!(events(&server, "secret.reveal").await, before + 1);

    // A new value is a new secret.
    let root = server.client_as("root").await;
    let (status, _) = root
        .put(
            "/entries/providers.phaxio.api_key?scope=tenant:mercy_hospital",
            json!({"value": "phx_live_mercy_rotated"}),
        )
        .await;
    assert_eq!(status, 200);
    for _ in 0..3 {
        let (_, body) = get(app_token.clone(), reveal).await;
        assert_eq!(
            body["providers.phaxio.api_key"]["value"],
            "phx_live_mercy_rotated"
        );
    }
    assert_eq!(events(&server, "secret.reveal").await, before + 2);
    // The chain shows the global value too: one more secret, once.
    for _ in 0..2 {
        let (status, _) = get(
            app_token.clone(),
            "/chain/providers.phaxio.api_key?user=dr_house&reveal=true",
        )
        .await;
        assert_eq!(status, 200);
    }
    assert_eq!(events(&server, "secret.reveal").await, before + 3);

    // Listed with its scopes.
    let (_, listed) = mercy.get("/tokens").await;
    let scopes: Vec<Value> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["scopes"].clone())
        .collect();
    assert!(scopes.contains(&json!(["read", "secrets"])), "{listed}");
    // Scopes outside the contract are refused, naming the field.
    let (status, body) = mercy
        .send(
            Method::POST,
            "/tokens",
            Some(json!({"name": "x", "scopes": ["write"]})),
        )
        .await;
    assert_eq!(status, 422);
    assert!(message(&body).starts_with("scopes:"), "{body}");
}
