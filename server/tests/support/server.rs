//! A real server on a real database (SQLite, or PostgreSQL under `STRATA_TEST_BACKEND`)
//! loaded with the demo organisation, and HTTP clients signed in as its users.

use std::net::SocketAddr;

use app::backend::AppState;
use app::backend::accounts;
use app::backend::audit::Actor;
use app::backend::testing::TestDatabase;
use app::domain::name::Slug;
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use server::http::{leptos_options, router};
use server::settings::Settings;

pub const PASSWORD: &str = "test server password";

pub struct TestServer {
    /// `http://127.0.0.1:PORT`
    pub root: String,
    pub state: AppState,
    _db: TestDatabase,
}

/// Starts a server on the demo data; `users` get [`PASSWORD`].
pub async fn start(users: &[&str]) -> TestServer {
    start_with(users, &[]).await
}

/// [`start`] with settings from `vars` (`STRATA_*` names and values).
pub async fn start_with(users: &[&str], vars: &[(&str, &str)]) -> TestServer {
    let db = TestDatabase::new().await;
    let state = db.state().await;
    app::backend::demo::load(&state, &Actor::named("tests"))
        .await
        .unwrap();
    for user in users {
        accounts::set_password(
            &state,
            &Actor::named("tests"),
            &Slug::parse("user", user).unwrap(),
            PASSWORD.into(),
        )
        .await
        .unwrap();
    }
    let settings = Settings::from_lookup(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    })
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
        root: format!("http://{addr}"),
        state,
        _db: db,
    }
}

impl TestServer {
    /// A client with no session.
    pub fn anonymous(&self) -> Client {
        Client {
            base: format!("{}/api/v1", self.root),
            http: reqwest::Client::builder()
                .cookie_store(true)
                .build()
                .unwrap(),
        }
    }

    /// A client signed in as `user` (who must be one of those given to [`start`]).
    pub async fn client_as(&self, user: &str) -> Client {
        let client = self.anonymous();
        let (status, body) = client
            .send(
                Method::POST,
                "/session",
                Some(json!({"username": user, "password": PASSWORD})),
            )
            .await;
        assert_eq!(status, 200, "signing in as {user}: {body}");
        client
    }

    /// Rows in `table` (to show that a refused request wrote nothing).
    pub async fn count(&self, table: &str) -> i64 {
        let db = &self.state.db;
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "n").unwrap()
    }
}

pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
}

// Each test binary compiles this file and uses some of its verbs.
#[allow(dead_code)]
impl Client {
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::PUT, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::DELETE, path, None).await
    }
}

/// The contract's error shape with `code` and a message.
pub fn assert_error(body: &Value, code: &str) {
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

/// The error message, for asserting what it names.
pub fn message(body: &Value) -> String {
    body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}
