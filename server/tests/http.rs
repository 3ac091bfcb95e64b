//! The HTTP surface over real loopback HTTP, against a real database: probes, pages behind
//! sign-in, sessions, security headers and the refusal of cross-site requests.

use std::net::SocketAddr;

use app::backend::AppState;
use app::backend::testing::TestDatabase;
use migrations::MigratorTrait;
use sea_orm::{ConnectionTrait, Statement};
use server::http::{leptos_options, router};
use server::settings::Settings;

const PASSWORD: &str = "http tests password";

struct TestServer {
    base: String,
    state: AppState,
    _db: TestDatabase,
    _site: tempfile::TempDir,
}

async fn start_with(vars: &[(&str, &str)]) -> TestServer {
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(site.path().join("pkg")).unwrap();
    std::fs::write(site.path().join("pkg/strata.css"), "body{}").unwrap();
    start_on(site, vars).await
}

/// A server on the site in `site`.
async fn start_on(site: tempfile::TempDir, vars: &[(&str, &str)]) -> TestServer {
    let db = TestDatabase::new().await;
    let mut settings = Settings::from_lookup(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    })
    .unwrap();
    settings.site_root = site.path().to_owned();
    let state = db.state().await;
    app::backend::accounts::ensure_super_admin(&state, Some(PASSWORD.into()))
        .await
        .unwrap();
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
    TestServer {
        base: format!("http://{addr}"),
        state,
        _db: db,
        _site: site,
    }
}

async fn start() -> TestServer {
    start_with(&[]).await
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn sign_in(
    server: &TestServer,
    client: &reqwest::Client,
    password: &str,
) -> reqwest::Response {
    client
        .post(format!("{}/fn/login", server.base))
        .header("accept", "application/json")
        .form(&[("username", "admin"), ("password", password)])
        .send()
        .await
        .unwrap()
}

async fn count(state: &AppState, sql: &str) -> i64 {
    let row = state
        .db
        .query_one_raw(Statement::from_string(state.db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get("", "n").unwrap()
}

#[tokio::test]
async fn health_and_readiness_answer_while_the_database_does() {
    let server = start().await;
    let client = reqwest::Client::new();
    let health = client
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert!(health.headers().contains_key("x-request-id"));
    assert_eq!(health.text().await.unwrap(), "ok");
    let ready = client
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);

    // Without a database the process is alive but not ready.
    server.state.db.clone().close().await.unwrap();
    let ready = client
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    let health = client
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn pages_need_a_session_and_sign_in_opens_them() {
    let server = start().await;
    let client = browser();
    let page = client
        .get(format!("{}/audit", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 303);
    assert_eq!(page.headers()["location"], "/login");
    let login_page = client
        .get(format!("{}/login", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(login_page.status(), 200);
    let before = login_page.headers().get("set-cookie").cloned();

    let signed_in = sign_in(&server, &client, PASSWORD).await;
    assert!(
        signed_in.status().is_success() || signed_in.status().is_redirection(),
        "{}",
        signed_in.status()
    );
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("strata_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "development cookies work over plain HTTP"
    );
    assert_ne!(
        before.map(|c| c.to_str().unwrap().to_owned()),
        Some(cookie.clone())
    );
    assert_eq!(
        count(&server.state, "SELECT COUNT(*) AS n FROM sessions").await,
        1
    );

    let page = client
        .get(format!("{}/", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    for section in ["Overview", "Configuration", "Preview", "Audit", "Directory"] {
        assert!(html.contains(section), "navigation lacks {section}");
    }
    assert!(html.contains("/pkg/strata.js"), "no hydration script");
    assert!(html.contains("signed-in-as"), "the account is not shown");
    let backend = app::backend::db::backend_name(&server.state.db);
    assert!(html.contains(backend), "no database status in the page");

    // Signing out ends the session on the server.
    let out = client
        .post(format!("{}/fn/logout", server.base))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert!(out.status().is_success() || out.status().is_redirection());
    assert_eq!(
        count(&server.state, "SELECT COUNT(*) AS n FROM sessions").await,
        0
    );
    let page = client
        .get(format!("{}/", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 303);
}

#[tokio::test]
async fn a_wrong_password_is_refused_and_audited_and_throttled() {
    let server = start().await;
    let client = browser();
    for _ in 0..5 {
        let refused = sign_in(&server, &client, "not the password").await;
        assert_eq!(refused.status(), 401);
        assert!(
            refused
                .text()
                .await
                .unwrap()
                .contains("the user name or password is not correct")
        );
    }
    let throttled = sign_in(&server, &client, PASSWORD).await;
    assert_eq!(throttled.status(), 429);
    assert!(throttled.headers().contains_key("retry-after"));
    assert_eq!(
        count(
            &server.state,
            "SELECT COUNT(*) AS n FROM sessions WHERE data LIKE '%auth%'"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &server.state,
            "SELECT COUNT(*) AS n FROM audit_events WHERE action = 'login.failure'"
        )
        .await,
        5
    );
    assert_eq!(
        count(
            &server.state,
            "SELECT COUNT(*) AS n FROM login_failures WHERE client_ip = '127.0.0.1'"
        )
        .await,
        5
    );
}

#[tokio::test]
async fn server_functions_authorise_themselves() {
    let server = start().await;
    let anonymous = browser();
    let response = anonymous
        .post(format!("{}/fn/whoami", server.base))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "null");
    let status = anonymous
        .post(format!("{}/fn/check_database", server.base))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(status.status(), 401);

    let client = browser();
    sign_in(&server, &client, PASSWORD).await;
    let me: serde_json::Value = client
        .post(format!("{}/fn/whoami", server.base))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"], "admin");
    let body: serde_json::Value = client
        .post(format!("{}/fn/check_database", server.base))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let migrations = migrations::Migrator::migrations();
    assert_eq!(body["applied_migrations"], migrations.len());
    assert_eq!(body["latest_migration"], migrations.last().unwrap().name());
}

#[tokio::test]
async fn responses_carry_security_headers_with_a_fresh_nonce() {
    let server = start().await;
    let page = reqwest::get(format!("{}/login", server.base))
        .await
        .unwrap();
    let headers = page.headers().clone();
    let csp = headers["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'self'"),
        "{csp}"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "same-origin");
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap()
        .to_owned();
    let html = page.text().await.unwrap();
    assert!(
        html.contains(&format!("nonce=\"{nonce}\"")),
        "inline scripts lack the nonce"
    );
    let again = reqwest::get(format!("{}/login", server.base))
        .await
        .unwrap();
    assert!(
        !again.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains(&nonce)
    );
}

#[tokio::test]
async fn cross_site_state_changes_are_refused_and_write_nothing() {
    let server = start().await;
    let forged = reqwest::Client::new()
        .post(format!("{}/fn/login", server.base))
        .header("origin", "https://evil.example")
        .form(&[("username", "admin"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let body: serde_json::Value = forged.json().await.unwrap();
    assert_eq!(body["error"]["code"], "forbidden");
    let fetched = reqwest::Client::new()
        .post(format!("{}/fn/login", server.base))
        .header("sec-fetch-site", "cross-site")
        .form(&[("username", "admin"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(fetched.status(), 403);
    assert_eq!(
        count(&server.state, "SELECT COUNT(*) AS n FROM sessions").await,
        0
    );
    assert_eq!(
        count(
            &server.state,
            "SELECT COUNT(*) AS n FROM audit_events WHERE action LIKE 'login%'"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn sessions_end_after_their_lifetime_and_in_production_cookies_are_secure() {
    let server = start_with(&[("STRATA_SESSION_IDLE_SECONDS", "5")]).await;
    let client = browser();
    let signed_in = sign_in(&server, &client, PASSWORD).await;
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.contains("Max-Age=5"), "{cookie}");
    // Expire it in the store, as time would.
    server
        .state
        .db
        .execute_unprepared("UPDATE sessions SET expires_at = '2000-01-01 00:00:00+00'")
        .await
        .unwrap();
    let page = client
        .get(format!("{}/", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 303);

    let key = app::backend::crypto::SecretBox::generate_key();
    let server = start_with(&[("STRATA_ENV", "production"), ("STRATA_MASTER_KEY", &key)]).await;
    let signed_in = sign_in(&server, &browser(), PASSWORD).await;
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.contains("Secure"), "{cookie}");
}

#[tokio::test]
async fn unknown_pages_answer_404_once_signed_in() {
    let server = start().await;
    let client = browser();
    sign_in(&server, &client, PASSWORD).await;
    let response = client
        .get(format!("{}/no/such/page", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert!(response.text().await.unwrap().contains("Page not found"));
    let css = client
        .get(format!("{}/pkg/strata.css", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), 200);
}

#[tokio::test]
async fn the_bundle_goes_out_by_hashed_name_precompressed_and_pages_compressed() {
    // A site as `make site` leaves it: content-hashed names, each with .br and .gz beside it.
    let site = tempfile::tempdir().unwrap();
    let pkg = site.path().join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    let stem = "strata.0123456789abcdef";
    for name in [
        format!("{stem}.js"),
        format!("{stem}_bg.wasm"),
        format!("{stem}.css"),
    ] {
        std::fs::write(pkg.join(&name), format!("plain {name}")).unwrap();
        std::fs::write(pkg.join(format!("{name}.br")), format!("brotli {name}")).unwrap();
        std::fs::write(pkg.join(format!("{name}.gz")), format!("gzip {name}")).unwrap();
    }
    std::fs::write(pkg.join("old.js"), "an unhashed file").unwrap();
    let server = start_on(site, &[]).await;
    let client = browser();

    let login = client
        .get(format!("{}/login", server.base))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    assert_eq!(login.headers()["content-encoding"], "gzip");
    assert_eq!(login.headers()["cache-control"], "private, no-cache");
    assert_eq!(
        login.bytes().await.unwrap()[..2],
        [0x1f, 0x8b],
        "not a gzip body"
    );
    // What another site asks for, and what may reveal a secret, goes out uncompressed: its
    // size must not tell a guesser anything (BREACH).
    for (path, site) in [
        ("/login", "cross-site"),
        ("/login", "same-site"),
        ("/login?reveal=true", "same-origin"),
        ("/login?reveal=%74rue", "same-origin"),
    ] {
        let answer = client
            .get(format!("{}{path}", server.base))
            .header("accept-encoding", "gzip")
            .header("sec-fetch-site", site)
            .send()
            .await
            .unwrap();
        assert!(
            answer.headers().get("content-encoding").is_none(),
            "{path} from {site} was compressed"
        );
    }
    let html = client
        .get(format!("{}/login", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for linked in [
        format!("/pkg/{stem}.css"),
        format!("/pkg/{stem}.js"),
        format!("/pkg/{stem}_bg.wasm"),
    ] {
        assert!(html.contains(&linked), "the page does not link {linked}");
    }

    let wasm = format!("{}/pkg/{stem}_bg.wasm", server.base);
    let br = client
        .get(&wasm)
        .header("accept-encoding", "br, gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(br.status(), 200);
    assert_eq!(br.headers()["content-encoding"], "br");
    assert_eq!(br.headers()["content-type"], "application/wasm");
    assert_eq!(
        br.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(br.text().await.unwrap(), format!("brotli {stem}_bg.wasm"));
    let plain = client.get(&wasm).send().await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    assert_eq!(plain.text().await.unwrap(), format!("plain {stem}_bg.wasm"));

    // What is not named by its content is checked each time; a missing file is not kept.
    let old = client
        .get(format!("{}/pkg/old.js", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(old.headers()["cache-control"], "no-cache");
    let missing = client
        .get(format!("{}/pkg/{stem}.map", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.headers()["cache-control"], "no-cache");
}
