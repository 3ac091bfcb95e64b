//! The HTTP surface over real loopback HTTP, against a real database.

use app::backend::AppState;
use app::backend::testing::TestDatabase;
use migrations::MigratorTrait;
use server::http::{leptos_options, router};
use server::settings::Settings;

struct TestServer {
    base: String,
    state: AppState,
    _db: TestDatabase,
    _site: tempfile::TempDir,
}

async fn start() -> TestServer {
    let db = TestDatabase::new().await;
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(site.path().join("pkg")).unwrap();
    std::fs::write(site.path().join("pkg/strata.css"), "body{}").unwrap();
    let mut settings = Settings::from_lookup(|_| None).unwrap();
    settings.site_root = site.path().to_owned();
    let state = db.state().await;
    let app = router(state.clone(), leptos_options(&settings));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    TestServer {
        base: format!("http://{addr}"),
        state,
        _db: db,
        _site: site,
    }
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
async fn the_console_is_rendered_on_the_server() {
    let server = start().await;
    let response = reqwest::get(format!("{}/", server.base)).await.unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    for section in ["Overview", "Configuration", "Preview", "Audit", "Directory"] {
        assert!(html.contains(section), "navigation lacks {section}");
    }
    // The hydration scripts point at the built site.
    assert!(
        html.contains("/pkg/strata.js"),
        "no hydration script in {html}"
    );
    // The database card was resolved during rendering.
    let backend = app::backend::db::backend_name(&server.state.db);
    assert!(html.contains(backend), "no database status in the page");

    let css = reqwest::get(format!("{}/pkg/strata.css", server.base))
        .await
        .unwrap();
    assert_eq!(css.status(), 200);
    assert_eq!(css.text().await.unwrap(), "body{}");
}

#[tokio::test]
async fn unknown_pages_answer_404() {
    let server = start().await;
    let response = reqwest::get(format!("{}/no/such/page", server.base))
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert!(response.text().await.unwrap().contains("Page not found"));
}

#[tokio::test]
async fn the_database_check_server_function_reports_the_schema() {
    let server = start().await;
    let response = reqwest::Client::new()
        .post(format!("{}/fn/check_database", server.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    let migrations = migrations::Migrator::migrations();
    assert_eq!(body["applied_migrations"], migrations.len());
    assert_eq!(body["latest_migration"], migrations.last().unwrap().name());
    assert_eq!(body["tenants"], 0);
}
