//! Trait-gated authorization and tenant isolation through the real server (HTTP): every
//! refusal answers as DESIGN §3 says and writes nothing, audit included.

use std::net::SocketAddr;

use app::backend::AppState;
use app::backend::accounts;
use app::backend::audit::Actor;
use app::backend::testing::TestDatabase;
use app::domain::name::Slug;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::Value;
use server::http::{leptos_options, router};
use server::settings::Settings;

const PASSWORD: &str = "isolation password";

struct Server {
    base: String,
    state: AppState,
    _db: TestDatabase,
}

async fn start() -> Server {
    let db = TestDatabase::new().await;
    let state = db.state().await;
    app::backend::demo::load(&state, &Actor::named("tests"))
        .await
        .unwrap();
    for user in [
        "mercy_admin",
        "mercy_viewer",
        "medical_head",
        "general_admin",
        "root",
        "it_lead",
        "dr_grey",
    ] {
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
    Server {
        base: format!("http://{addr}"),
        state,
        _db: db,
    }
}

async fn signed_in(server: &Server, user: &str) -> reqwest::Client {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = client
        .post(format!("{}/fn/login", server.base))
        .header("accept", "application/json")
        .form(&[("username", user), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success() || response.status().is_redirection(),
        "{user}: {}",
        response.status()
    );
    client
}

async fn call(
    server: &Server,
    client: &reqwest::Client,
    function: &str,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let response = client
        .post(format!("{}/fn/{function}", server.base))
        .header("accept", "application/json")
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Rows in entries and audit events (logins aside).
async fn written(state: &AppState) -> (i64, i64) {
    let count = |sql: &'static str| async move {
        let row = state
            .db
            .query_one_raw(Statement::from_string(state.db.get_database_backend(), sql))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "n").unwrap()
    };
    (
        count("SELECT COUNT(*) AS n FROM entries").await,
        count("SELECT COUNT(*) AS n FROM audit_events WHERE action NOT LIKE 'login%'").await,
    )
}

fn set<'a>(scope: &'a str, key: &'a str, value: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![("scope", scope), ("key", key), ("value", value)]
}

#[tokio::test]
async fn another_tenant_is_not_found_and_refusals_write_nothing() {
    let server = start().await;
    let mercy = signed_in(&server, "mercy_admin").await;
    let before = written(&server.state).await;

    // Not readable, not writable, not even revealed to exist.
    let (status, body) = call(
        &server,
        &mercy,
        "scope_entries",
        &[("scope", "tenant:general_hospital")],
    )
    .await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = call(
        &server,
        &mercy,
        "scope_entries",
        &[("scope", "user:dr_patel")],
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = call(
        &server,
        &mercy,
        "scope_entries",
        &[("scope", "tenant:no_such_tenant")],
    )
    .await;
    assert_eq!(status, 404);
    for (scope, key, value) in [
        ("tenant:general_hospital", "fax.backend.provider", "phaxio"),
        (
            "department:general_hospital/cardiology",
            "fax.retry_attempts",
            "1",
        ),
        ("user:dr_patel", "ui.theme", "dark"),
    ] {
        let (status, _) = call(&server, &mercy, "save_entry", &set(scope, key, value)).await;
        assert_eq!(status, 404, "{scope}");
    }
    let (status, _) = call(
        &server,
        &mercy,
        "remove_entry",
        &[
            ("scope", "tenant:general_hospital"),
            ("key", "fax.backend.provider"),
        ],
    )
    .await;
    assert_eq!(status, 404);
    // The global level is readable but not writable for a tenant admin.
    let (status, _) = call(&server, &mercy, "scope_entries", &[("scope", "global")]).await;
    assert_eq!(status, 200);
    let (status, body) = call(
        &server,
        &mercy,
        "save_entry",
        &set("global", "fax.backend.provider", "sip"),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    // The editor and the lock action answer alike.
    let (status, _) = call(
        &server,
        &mercy,
        "editor",
        &[("scope", "tenant:general_hospital")],
    )
    .await;
    assert_eq!(status, 404);
    let lock = |scope: &'static str| {
        vec![
            ("scope", scope),
            ("key", "fax.backend.provider"),
            ("locked", "true"),
        ]
    };
    let (status, _) = call(
        &server,
        &mercy,
        "lock_entry",
        &lock("tenant:general_hospital"),
    )
    .await;
    assert_eq!(status, 404);
    let (status, body) = call(&server, &mercy, "lock_entry", &lock("global")).await;
    assert_eq!(status, 403, "{body}");
    let (status, editor) = call(&server, &mercy, "editor", &[("scope", "global")]).await;
    assert_eq!(status, 200, "{editor}");
    let provider = editor["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "fax.backend.provider")
        .unwrap();
    assert_eq!(
        provider["refusal"], "only super admins change the global level",
        "{provider}"
    );
    let levels = editor["levels"].as_array().unwrap();
    let tenant_level = levels.iter().find(|l| l["level"] == "tenant").unwrap();
    assert_eq!(
        tenant_level["scopes"],
        serde_json::json!(["tenant:mercy_hospital"])
    );
    assert_eq!(
        written(&server.state).await,
        before,
        "a refused request wrote something"
    );

    // Their own tenant works.
    let (status, body) = call(
        &server,
        &mercy,
        "save_entry",
        &set("tenant:mercy_hospital", "fax.retry_attempts", "4"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["version"], 1);
    let (entries, events) = written(&server.state).await;
    assert_eq!((entries, events), (before.0 + 1, before.1 + 1));
    let (status, listed) = call(
        &server,
        &mercy,
        "scope_entries",
        &[("scope", "tenant:mercy_hospital")],
    )
    .await;
    assert_eq!(status, 200);
    let api_key = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"] == "providers.phaxio.api_key")
        .unwrap();
    assert_eq!(api_key["value"], "••••••");
    let audit = server
        .state
        .db
        .query_one_raw(Statement::from_string(
            server.state.db.get_database_backend(),
            "SELECT actor FROM audit_events ORDER BY id DESC LIMIT 1",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(audit.try_get::<String>("", "actor").unwrap(), "mercy_admin");
}

#[tokio::test]
async fn traits_decide_which_levels_an_admin_may_change() {
    let server = start().await;
    let before = written(&server.state).await;

    let viewer = signed_in(&server, "mercy_viewer").await; // tenant_admin without config_write
    let (status, body) = call(
        &server,
        &viewer,
        "save_entry",
        &set("tenant:mercy_hospital", "fax.retry_attempts", "4"),
    )
    .await;
    assert_eq!(status, 403);
    assert!(body.to_string().contains("read-only"), "{body}");
    let (status, _) = call(
        &server,
        &viewer,
        "scope_entries",
        &[("scope", "department:mercy_hospital/medical")],
    )
    .await;
    assert_eq!(status, 200);

    let head = signed_in(&server, "medical_head").await; // dept_admin of medical
    for (scope, key) in [
        ("tenant:mercy_hospital", "fax.retry_attempts"),
        ("department:mercy_hospital/marketing", "fax.retry_attempts"),
        ("group:mercy_hospital/doctors", "fax.retry_attempts"),
        ("user:marketer_mia", "ui.theme"),
    ] {
        let (status, body) = call(&server, &head, "save_entry", &set(scope, key, "\"dark\"")).await;
        assert_eq!(status, 403, "{scope}: {body}");
    }
    let (status, _) = call(
        &server,
        &head,
        "scope_entries",
        &[("scope", "department:mercy_hospital/marketing")],
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(
        written(&server.state).await,
        before,
        "a refused request wrote something"
    );

    let (status, body) = call(
        &server,
        &head,
        "save_entry",
        &set(
            "department:mercy_hospital/medical",
            "fax.retry_attempts",
            "6",
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = call(
        &server,
        &head,
        "save_entry",
        &set("user:dr_grey", "ui.theme", "dark"),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // Invalid values are refused with the field named, and write nothing either.
    let after = written(&server.state).await;
    let (status, body) = call(
        &server,
        &head,
        "save_entry",
        &set(
            "department:mercy_hospital/medical",
            "fax.retry_attempts",
            "99",
        ),
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        body.to_string()
            .contains("expected integer between 0 and 10, got 99"),
        "{body}"
    );
    let (status, _) = call(
        &server,
        &head,
        "save_entry",
        &set("department:Medical", "fax.retry_attempts", "1"),
    )
    .await;
    assert_eq!(status, 422);
    // A stale version is a conflict that carries the current value.
    let mut stale = set(
        "department:mercy_hospital/medical",
        "fax.retry_attempts",
        "7",
    );
    stale.push(("expect_version", "0"));
    let (status, body) = call(&server, &head, "save_entry", &stale).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body.to_string().contains("changed since version 0"),
        "{body}"
    );
    assert_eq!(written(&server.state).await, after);

    // A super admin may change the global level; someone without the console trait may not sign in.
    let root = signed_in(&server, "root").await;
    let (status, _) = call(
        &server,
        &root,
        "save_entry",
        &set("global", "fax.retry_attempts", "2"),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn revealing_secrets_needs_secrets_read_and_is_audited() {
    let server = start().await;
    let before = written(&server.state).await;
    let viewer = signed_in(&server, "mercy_viewer").await;
    let reveal = [("scope", "tenant:mercy_hospital"), ("reveal", "true")];
    let (status, body) = call(&server, &viewer, "scope_entries", &reveal).await;
    assert_eq!(status, 403);
    assert!(body.to_string().contains("secrets_read"), "{body}");
    assert!(!body.to_string().contains("phx_live"));
    assert_eq!(written(&server.state).await, before);

    let admin = signed_in(&server, "mercy_admin").await;
    let (status, listed) = call(&server, &admin, "scope_entries", &reveal).await;
    assert_eq!(status, 200);
    let api_key = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"] == "providers.phaxio.api_key")
        .unwrap();
    assert_eq!(api_key["value"], "phx_live_mercy_77c41d09e3");
    assert_eq!(
        written(&server.state).await,
        (before.0, before.1 + 1),
        "the reveal was not audited"
    );
}

/// An account without `admin_capable` signs in to "My settings" and nothing else: its own
/// `user_editable` keys, which it may change (audited), while every console function and
/// every other key or scope stays closed.
#[tokio::test]
async fn accounts_without_the_console_trait_get_their_own_settings_only() {
    let server = start().await;
    let grey = signed_in(&server, "dr_grey").await;
    let (status, body) = call(&server, &grey, "scope_entries", &[("scope", "global")]).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.to_string().contains("may not use the admin console"),
        "{body}"
    );
    let (status, me) = call(&server, &grey, "whoami", &[]).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(
        (me["user"].as_str(), me["console"].as_bool()),
        (Some("dr_grey"), Some(false))
    );

    let (status, mine) = call(&server, &grey, "my_settings", &[]).await;
    assert_eq!(status, 200, "{mine}");
    let keys: Vec<&str> = mine["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    assert!(keys.contains(&"ui.theme"), "{keys:?}");
    assert!(
        mine["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["user_editable"] == true),
        "only keys users set for themselves"
    );
    let before = written(&server.state).await;
    let (status, body) = call(
        &server,
        &grey,
        "save_my_setting",
        &[("key", "ui.theme"), ("value", "dark")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(written(&server.state).await, (before.0 + 1, before.1 + 1));
    let (_, mine) = call(&server, &grey, "my_settings", &[]).await;
    let theme = mine["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "ui.theme")
        .unwrap();
    assert_eq!(theme["effective"], "dark");
    assert_eq!(theme["here"]["value"], "dark");

    // Refusals write nothing: a key users do not set for themselves, a bad value, a key that
    // does not exist. There is no way to name another user's scope.
    let before = written(&server.state).await;
    for (key, value, status) in [
        ("fax.retry_attempts", "5", 403),
        ("ui.theme", "purple", 422),
        ("no.such_key", "1", 404),
    ] {
        let (got, body) = call(
            &server,
            &grey,
            "save_my_setting",
            &[("key", key), ("value", value)],
        )
        .await;
        assert_eq!(got, status, "{key}: {body}");
    }
    assert_eq!(written(&server.state).await, before);
    // A scope in the form is no parameter of the function: the write is the signer's own.
    let (status, body) = call(
        &server,
        &grey,
        "save_my_setting",
        &[
            ("key", "ui.theme"),
            ("value", "light"),
            ("scope", "user:dr_house"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let house =
        app::backend::entries::list(&server.state, &"user:dr_house".parse().unwrap(), false)
            .await
            .unwrap();
    let theme = house.iter().find(|e| e.key == "ui.theme").unwrap();
    assert_eq!(theme.value, "dark", "dr_house keeps his own theme");
    let (_, mine) = call(&server, &grey, "my_settings", &[]).await;
    assert!(
        mine["rows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["key"] == "ui.theme" && r["effective"] == "light")
    );

    let (status, body) = call(&server, &grey, "clear_my_setting", &[("key", "ui.theme")]).await;
    assert_eq!(status, 200, "{body}");
    let (_, mine) = call(&server, &grey, "my_settings", &[]).await;
    let theme = mine["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "ui.theme")
        .unwrap();
    assert_eq!(theme["here"], Value::Null);

    // Signed out, nothing.
    let anonymous = reqwest::Client::new();
    let (status, _) = call(&server, &anonymous, "my_settings", &[]).await;
    assert_eq!(status, 401);
    let (status, _) = call(
        &server,
        &anonymous,
        "save_my_setting",
        &[("key", "ui.theme"), ("value", "dark")],
    )
    .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_session_made_through_the_api_opens_no_console_function_without_the_trait() {
    let server = start().await;
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let response = client
        .post(format!("{}/api/v1/session", server.base))
        .json(&serde_json::json!({"username": "dr_grey", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        200,
        "the API lets any account with a password in"
    );
    let (status, body) = call(&server, &client, "scope_entries", &[("scope", "global")]).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.to_string().contains("may not use the admin console"),
        "{body}"
    );
    let (status, body) = call(&server, &client, "whoami", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["console"], false,
        "signed in, but not to the console: {body}"
    );
}

#[tokio::test]
async fn the_editor_history_shows_only_events_the_viewer_may_read() {
    let server = start().await;
    let root = signed_in(&server, "root").await;
    let scope = "group:mercy_hospital/doctors";
    let (status, body) = call(
        &server,
        &root,
        "save_entry",
        &set(scope, "ui.theme", "dark"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let history = |body: &Value| body["history"].as_array().unwrap().len();
    let expanded = [("scope", scope), ("key", "ui.theme")];

    let mercy = signed_in(&server, "mercy_admin").await;
    let (status, body) = call(&server, &mercy, "editor", &expanded).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        history(&body),
        1,
        "a tenant admin sees the group's change: {body}"
    );

    // A department admin may read the group they belong to, but not who changed it.
    let medical = signed_in(&server, "medical_head").await;
    let (status, body) = call(&server, &medical, "editor", &expanded).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(history(&body), 0, "{body}");
}
