//! Accounts and logins against a real database: hashing, throttling, disabled accounts,
//! the first super admin, and the audit of every attempt.

use std::collections::BTreeSet;

use app::backend::AppState;
use app::backend::accounts::{self, LoginError, NewAccount};
use app::backend::audit::{self, Actor, AuditFilter};
use app::backend::testing::TestDatabase;
use app::domain::name::Slug;
use app::domain::traits::Trait;
use sea_orm::{ConnectionTrait, Statement};

fn slug(s: &str) -> Slug {
    Slug::parse("id", s).unwrap()
}

fn client(ip: &str) -> Actor {
    Actor {
        name: String::new(),
        client_ip: Some(ip.into()),
        user_agent: Some("tests".into()),
    }
}

async fn with_account() -> (TestDatabase, AppState) {
    let test = TestDatabase::new().await;
    let state = test.state().await;
    let account = NewAccount {
        slug: slug("alice"),
        name: "Alice".into(),
        tenant: None,
        department: None,
        groups: vec![],
        traits: BTreeSet::from([Trait::AdminCapable, Trait::SuperAdmin]),
    };
    accounts::create_account(
        &state,
        &Actor::named("cli"),
        account,
        "correct horse battery".into(),
    )
    .await
    .unwrap();
    (test, state)
}

async fn actions(state: &AppState) -> Vec<String> {
    audit::list(&state.db, &AuditFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect()
}

#[tokio::test]
async fn the_right_password_signs_in_and_the_hash_is_argon2id() {
    let (_test, state) = with_account().await;
    let principal = accounts::login(
        &state,
        "Alice",
        "correct horse battery".into(),
        &client("10.0.0.1"),
    )
    .await
    .unwrap();
    assert_eq!(principal.user.as_str(), "alice");
    assert!(principal.traits.contains(&Trait::SuperAdmin));
    let row = state
        .db
        .query_one_raw(Statement::from_string(
            state.db.get_database_backend(),
            "SELECT password_hash FROM users WHERE slug = 'alice'",
        ))
        .await
        .unwrap()
        .unwrap();
    let hash: String = row.try_get("", "password_hash").unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert_eq!(actions(&state).await[0], "login.success");
    let events = audit::list(&state.db, &AuditFilter::default())
        .await
        .unwrap();
    assert_eq!(events[0].client_ip.as_deref(), Some("10.0.0.1"));
    assert!(
        !serde_json::to_string(&events)
            .unwrap()
            .contains("correct horse")
    );
}

#[tokio::test]
async fn unknown_accounts_and_wrong_passwords_fail_alike() {
    let (_test, state) = with_account().await;
    let wrong = accounts::login(
        &state,
        "alice",
        "not the password".into(),
        &client("10.0.0.2"),
    )
    .await
    .unwrap_err();
    let unknown = accounts::login(
        &state,
        "mallory",
        "not the password".into(),
        &client("10.0.0.3"),
    )
    .await
    .unwrap_err();
    assert!(matches!(wrong, LoginError::Invalid) && matches!(unknown, LoginError::Invalid));
    assert_eq!(wrong.to_string(), unknown.to_string());
    assert_eq!(
        &actions(&state).await[..2],
        ["login.failure", "login.failure"]
    );
}

#[tokio::test]
async fn five_failures_throttle_the_account_and_the_address() {
    let (_test, state) = with_account().await;
    for i in 0..5 {
        let ip = format!("10.1.0.{i}");
        assert!(matches!(
            accounts::login(&state, "alice", "wrong password!".into(), &client(&ip)).await,
            Err(LoginError::Invalid)
        ));
    }
    // Even the right password waits now.
    let err = accounts::login(
        &state,
        "alice",
        "correct horse battery".into(),
        &client("10.9.9.9"),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, LoginError::Throttled { .. }), "{err}");
    assert!(err.to_string().starts_with("too many failed sign-ins"));
    assert_eq!(actions(&state).await[0], "login.throttled");

    // One address trying many accounts is throttled too, at its own, higher limit.
    for i in 0..accounts::MAX_ADDRESS_FAILURES {
        let _ = accounts::login(
            &state,
            &format!("guess{i}"),
            "whatever12345".into(),
            &client("10.2.0.1"),
        )
        .await;
    }
    let err = accounts::login(
        &state,
        "someone",
        "whatever12345".into(),
        &client("10.2.0.1"),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, LoginError::Throttled { .. }));
}

#[tokio::test]
async fn disabled_accounts_cannot_sign_in() {
    let (_test, state) = with_account().await;
    accounts::disable(&state, &Actor::named("cli"), &slug("alice"))
        .await
        .unwrap();
    let err = accounts::login(
        &state,
        "alice",
        "correct horse battery".into(),
        &client("10.0.0.1"),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, LoginError::Invalid));
}

#[tokio::test]
async fn password_and_trait_changes_are_audited_and_checked() {
    let (_test, state) = with_account().await;
    let cli = Actor::named("cli");
    let short = accounts::set_password(&state, &cli, &slug("alice"), "short".into())
        .await
        .unwrap_err();
    assert_eq!(
        short.to_string(),
        "password: must be at least 12 characters"
    );
    accounts::set_password(
        &state,
        &cli,
        &slug("alice"),
        "a much better passphrase".into(),
    )
    .await
    .unwrap();
    assert!(
        accounts::login(
            &state,
            "alice",
            "a much better passphrase".into(),
            &client("10.0.0.1")
        )
        .await
        .is_ok()
    );
    accounts::set_traits(
        &state,
        &cli,
        &slug("alice"),
        &BTreeSet::from([Trait::AdminCapable]),
    )
    .await
    .unwrap();
    let principal = accounts::principal_by_slug(&state.db, "alice")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(principal.traits, BTreeSet::from([Trait::AdminCapable]));
    let events = audit::list(&state.db, &AuditFilter::default())
        .await
        .unwrap();
    assert_eq!(events[0].action, "user.traits");
    assert_eq!(events[2].action, "user.password");
    assert_eq!(events[2].new_value.as_deref(), Some("password changed"));
    let missing = accounts::set_traits(&state, &cli, &slug("nobody"), &BTreeSet::new())
        .await
        .unwrap_err();
    assert_eq!(missing.to_string(), "user nobody was not found");
}

#[tokio::test]
async fn the_first_start_creates_one_super_admin() {
    let test = TestDatabase::new().await;
    let state = test.state().await;
    let generated = accounts::ensure_super_admin(&state, None)
        .await
        .unwrap()
        .unwrap();
    assert!(generated.len() >= 12);
    let admin = accounts::login(&state, "admin", generated, &client("10.0.0.1"))
        .await
        .unwrap();
    assert!(
        admin.traits.contains(&Trait::SuperAdmin) && admin.traits.contains(&Trait::ConfigWrite)
    );
    // Later starts leave it alone.
    assert_eq!(
        accounts::ensure_super_admin(&state, Some("another password".into()))
            .await
            .unwrap(),
        None
    );

    let test = TestDatabase::new().await;
    let state = test.state().await;
    assert_eq!(
        accounts::ensure_super_admin(&state, Some("chosen password 1".into()))
            .await
            .unwrap(),
        None
    );
    assert!(
        accounts::login(
            &state,
            "admin",
            "chosen password 1".into(),
            &client("10.0.0.1")
        )
        .await
        .is_ok()
    );
}
