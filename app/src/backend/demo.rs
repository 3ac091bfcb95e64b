//! The demo organisation: two hospitals with departments, groups, users of every trait
//! combination and overrides at every level, including locks and a sensitive API key.

use super::AppState;
use super::audit::Actor;
use super::error::ServiceError;
use super::transfer::{ImportReport, import};
use crate::domain::document::Document;

/// The demo document (`strata/v1`).
pub const DEMO_DOCUMENT: &str = include_str!("demo.json");

pub fn document() -> Document {
    serde_json::from_str(DEMO_DOCUMENT).expect("the bundled demo document parses")
}

/// Imports the demo organisation (idempotent, like any import).
pub async fn load(state: &AppState, actor: &Actor) -> Result<ImportReport, ServiceError> {
    import(state, actor, &document(), false).await
}
