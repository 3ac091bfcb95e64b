//! Shapes the console, the HTTP API and the CLI show, shared by the server and the browser.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::editor::{Label, Origin};
use crate::domain::key::{Constraints, KeyType};
use crate::domain::level::Level;
use crate::domain::resolve::CandidateState;

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

/// The configuration editor at one scope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EditorView {
    /// The scope in its API form (`tenant:mercy_hospital`).
    pub scope: String,
    pub level: Level,
    /// How the page names the scope (`tenant mercy_hospital`).
    pub title: String,
    pub levels: Vec<LevelChoice>,
    /// Whether the viewer may reveal secrets here.
    pub can_reveal: bool,
    pub revealed: bool,
    pub rows: Vec<EditorRow>,
    /// The key whose recent changes were asked for.
    pub expanded: Option<String>,
    /// The expanded key's recent changes at this scope, newest first.
    pub history: Vec<HistoryLine>,
}

/// One level of the level selector: the scopes of it the viewer may see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelChoice {
    pub level: Level,
    pub scopes: Vec<String>,
    /// Why the level cannot be chosen (nothing visible at it).
    pub unavailable: Option<String>,
    /// Why the viewer may only read at this level.
    pub read_only: Option<String>,
}

/// One key at the editor's scope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EditorRow {
    pub key: String,
    pub description: String,
    pub category: String,
    pub key_type: KeyType,
    pub constraints: Constraints,
    pub sensitive: bool,
    /// The key's definition allows entries at this level.
    pub allowed_here: bool,
    /// The entry at this scope (its value masked unless revealed).
    pub here: Option<EntryHere>,
    /// The effective value for this scope (masked unless revealed).
    pub effective: Option<Value>,
    pub label: Label,
    /// General to specific, as the resolution engine gives it.
    pub chain: Vec<ChainStep>,
    /// Why the viewer may not change this key here; none when they may.
    pub refusal: Option<String>,
    /// The entry here only repeats what this scope would inherit without it.
    #[serde(default)]
    pub redundant: bool,
    /// Why a change of this key here goes through a change request (the approval policy's
    /// rule); none when the viewer may write it directly (or not at all).
    #[serde(default)]
    pub needs_approval: Option<String>,
    /// Users may set the key for themselves ("My settings").
    #[serde(default)]
    pub user_editable: bool,
}

/// "My settings": the signed-in account's own `user_editable` keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MySettingsView {
    pub user: String,
    /// As the editor shows them at the account's own scope.
    pub rows: Vec<EditorRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntryHere {
    pub value: Value,
    pub locked: bool,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChainStep {
    pub origin: Origin,
    pub value: Value,
    pub locked: bool,
    pub state: CandidateState,
}

/// A past change of one entry, as the editor lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryLine {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub reason: Option<String>,
}

/// One key's effective value for a context, with its chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreviewRow {
    pub key: String,
    pub category: String,
    pub sensitive: bool,
    /// Masked unless revealed; none when unset.
    pub value: Option<Value>,
    /// `default` or the level and scope the value comes from; none when unset.
    pub source: Option<Origin>,
    pub chain: Vec<ChainStep>,
}

/// The effective configuration of a context, as the preview shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreviewSide {
    /// How the context is named (`user dr_house`, `tenant t, department d`).
    pub title: String,
    /// The context as API query parameters (`user=dr_house`), for the download links.
    pub query: String,
    pub rows: Vec<PreviewRow>,
}

/// The preview page: one context, or two side by side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreviewView {
    pub a: PreviewSide,
    pub b: Option<PreviewSide>,
    pub revealed: bool,
    /// Users the viewer may pick from: (id, display name).
    pub users: Vec<(String, String)>,
    /// Tenants the viewer may pick from.
    pub tenants: Vec<String>,
}

/// An audit event as the console's audit browser shows it (secrets already masked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditLine {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub level: Option<String>,
    pub scope: Option<String>,
    pub key: Option<String>,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub old_locked: Option<bool>,
    pub new_locked: Option<bool>,
    pub reason: Option<String>,
    pub batch_id: Option<String>,
    /// An entry change, which can be reverted.
    pub revertable: bool,
}

/// A page of the audit browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPageView {
    pub events: Vec<AuditLine>,
    /// Where the next (older) page starts.
    pub next_before_id: Option<i64>,
    /// The chain check, for those who may run it: the number of events, or the first broken.
    pub integrity: Option<Result<usize, i64>>,
}

/// One tenant on the overview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantSummary {
    pub id: String,
    pub name: String,
    pub departments: usize,
    pub groups: usize,
    pub users: usize,
    /// Entries at the tenant's levels (tenant, departments, groups, its users).
    pub overrides: usize,
}

/// The overview: each visible tenant's counts, the latest changes, and changes per day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverviewView {
    pub tenants: Vec<TenantSummary>,
    pub latest: Vec<AuditLine>,
    /// The last 30 days, oldest first: (`YYYY-MM-DD`, events the viewer may see).
    pub per_day: Vec<(String, usize)>,
}

// ---- impact (DESIGN §5) ----

/// One user's changed value.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangedView {
    pub user: String,
    pub key: String,
    pub from: Option<Value>,
    pub to: Option<Value>,
}

/// An entry by scope and key.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntryRef {
    pub scope: String,
    pub key: String,
}

/// Whom the operations would affect.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImpactView {
    /// Users whose effective value of some key changes.
    pub users_affected: usize,
    /// The same per tenant (`""`: platform users, who belong to none).
    pub by_tenant: BTreeMap<String, usize>,
    /// Up to 20 changed values, by tenant, user and key (secrets masked).
    pub sample: Vec<ChangedView>,
    /// Overrides a new lock would hide (up to 100).
    pub newly_shadowed: Vec<EntryRef>,
    pub newly_shadowed_total: usize,
    /// Overrides that would equal what they inherit (up to 100).
    pub redundant: Vec<EntryRef>,
    pub redundant_total: usize,
}

/// A change request as its reader sees it (sensitive values masked, always).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeView {
    pub id: i64,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub author: String,
    /// `draft`, `in_review`, `approved`, `applied`, `rejected`, `cancelled` or `conflicted`.
    pub state: String,
    pub ops: Vec<ChangeOpView>,
    /// Approvals that count (given since the last edit).
    pub approvals: Vec<ReviewView>,
    /// Approvals the approval policy asks of it now.
    pub required_approvals: u32,
    /// Whom it would affect if applied now (absent once it is applied, rejected or cancelled,
    /// or when it can no longer be computed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impact: Option<ImpactView>,
    /// Everything that happened to it, oldest first: transitions, approvals and comments.
    pub history: Vec<ReviewView>,
    /// What the caller may do to it now: `edit`, `submit`, `approve`, `reject`, `apply`,
    /// `cancel`, `comment`.
    pub actions: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// One operation of a change request. Once submitted it carries the entry it was made against
/// (`base`) and the entry now (`current`); `moved` says they differ, which makes applying it a
/// conflict.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeOpView {
    /// `set`, `unset`, `lock` or `unlock`.
    pub op: String,
    pub scope: String,
    pub key: String,
    /// The proposed value of a `set`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base: Option<EntryState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<EntryState>,
    /// Whether the request was submitted (a base was taken).
    pub based: bool,
    pub moved: bool,
}

/// An entry at one moment; absent where there was none.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntryState {
    pub value: serde_json::Value,
    pub locked: bool,
    pub version: i64,
}

/// One line of a change request's history.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewView {
    pub by: String,
    /// `create`, `edit`, `submit`, `approve`, `reject`, `apply`, `conflict`, `cancel` or
    /// `comment`.
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub at: String,
}

/// A change request in a list.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeSummary {
    pub id: i64,
    pub title: String,
    pub author: String,
    pub state: String,
    pub ops: usize,
    pub updated_at: String,
}

/// The Changes page: the reader's own open requests, those awaiting their review, the rest
/// (newest first), and the approval policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeLists {
    pub mine: Vec<ChangeSummary>,
    pub to_review: Vec<ChangeSummary>,
    pub others: Vec<ChangeSummary>,
    pub rules: Vec<crate::domain::approval::ApprovalRule>,
    /// The reader may change the approval policy.
    pub can_manage_policy: bool,
}
