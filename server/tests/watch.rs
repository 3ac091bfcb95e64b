//! Live updates over real HTTP on a real database: `/api/v1/watch` (SSE) with its resume, and
//! the `/effective` long poll.

#[path = "support/server.rs"]
#[allow(dead_code)]
mod support;

use std::time::{Duration, Instant};

use reqwest::Response;
use serde_json::{Value, json};

use app::domain::value::MASK;
use support::{Client, TestServer, assert_error, start};

/// One server-sent event.
#[derive(Debug)]
struct Sse {
    event: String,
    id: u64,
    data: Value,
}

/// An open event stream, read event by event.
struct Stream {
    response: Response,
    buffer: String,
    /// `: …` comments seen.
    comments: Vec<String>,
}

impl Stream {
    /// The next event; `None` when the server ended the stream. Fails after `within`.
    async fn next(&mut self, within: Duration) -> Option<Sse> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut event, mut id, mut data) = (String::new(), None, String::new());
                for line in block.lines() {
                    if let Some(comment) = line.strip_prefix(':') {
                        self.comments.push(comment.to_owned());
                    } else if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("id:") {
                        id = Some(v.trim().parse().expect("a numeric id"));
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if data.is_empty() {
                    continue;
                }
                return Some(Sse {
                    event,
                    id: id.expect("every event has an id"),
                    data: serde_json::from_str(&data).expect("JSON data"),
                });
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.response.chunk()).await {
                Ok(Ok(Some(chunk))) => self.buffer.push_str(std::str::from_utf8(&chunk).unwrap()),
                Ok(Ok(None)) | Ok(Err(_)) => return None,
                Err(_) => panic!("no event within {within:?} (have {:?})", self.buffer),
            }
        }
    }

    /// Asserts that no event comes within `quiet`.
    async fn silent(&mut self, quiet: Duration) {
        let deadline = Instant::now() + quiet;
        while Instant::now() < deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if let Ok(chunk) = tokio::time::timeout(left, self.response.chunk()).await {
                let chunk = chunk.unwrap().expect("the stream stays open");
                self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
                assert!(
                    !self.buffer.contains("data:"),
                    "an event came: {:?}",
                    self.buffer
                );
            }
        }
    }
}

const SOON: Duration = Duration::from_secs(10);

async fn open(client: &Client, query: &str, last_event_id: Option<&str>) -> Stream {
    let mut request = client.http.get(format!("{}/watch?{query}", client.base));
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    Stream {
        response,
        buffer: String::new(),
        comments: Vec::new(),
    }
}

async fn set(client: &Client, key: &str, scope: &str, value: Value) {
    let (status, body) = client
        .put(
            &format!("/entries/{key}?scope={scope}"),
            json!({"value": value}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

async fn revision_of(server: &TestServer, client: &Client, query: &str) -> u64 {
    let _ = server;
    let response = client
        .http
        .get(format!("{}/effective?{query}", client.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.headers()["x-strata-revision"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_stream_starts_with_the_snapshot_then_sends_each_change_of_its_context_in_order() {
    let server = start(&["mercy_admin", "general_admin"]).await;
    let mercy = server.client_as("mercy_admin").await;
    let general = server.client_as("general_admin").await;
    let revision = revision_of(&server, &mercy, "user=dr_house").await;
    let (_, effective) = mercy.get("/effective?user=dr_house").await;

    let mut stream = open(&mercy, "user=dr_house", None).await;
    let first = stream.next(SOON).await.unwrap();
    assert_eq!(first.event, "snapshot");
    assert_eq!(first.id, revision);
    assert_eq!(
        first.data, effective,
        "the snapshot is the /effective object"
    );

    set(
        &mercy,
        "branding.color",
        "tenant:mercy_hospital",
        json!("#101010"),
    )
    .await;
    let change = stream.next(SOON).await.unwrap();
    assert_eq!(change.event, "change");
    assert!(change.id > first.id, "{change:?}");
    assert_eq!(change.data["revision"], change.id);
    assert_eq!(
        change.data["changed"],
        json!({"branding.color": {"value": "#101010", "level": "tenant", "scope": "mercy_hospital"}})
    );
    assert_eq!(change.data["removed"], json!([]));
    assert_eq!(
        revision_of(&server, &mercy, "user=dr_house").await,
        change.id,
        "X-Strata-Revision names the change the answer reflects"
    );

    // Another tenant's change, and one of this tenant that does not reach dr_house, send
    // nothing: the next event is the one after them.
    set(
        &general,
        "branding.color",
        "tenant:general_hospital",
        json!("#202020"),
    )
    .await;
    set(
        &mercy,
        "branding.color",
        "department:mercy_hospital/marketing",
        json!("#303030"),
    )
    .await;
    stream.silent(Duration::from_millis(300)).await;
    let (status, _) = mercy
        .delete("/entries/branding.color?scope=tenant:mercy_hospital")
        .await;
    assert_eq!(status, 204);
    let next = stream.next(SOON).await.unwrap();
    assert!(next.id > change.id + 2, "{next:?}");
    assert_eq!(
        next.data["changed"]["branding.color"]["level"], "default",
        "{next:?}"
    );
    assert_eq!(next.data["changed"].as_object().unwrap().len(), 1);
}

#[tokio::test]
async fn secrets_are_masked_on_the_stream_unless_revealed_and_a_reveal_is_audited_once() {
    let server = start(&["mercy_admin", "dr_house"]).await;
    let mercy = server.client_as("mercy_admin").await;
    let mut masked = open(&mercy, "user=dr_house", None).await;
    let snapshot = masked.next(SOON).await.unwrap();
    assert_eq!(snapshot.data["providers.phaxio.api_key"]["value"], MASK);
    let reveals = || async {
        let (_, audit) = mercy.get("/audit?action=secret.reveal").await;
        audit["events"].as_array().unwrap().len()
    };
    assert_eq!(reveals().await, 0);

    let mut revealed = open(&mercy, "user=dr_house&reveal=true", None).await;
    let snapshot = revealed.next(SOON).await.unwrap();
    assert_eq!(
        snapshot.data["providers.phaxio.api_key"]["value"],
        "phx_live_mercy_77c41d09e3"
    );
    assert_eq!(reveals().await, 1);

    for (i, secret) in ["phx_live_rotated_1", "phx_live_rotated_2"]
        .iter()
        .enumerate()
    {
        set(
            &mercy,
            "providers.phaxio.api_key",
            "tenant:mercy_hospital",
            json!(secret),
        )
        .await;
        let change = masked.next(SOON).await.unwrap();
        assert_eq!(
            change.data["changed"]["providers.phaxio.api_key"]["value"], MASK,
            "change {i}"
        );
        let raw = serde_json::to_string(&change.data).unwrap();
        assert!(!raw.contains("phx_live"), "{raw}");
        let change = revealed.next(SOON).await.unwrap();
        assert_eq!(
            change.data["changed"]["providers.phaxio.api_key"]["value"], *secret,
            "change {i}"
        );
    }
    assert_eq!(reveals().await, 1, "one reveal event per connection");

    // Revealing needs secrets_read, as on /effective; and a user reads only their own.
    let house = server.client_as("dr_house").await;
    let response = house
        .http
        .get(format!("{}/watch?user=dr_house&reveal=true", house.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn a_reconnect_gets_the_net_changes_since_its_last_event_or_a_fresh_snapshot() {
    let server = start(&["mercy_admin", "general_admin"]).await;
    let mercy = server.client_as("mercy_admin").await;
    let mut stream = open(&mercy, "user=dr_house", None).await;
    let first = stream.next(SOON).await.unwrap();
    drop(stream);

    // While away: two keys change, one of them twice, and another goes back to what it was.
    set(
        &mercy,
        "branding.color",
        "tenant:mercy_hospital",
        json!("#111111"),
    )
    .await;
    set(
        &mercy,
        "branding.color",
        "tenant:mercy_hospital",
        json!("#222222"),
    )
    .await;
    set(
        &mercy,
        "fax.retry_attempts",
        "tenant:mercy_hospital",
        json!(7),
    )
    .await;
    let latest = revision_of(&server, &mercy, "user=dr_house").await;

    let mut resumed = open(&mercy, "user=dr_house", Some(&first.id.to_string())).await;
    let net = resumed.next(SOON).await.unwrap();
    assert_eq!(net.event, "change");
    assert_eq!(net.id, latest);
    let changed = net.data["changed"].as_object().unwrap();
    assert_eq!(
        changed.keys().collect::<Vec<_>>(),
        ["branding.color", "fax.retry_attempts"]
    );
    assert_eq!(changed["branding.color"]["value"], "#222222");
    assert_eq!(changed["fax.retry_attempts"]["value"], 7);

    // Resuming from the latest: nothing to send until something changes.
    let mut current = open(&mercy, "user=dr_house", Some(&latest.to_string())).await;
    current.silent(Duration::from_millis(300)).await;
    set(
        &mercy,
        "fax.retry_attempts",
        "tenant:mercy_hospital",
        json!(8),
    )
    .await;
    let next = current.next(SOON).await.unwrap();
    assert_eq!(next.event, "change");
    assert_eq!(next.data["changed"]["fax.retry_attempts"]["value"], 8);

    // Out of reach (the history of replaced snapshots moved on past it: many writes
    // elsewhere) or not a revision: a fresh snapshot.
    set(
        &mercy,
        "fax.retry_attempts",
        "tenant:mercy_hospital",
        json!(9),
    )
    .await;
    let general = server.client_as("general_admin").await;
    for i in 0..150 {
        set(
            &general,
            "fax.retry_attempts",
            "tenant:general_hospital",
            json!(i % 10),
        )
        .await;
    }
    let away = next.id.to_string();
    for id in [away.as_str(), "not-a-revision"] {
        let mut fresh = open(&mercy, "user=dr_house", Some(id)).await;
        let event = fresh.next(SOON).await.unwrap();
        assert_eq!(event.event, "snapshot", "Last-Event-ID {id}");
        assert_eq!(event.data["fax.retry_attempts"]["value"], 9);
    }
}

#[tokio::test]
async fn streams_refuse_strangers_and_end_when_access_or_the_server_goes() {
    let server = start(&["mercy_admin", "general_admin"]).await;
    let mercy = server.client_as("mercy_admin").await;
    let general = server.client_as("general_admin").await;

    // Another tenant's user looks missing; no credentials, no stream; bad contexts name the field.
    let (status, body) = general.get("/watch?user=dr_house").await;
    assert_eq!(status, 404);
    assert_error(&body, "not_found");
    let (status, body) = server.anonymous().get("/watch?user=dr_house").await;
    assert_eq!(status, 401);
    assert_error(&body, "unauthenticated");
    let (status, body) = mercy.get("/watch?user=dr_house&wait=5").await;
    assert_eq!(status, 422);
    assert!(support::message(&body).starts_with("wait"), "{body}");

    // A token's stream ends once the token is revoked: the next change is not sent.
    let (status, created) = mercy
        .post("/tokens", json!({"name": "app", "scopes": ["read"]}))
        .await;
    assert_eq!(status, 201, "{created}");
    let token = created["token"].as_str().unwrap();
    let response = server
        .anonymous()
        .http
        .get(format!("{}/api/v1/watch?user=dr_house", server.root))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut stream = Stream {
        response,
        buffer: String::new(),
        comments: Vec::new(),
    };
    assert_eq!(stream.next(SOON).await.unwrap().event, "snapshot");
    let (status, _) = mercy.delete(&format!("/tokens/{}", created["id"])).await;
    assert_eq!(status, 204);
    set(
        &mercy,
        "branding.color",
        "tenant:mercy_hospital",
        json!("#444444"),
    )
    .await;
    assert!(stream.next(SOON).await.is_none(), "the stream ended");

    // A stopping server ends its streams (or they would hold the shutdown up).
    let mut stream = open(&mercy, "user=dr_house", None).await;
    assert_eq!(stream.next(SOON).await.unwrap().event, "snapshot");
    server.state.snapshots.close();
    assert!(stream.next(SOON).await.is_none(), "the stream ended");
}

#[tokio::test]
async fn a_long_poll_answers_when_the_etag_changes_or_when_its_wait_is_over() {
    let server = start(&["mercy_admin"]).await;
    let mercy = server.client_as("mercy_admin").await;
    let url = format!("{}/effective?user=dr_house", mercy.base);
    let first = mercy.http.get(&url).send().await.unwrap();
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();

    // Nothing changes: 304 once the wait is over, not before.
    let started = Instant::now();
    let unchanged = mercy
        .http
        .get(format!("{url}&wait=1"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(unchanged.status(), 304);
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(unchanged.headers()["etag"].to_str().unwrap(), etag);

    // A change while it waits: answered with the new configuration at once.
    let poll = tokio::spawn({
        let http = mercy.http.clone();
        let (url, etag) = (url.clone(), etag.clone());
        async move {
            let started = Instant::now();
            let response = http
                .get(format!("{url}&wait=30"))
                .header("if-none-match", &etag)
                .send()
                .await
                .unwrap();
            (response, started.elapsed())
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    set(
        &mercy,
        "branding.color",
        "tenant:mercy_hospital",
        json!("#555555"),
    )
    .await;
    let (response, waited) = poll.await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(waited < Duration::from_secs(10), "{waited:?}");
    assert_ne!(response.headers()["etag"].to_str().unwrap(), etag);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["branding.color"]["value"], "#555555");

    // Without If-None-Match there is nothing to wait for; a wait over 60 s is refused.
    let started = Instant::now();
    let (status, _) = mercy.get("/effective?user=dr_house&wait=30").await;
    assert_eq!(status, 200);
    assert!(started.elapsed() < Duration::from_secs(5));
    let (status, body) = mercy.get("/effective?user=dr_house&wait=61").await;
    assert_eq!(status, 422);
    assert!(support::message(&body).starts_with("wait:"), "{body}");
}
