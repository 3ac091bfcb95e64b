//! The HTTP API over real HTTP against a real database: shapes and status codes of
//! ../shared/API.md, ETags, and the same policy as the console.

use std::net::SocketAddr;

use app::backend::AppState;
use app::backend::accounts;
use app::backend::audit::Actor;
use app::backend::testing::TestDatabase;
use app::domain::name::Slug;
use reqwest::StatusCode;
use serde_json::{Value, json};
use server::http::{leptos_options, router};
use server::settings::Settings;

const PASSWORD: &str = "api tests password";

struct Api {
    base: String,
    client: reqwest::Client,
    state: AppState,
    _db: TestDatabase,
}

async fn start() -> Api {
    let db = TestDatabase::new().await;
    let state = db.state().await;
    app::backend::demo::load(&state, &Actor::named("tests"))
        .await
        .unwrap();
    for user in ["mercy_admin", "dr_house", "root", "medical_head"] {
        accounts::set_password(
            &state,
            &Actor::named("tests"),
            &Slug::parse("user", user).unwrap(),
            PASSWORD.into(),
        )
        .await
        .unwrap();
    }
    let settings = Settings::from_lookup(|_| None).unwrap();
    let app = router(state.clone(), leptos_options(&settings), &settings);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap()
    });
    Api {
        base: format!("http://{addr}/api/v1"),
        client: reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap(),
        state,
        _db: db,
    }
}

impl Api {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn sign_in(&self, user: &str) {
        let response = self
            .client
            .post(self.url("/session"))
            .json(&json!({"username": user, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{user}");
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let response = self
            .client
            .put(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

fn assert_error(body: &Value, code: &str) {
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

#[tokio::test]
async fn sessions_and_me() {
    let api = start().await;
    let (status, body) = api.get("/me").await;
    assert_eq!(status, 401);
    assert_error(&body, "unauthenticated");

    let refused = api
        .client
        .post(api.url("/session"))
        .json(&json!({"username": "mercy_admin", "password": "wrong password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert_error(&refused.json().await.unwrap(), "unauthenticated");
    let unknown_field = api
        .client
        .post(api.url("/session"))
        .json(&json!({"username": "mercy_admin", "password": PASSWORD, "remember": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown_field.status(), 422);
    let body: Value = unknown_field.json().await.unwrap();
    assert_error(&body, "invalid_input");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("remember"),
        "{body}"
    );

    let signed_in: Value = api
        .client
        .post(api.url("/session"))
        .json(&json!({"username": "mercy_admin", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(signed_in["user"]["id"], "mercy_admin");
    let (status, me) = api.get("/me").await;
    assert_eq!(status, 200);
    assert_eq!(me["tenant"], "mercy_hospital");
    assert_eq!(me["department"], "it");
    assert_eq!(me["name"], "Maria Santos");
    assert!(
        me["traits"]
            .as_array()
            .unwrap()
            .contains(&json!("tenant_admin"))
    );

    let out = api.client.delete(api.url("/session")).send().await.unwrap();
    assert_eq!(out.status(), 204);
    assert_eq!(api.get("/me").await.0, 401);
}

#[tokio::test]
async fn effective_configuration_with_etags() {
    let api = start().await;
    api.sign_in("mercy_admin").await;
    let response = api
        .client
        .get(api.url("/effective?user=dr_house"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let tag = response.headers()["etag"].to_str().unwrap().to_owned();
    assert!(
        tag.starts_with('"') && tag.ends_with('"'),
        "a strong ETag: {tag}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["fax.backend.provider"],
        json!({"value": "sip", "level": "group", "scope": "mercy_hospital/emergency_doctors"})
    );
    assert_eq!(body["providers.phaxio.api_key"]["value"], "••••••");

    let unchanged = api
        .client
        .get(api.url("/effective?user=dr_house"))
        .header("if-none-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(unchanged.status(), 304);
    assert_eq!(unchanged.headers()["etag"].to_str().unwrap(), tag);
    assert!(unchanged.bytes().await.unwrap().is_empty());

    // Another tenant's change leaves this ETag alone; a change in the chain replaces it.
    app::backend::entries::set_entry(
        &api.state,
        &Actor::named("tests"),
        app::backend::entries::SetEntry {
            key: app::domain::name::ConfigKey::parse("fax.retry_attempts").unwrap(),
            scope: "tenant:general_hospital".parse().unwrap(),
            value: json!(1),
            locked: None,
            expect_version: None,
            reason: None,
        },
    )
    .await
    .unwrap();
    let still = api
        .client
        .get(api.url("/effective?user=dr_house"))
        .header("if-none-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(still.status(), 304);
    let (status, _) = api
        .put(
            "/entries/ui.theme?scope=user:dr_house",
            json!({"value": "light"}),
        )
        .await;
    assert_eq!(status, 200);
    let changed = api
        .client
        .get(api.url("/effective?user=dr_house"))
        .header("if-none-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    assert_ne!(changed.headers()["etag"].to_str().unwrap(), tag);

    // What-if contexts, and what the caller may not see.
    let (status, what_if) = api
        .get("/effective?tenant=mercy_hospital&department=marketing&group=doctors")
        .await;
    assert_eq!(status, 200);
    assert_eq!(what_if["features.chat.enabled"]["value"], false);
    assert_eq!(api.get("/effective?user=dr_patel").await.0, 404);
    assert_eq!(api.get("/effective?tenant=general_hospital").await.0, 404);
    let (status, body) = api.get("/effective?colour=blue").await;
    assert_eq!(status, 422);
    assert_error(&body, "invalid_input");

    // Revealing needs secrets_read (mercy_admin has it) and is audited.
    let (status, revealed) = api.get("/effective?user=dr_house&reveal=true").await;
    assert_eq!(status, 200);
    assert_eq!(
        revealed["providers.phaxio.api_key"]["value"],
        "phx_live_mercy_77c41d09e3"
    );
}

#[tokio::test]
async fn chain_entries_and_their_errors() {
    let api = start().await;
    api.sign_in("mercy_admin").await;
    let (status, chain) = api.get("/chain/fax.backend.provider?user=dr_house").await;
    assert_eq!(status, 200);
    let states: Vec<&str> = chain
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["state"].as_str().unwrap())
        .collect();
    assert_eq!(states.last(), Some(&"applied"));
    assert_eq!(chain[0]["level"], "default");

    let (status, listed) = api.get("/entries?scope=tenant:mercy_hospital").await;
    assert_eq!(status, 200);
    let color = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"] == "branding.color")
        .unwrap();
    for field in [
        "key",
        "value",
        "locked",
        "version",
        "updated_at",
        "updated_by",
    ] {
        assert!(color.get(field).is_some(), "missing {field}");
    }

    let (status, entry) = api
        .put(
            "/entries/branding.color?scope=tenant:mercy_hospital",
            json!({"value": "#112233", "expect_version": 1, "reason": "rebrand"}),
        )
        .await;
    assert_eq!(status, 200, "{entry}");
    assert_eq!(
        (entry["value"].clone(), entry["version"].clone()),
        (json!("#112233"), json!(2))
    );
    let (status, conflict) = api
        .put(
            "/entries/branding.color?scope=tenant:mercy_hospital",
            json!({"value": "#445566", "expect_version": 1}),
        )
        .await;
    assert_eq!(status, 409);
    assert_error(&conflict, "conflict");
    assert_eq!(conflict["current"]["value"], "#112233");
    let (status, invalid) = api
        .put(
            "/entries/branding.color?scope=tenant:mercy_hospital",
            json!({"value": "red"}),
        )
        .await;
    assert_eq!(status, 422);
    assert!(
        invalid["error"]["message"]
            .as_str()
            .unwrap()
            .contains("branding.color"),
        "{invalid}"
    );
    let (status, unknown) = api
        .put(
            "/entries/branding.color?scope=tenant:mercy_hospital",
            json!({"value": "#000000", "colour": 1}),
        )
        .await;
    assert_eq!(status, 422);
    assert!(
        unknown["error"]["message"]
            .as_str()
            .unwrap()
            .contains("colour"),
        "{unknown}"
    );
    let big = "x".repeat(1024 * 1024 + 10);
    let (status, too_large) = api
        .put(
            "/entries/branding.logo_url?scope=tenant:mercy_hospital",
            json!({"value": big}),
        )
        .await;
    assert_eq!(status, 413);
    assert_error(&too_large, "payload_too_large");
    let (status, _) = api
        .put(
            "/entries/branding.color?scope=tenant:general_hospital",
            json!({"value": "#000000"}),
        )
        .await;
    assert_eq!(status, 404);
    let (status, forbidden) = api
        .put(
            "/entries/branding.color?scope=global",
            json!({"value": "#000000"}),
        )
        .await;
    assert_eq!(status, 403);
    assert_error(&forbidden, "forbidden");

    let deleted = api
        .client
        .delete(api.url("/entries/branding.color?scope=tenant:mercy_hospital&expect_version=2"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let again = api
        .client
        .delete(api.url("/entries/branding.color?scope=tenant:mercy_hospital"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);

    let (status, keys) = api.get("/keys").await;
    assert_eq!(status, 200);
    let fax = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key"] == "fax.backend.provider")
        .unwrap();
    assert_eq!(fax["type"], "enum");
    assert_eq!(fax["options"], json!(["phaxio", "sip"]));

    let (status, body) = api.get("/no/such/route").await;
    assert_eq!(status, 404);
    assert_error(&body, "not_found");
}

#[tokio::test]
async fn a_forged_cross_site_write_is_refused() {
    let api = start().await;
    api.sign_in("mercy_admin").await;
    let forged = api
        .client
        .put(api.url("/entries/branding.color?scope=tenant:mercy_hospital"))
        .header("origin", "https://evil.example")
        .json(&json!({"value": "#000000"}))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let (_, listed) = api.get("/entries?scope=tenant:mercy_hospital").await;
    let color = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"] == "branding.color")
        .unwrap();
    assert_eq!(color["value"], "#8E244D");
}

#[tokio::test]
async fn tokens_act_as_their_creator_narrowed_to_their_scopes() {
    let api = start().await;
    api.sign_in("mercy_admin").await;
    let created = api
        .client
        .post(api.url("/tokens"))
        .json(&json!({"name": "fax service", "scopes": ["read"], "expires_in_days": 30}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("strata_") && token.len() > 40, "{token}");
    let (status, bad) = api
        .put("/entries/x?scope=global", json!({"value": 1}))
        .await;
    assert!(status.is_client_error(), "{bad}");
    let invalid = api
        .client
        .post(api.url("/tokens"))
        .json(&json!({"name": "x", "scopes": ["admin"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), 422);

    let (status, listed) = api.get("/tokens").await;
    assert_eq!(status, 200);
    assert_eq!(listed[0]["name"], "fax service");
    assert_eq!(listed[0]["scopes"], json!(["read"]));
    assert!(listed[0]["expires_at"].is_string());
    assert!(
        !listed.to_string().contains(&token),
        "a token is shown once"
    );

    // Only its hash is stored.
    let row = sea_orm::ConnectionTrait::query_one_raw(
        &api.state.db,
        sea_orm::Statement::from_string(
            api.state.db.get_database_backend(),
            "SELECT token_hash FROM api_tokens",
        ),
    )
    .await
    .unwrap()
    .unwrap();
    let stored: String = row.try_get("", "token_hash").unwrap();
    assert!(!stored.contains(&token[7..]) && stored.len() == 64);

    let app = reqwest::Client::new();
    let bearer = format!("Bearer {token}");
    let effective = app
        .get(api.url("/effective?user=dr_house"))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(effective.status(), 200);
    let other_tenant = app
        .get(api.url("/effective?user=dr_patel"))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(other_tenant.status(), 404);
    let write = app
        .put(api.url("/entries/branding.color?scope=tenant:mercy_hospital"))
        .header("authorization", &bearer)
        .json(&json!({"value": "#000000"}))
        .send()
        .await
        .unwrap();
    assert_eq!(write.status(), 403);
    let (_, listed) = api.get("/entries?scope=tenant:mercy_hospital").await;
    assert_eq!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["key"] == "branding.color")
            .unwrap()["value"],
        "#8E244D"
    );
    let manage = app
        .get(api.url("/tokens"))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(manage.status(), 403);

    let writer: Value = api
        .client
        .post(api.url("/tokens"))
        .json(&json!({"name": "deployer", "scopes": ["read", "write"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let write = app
        .put(api.url("/entries/branding.color?scope=tenant:mercy_hospital"))
        .header(
            "authorization",
            format!("Bearer {}", writer["token"].as_str().unwrap()),
        )
        .json(&json!({"value": "#000000"}))
        .send()
        .await
        .unwrap();
    assert_eq!(write.status(), 200);

    // Revoked: refused and the attempt audited.
    let revoked = api
        .client
        .delete(api.url(&format!("/tokens/{}", created["id"])))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    let refused = app
        .get(api.url("/effective?user=dr_house"))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let events = app::backend::audit::list(
        &api.state.db,
        &app::backend::audit::AuditFilter {
            limit: Some(3),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions[0], "token.revoked_use");
    assert!(actions.contains(&"token.revoke"));
    let garbage = app
        .get(api.url("/me"))
        .header("authorization", "Bearer strata_nonsense")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 401);
}

#[tokio::test]
async fn the_audit_shows_each_admin_only_their_events() {
    let api = start().await;
    api.sign_in("root").await;
    let (status, first) = api.get("/audit?limit=5").await;
    assert_eq!(status, 200);
    let events = first["events"].as_array().unwrap();
    assert_eq!(events.len(), 5);
    let ids: Vec<i64> = events.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    assert_eq!(first["next_before_id"], ids[4]);
    let (_, second) = api
        .get(&format!("/audit?limit=5&before_id={}", ids[4]))
        .await;
    assert!(second["events"][0]["id"].as_i64().unwrap() < ids[4]);
    let (status, verify) = api.get("/audit/verify").await;
    assert_eq!(status, 200);
    assert_eq!(verify["ok"], true);
    assert!(verify["events"].as_i64().unwrap() > 90);
    let (_, general) = api.get("/audit?tenant=general_hospital&limit=500").await;
    assert!(!general["events"].as_array().unwrap().is_empty());
    let (_, filtered) = api.get("/audit?action=user.create&limit=500").await;
    assert!(
        filtered["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["action"] == "user.create")
    );

    let tenant_admin = start_as(&api, "mercy_admin").await;
    let (_, seen) = tenant_admin.get("/audit?limit=500").await;
    let seen = seen["events"].as_array().unwrap().clone();
    assert!(!seen.is_empty());
    assert!(
        seen.iter()
            .all(|e| e["tenant"].is_null() || e["tenant"] == "mercy_hospital"),
        "another tenant's event leaked"
    );
    assert!(
        !serde_json::to_string(&seen)
            .unwrap()
            .contains("general_hospital")
    );
    let (status, _) = tenant_admin.get("/audit/verify").await;
    assert_eq!(status, 403);

    let dept_admin = start_as(&api, "medical_head").await;
    let (_, seen) = dept_admin.get("/audit?limit=500").await;
    for e in seen["events"].as_array().unwrap() {
        match e["level"].as_str() {
            Some("department") | Some("user") if !e["tenant"].is_null() => {
                assert_eq!(e["department"], "medical", "{e}")
            }
            Some("group") => panic!("a department admin saw a group event: {e}"),
            _ => {}
        }
        assert!(
            e["tenant"].is_null() || e["tenant"] == "mercy_hospital",
            "{e}"
        );
    }

    for bad in [
        "/audit?since=yesterday",
        "/audit?limit=0",
        "/audit?colour=blue",
    ] {
        let (status, body) = api.get(bad).await;
        assert_eq!(status, 422, "{bad}: {body}");
        assert_error(&body, "invalid_input");
    }
}

/// Another signed-in client on the same server.
async fn start_as(api: &Api, user: &str) -> Api2 {
    let other = Api2 {
        base: api.base.clone(),
        client: reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap(),
    };
    let response = other
        .client
        .post(format!("{}/session", other.base))
        .json(&json!({"username": user, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    other
}

struct Api2 {
    base: String,
    client: reqwest::Client,
}

impl Api2 {
    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}
