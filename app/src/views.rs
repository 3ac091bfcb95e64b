//! Shapes the console, the HTTP API and the CLI show, shared by the server and the browser.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An entry as shown: sensitive values are masked unless revealed.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntryView {
    pub key: String,
    pub value: Value,
    pub locked: bool,
    pub version: i64,
    pub updated_at: String,
    pub updated_by: String,
}
