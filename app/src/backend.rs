//! Server-side half of the application: storage, services and the state every entry point
//! (console, HTTP API, CLI) shares. Compiled only with the `ssr` feature.

pub mod db;
pub mod health;
pub mod testing;

use sea_orm::DatabaseConnection;

/// Everything a request handler needs, cloned cheaply into each request's context.
///
/// The server builds one and hands the same value to the page handler and the server-function
/// handler, so server functions behave the same before and after hydration.
#[derive(Clone, Debug)]
pub struct AppState {
    pub db: DatabaseConnection,
}

impl AppState {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}
