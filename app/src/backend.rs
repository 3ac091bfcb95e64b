//! Server-side half of the application: storage, services and the state every entry point
//! (console, HTTP API, CLI) shares. Compiled only with the `ssr` feature.

pub mod access;
pub mod accounts;
pub mod audit;
pub mod changes;
pub mod crypto;
pub mod db;
pub mod demo;
pub mod directory;
pub mod editor;
pub mod entity;
pub mod entries;
pub mod env_import;
pub mod error;
pub mod feed;
pub mod health;
pub mod impact;
pub mod overview;
pub mod resolution;
pub mod revert;
pub mod rotation;
pub mod sessions;
pub mod snapshots;
pub mod state;
pub mod templates;
pub mod testing;
pub mod tokens;
pub mod transfer;
pub mod watch;

use std::sync::Arc;

use sea_orm::{DatabaseConnection, DbErr};

use self::crypto::SecretBox;
use self::snapshots::Snapshots;

/// Everything a request handler needs, cloned cheaply into each request's context.
///
/// The server builds one and hands the same value to the page handler and the server-function
/// handler, so server functions behave the same before and after hydration.
#[derive(Clone, Debug)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub secrets: Arc<SecretBox>,
    pub snapshots: Arc<Snapshots>,
    /// Verified API tokens (invalidated with every change).
    pub tokens: Arc<tokens::TokenCache>,
    /// Sessions end this long after sign-in, however active (default 12 hours).
    pub session_max_age: chrono::Duration,
    /// Which refused sign-ins were audited lately.
    pub sign_ins: Arc<accounts::SignInLimiter>,
}

impl AppState {
    /// Loads the snapshots from `db`; the database must be migrated.
    pub async fn start(db: DatabaseConnection, secrets: SecretBox) -> Result<Self, DbErr> {
        let state = AppState {
            db,
            secrets: Arc::new(secrets),
            snapshots: Arc::new(Snapshots::default()),
            tokens: Arc::default(),
            session_max_age: chrono::Duration::hours(12),
            sign_ins: Arc::default(),
        };
        state.snapshots.reload(&state.db, &state.secrets).await?;
        Ok(state)
    }

    /// After a change committed: what this process holds in memory catches up with it (the
    /// snapshots it touched, through the change feed, and verified tokens, whose owner the
    /// change may have disabled or changed). Every write path ends here. The change stands whatever happens here: a reload that
    /// fails is logged, and the refresher picks the change up on its next tick.
    pub async fn publish(&self) {
        // Verified tokens drop when the change moved the credentials revision on (catching up
        // tells); if catching up fails, what it touched is unknown, so they all drop.
        if let Err(err) = self.snapshots.catch_up(&self.db, &self.secrets).await {
            self.tokens.invalidate();
            tracing::warn!(error = %err, "could not apply a change to the snapshots; the refresher retries");
        }
    }
}
