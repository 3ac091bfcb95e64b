//! Change requests and the approval policy (DESIGN §5, API.md "Change requests and impact").
//!
//! The policy is enforced on the write path itself: every direct write ([`gate`]) asks it
//! inside its transaction, whatever the entry point, and answers `approval_required` where it
//! asks for review. A request is the other way in: its operations are checked like a direct
//! write when proposed, its bases (the entries it was made against) are taken when it goes to
//! review, and applying it re-checks every base and writes every operation in one transaction
//! as one audit batch, or marks it conflicted. The life cycle itself is the pure rule of
//! [`crate::domain::approval`]; this module only loads, decides with it, and stores.

use std::collections::{BTreeSet, HashSet};

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::AppState;
use super::access;
use super::audit::{Actor, AuditWriter};
use super::crypto::SecretBox;
use super::entity::{approval_rule, change_request, change_review, tenant};
use super::entries::{
    Put, Remove, ScopeIds, find_entry, find_key, put_entry, read_stored, remove_entry, scope_ids,
    store_value,
};
use super::error::ServiceError;
use super::impact::{self, CheckedOp, OpRequest};
use crate::domain::approval::{self, Refusal, Role, Standing};
pub use crate::domain::approval::{ApprovalRule, ChangeState, OpPlace, Transition};
use crate::domain::audit_chain::AuditRecord;
use crate::domain::impact::OpKind;
use crate::domain::key::KeyDefinition;
use crate::domain::level::Level;
use crate::domain::name::{ConfigKey, Slug};
use crate::domain::policy::{Action, Principal, decide};
use crate::domain::scope::Scope;
use crate::domain::traits::Trait;
use crate::domain::value::MASK;
pub use crate::views::{
    ChangeLists, ChangeOpView, ChangeSummary, ChangeView, EntryState, ReviewView,
};

/// At most this many operations in one change request (a review must be readable).
pub const MAX_OPS: usize = 100;
/// At most this many rules in the approval policy.
pub const MAX_RULES: usize = 100;
pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_TEXT_CHARS: usize = 2000;
/// Change requests a list answers with, newest first.
pub const LISTED: usize = 200;

/// Where an entry write lands, as the approval policy looks at it.
pub fn place(def: &KeyDefinition, scope: &Scope, ids: &ScopeIds) -> OpPlace {
    place_in(scope, ids.audit_tenant.as_deref(), def.sensitive)
}

/// Where an operation at `scope`, lying in tenant `tenant` (a slug), lands for the policy.
fn place_in(scope: &Scope, tenant: Option<&str>, sensitive: bool) -> OpPlace {
    OpPlace {
        level: scope.level(),
        tenant: tenant.and_then(|t| Slug::parse("tenant", t).ok()),
        sensitive,
    }
}

/// The approval policy, in the order it was written.
pub async fn load_rules<C: ConnectionTrait>(db: &C) -> Result<Vec<ApprovalRule>, ServiceError> {
    let rows = approval_rule::Entity::find()
        .order_by_asc(approval_rule::Column::Id)
        .all(db)
        .await?;
    rows.into_iter()
        .map(|row| {
            let level = row
                .level
                .as_deref()
                .map(str::parse::<Level>)
                .transpose()
                .map_err(|e| corrupt(format!("approval rule {}: level: {e}", row.id)))?;
            let tenant = row
                .tenant
                .as_deref()
                .map(|t| Slug::parse("tenant", t))
                .transpose()
                .map_err(|e| corrupt(format!("approval rule {}: tenant: {e}", row.id)))?;
            Ok(ApprovalRule {
                level,
                tenant,
                sensitive_only: row.sensitive_only,
                approvals: u32::try_from(row.approvals).unwrap_or(approval::MAX_APPROVALS),
            })
        })
        .collect()
}

fn corrupt(message: String) -> ServiceError {
    ServiceError::Database(sea_orm::DbErr::Custom(message))
}

/// Refuses a direct write of operations landing at `places` when the approval policy asks for
/// review of any of them. Called inside the write's transaction, after the chain's head is
/// locked, so a policy change and a write cannot pass each other.
pub(super) async fn gate<C: ConnectionTrait>(
    db: &C,
    places: &[OpPlace],
) -> Result<(), ServiceError> {
    let rules = load_rules(db).await?;
    refuse_unapproved(&rules, places, "propose it as a change request instead")
}

/// Refuses a write landing at `places` when one of `rules` asks for review of any of them,
/// naming the strictest rule and what to do instead (`instead`).
pub(super) fn refuse_unapproved(
    rules: &[ApprovalRule],
    places: &[OpPlace],
    instead: &str,
) -> Result<(), ServiceError> {
    let strictest = places
        .iter()
        .filter_map(|place| approval::strictest(rules, place))
        .max_by_key(|rule| rule.approvals);
    match strictest {
        None => Ok(()),
        Some(rule) => Err(ServiceError::ApprovalRequired(format!(
            "this change needs approval ({}): {instead}",
            rule.describe()
        ))),
    }
}

/// The approval policy as `principal` may read it: it says what they will be asked for. A
/// rule naming another tenant is that tenant's business (super admins see every rule).
pub async fn policy(
    state: &AppState,
    principal: &Principal,
) -> Result<Vec<ApprovalRule>, ServiceError> {
    let rules = load_rules(&state.db).await?;
    if principal.traits.contains(&Trait::SuperAdmin) {
        return Ok(rules);
    }
    Ok(rules
        .into_iter()
        .filter(|r| r.tenant.is_none() || r.tenant == principal.tenant)
        .collect())
}

/// A change to the approval policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyEdit {
    /// The whole policy.
    Replace(Vec<ApprovalRule>),
    /// One more rule, at the end.
    Add(ApprovalRule),
    /// Rule `index` (0-based), which the editor saw as `rule` (its description): if the policy
    /// changed meanwhile, nothing is removed.
    Remove { index: usize, rule: String },
}

/// Replaces the approval policy (super admins with config_write); one audited event.
pub async fn set_policy(
    state: &AppState,
    principal: &Principal,
    actor: &Actor,
    rules: Vec<ApprovalRule>,
) -> Result<Vec<ApprovalRule>, ServiceError> {
    edit_policy(state, principal, actor, PolicyEdit::Replace(rules)).await
}

/// Changes the approval policy (super admins with config_write): read, changed and written in
/// one transaction, so two editors cannot lose each other's rules; one audited event.
pub async fn edit_policy(
    state: &AppState,
    principal: &Principal,
    actor: &Actor,
    edit: PolicyEdit,
) -> Result<Vec<ApprovalRule>, ServiceError> {
    access::authorize(principal, &Action::ManageApprovalPolicy)?;
    let tx = state.db.begin().await?;
    let mut audit = AuditWriter::begin(&tx, chrono::Utc::now()).await?;
    let before = load_rules(&tx).await?;
    let rules = match edit {
        PolicyEdit::Replace(rules) => rules,
        PolicyEdit::Add(rule) => {
            let mut rules = before.clone();
            rules.push(rule);
            rules
        }
        PolicyEdit::Remove { index, rule } => {
            if before.get(index).map(ApprovalRule::describe) != Some(rule) {
                return Err(ServiceError::Conflict {
                    message: "the approval policy changed meanwhile; reload it and try again"
                        .into(),
                    current: None,
                });
            }
            let mut rules = before.clone();
            rules.remove(index);
            rules
        }
    };
    if rules.len() > MAX_RULES {
        return Err(ServiceError::Invalid(format!(
            "rules: at most {MAX_RULES} rules"
        )));
    }
    for (i, rule) in rules.iter().enumerate() {
        rule.check()
            .map_err(|e| ServiceError::Invalid(format!("rules[{i}].{e}")))?;
        if rules[..i].iter().any(|earlier| {
            earlier.level == rule.level
                && earlier.tenant == rule.tenant
                && earlier.sensitive_only == rule.sensitive_only
        }) {
            return Err(ServiceError::Invalid(format!(
                "rules[{i}]: an earlier rule covers the same level, tenant and keys"
            )));
        }
    }
    for (i, rule) in rules.iter().enumerate() {
        if let Some(slug) = &rule.tenant {
            let found = tenant::Entity::find()
                .filter(tenant::Column::Slug.eq(slug.as_str()))
                .one(&tx)
                .await?;
            if found.is_none() {
                return Err(ServiceError::Invalid(format!(
                    "rules[{i}].tenant: tenant {slug} was not found"
                )));
            }
        }
    }
    if before == rules {
        return Ok(rules);
    }
    approval_rule::Entity::delete_many().exec(&tx).await?;
    for rule in &rules {
        approval_rule::ActiveModel {
            level: Set(rule.level.map(|l| l.as_str().to_owned())),
            tenant: Set(rule.tenant.as_ref().map(ToString::to_string)),
            sensitive_only: Set(rule.sensitive_only),
            approvals: Set(i32::try_from(rule.approvals).unwrap_or(i32::MAX)),
            ..Default::default()
        }
        .insert(&tx)
        .await?;
    }
    let describe =
        |rules: &[ApprovalRule]| serde_json::to_string(rules).unwrap_or_else(|_| "[]".into());
    audit
        .append(
            &tx,
            actor,
            AuditRecord {
                action: "approval_policy.update".into(),
                level: Some(Level::Global.as_str().into()),
                old_value: Some(describe(&before)),
                new_value: Some(describe(&rules)),
                ..Default::default()
            },
        )
        .await?;
    audit.finish(&tx).await?;
    tx.commit().await?;
    Ok(rules)
}

/// A change request as written: a title, why, and its operations.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewChange {
    pub title: String,
    #[serde(default)]
    pub reason: Option<String>,
    pub ops: Vec<OpRequest>,
}

/// One operation as a request keeps it: the value in its stored form (sealed for a sensitive
/// key) and, once submitted, the entry it was made against.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredOp {
    op: String,
    scope: String,
    key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    #[serde(default)]
    encrypted: bool,
    #[serde(default)]
    sensitive: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    base: Option<StoredBase>,
}

/// The entry an operation was made against; version 0: there was none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredBase {
    version: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    #[serde(default)]
    encrypted: bool,
    #[serde(default)]
    locked: bool,
}

impl StoredOp {
    fn scope(&self) -> Result<Scope, ServiceError> {
        self.scope
            .parse()
            .map_err(|e| corrupt(format!("stored scope {}: {e}", self.scope)))
    }

    fn key(&self) -> Result<ConfigKey, ServiceError> {
        ConfigKey::parse(&self.key).map_err(|e| corrupt(format!("stored key {}: {e}", self.key)))
    }

    fn plaintext(&self, secrets: &SecretBox) -> Result<Option<Value>, ServiceError> {
        self.value
            .as_deref()
            .map(|v| read_stored(secrets, &self.key, v, self.encrypted))
            .transpose()
            .map_err(|e| corrupt(format!("change request value of {}: {e}", self.key)))
    }

    fn request(&self, secrets: &SecretBox) -> Result<OpRequest, ServiceError> {
        Ok(OpRequest {
            op: self.op.clone(),
            scope: self.scope.clone(),
            key: self.key.clone(),
            value: self.plaintext(secrets)?,
        })
    }
}

fn stored_ops(secrets: &SecretBox, checked: &[CheckedOp]) -> Vec<StoredOp> {
    checked
        .iter()
        .map(|c| {
            let (value, encrypted) = match &c.op.kind {
                OpKind::Set(value) => {
                    let (stored, encrypted) = store_value(secrets, &c.def, value);
                    (Some(stored), encrypted)
                }
                _ => (None, false),
            };
            StoredOp {
                op: c.name().into(),
                scope: c.scope.to_string(),
                key: c.key.to_string(),
                value,
                encrypted,
                sensitive: c.def.sensitive,
                base: None,
            }
        })
        .collect()
}

fn parse_ops(row: &change_request::Model) -> Result<Vec<StoredOp>, ServiceError> {
    serde_json::from_str(&row.ops)
        .map_err(|e| corrupt(format!("change request {}: ops: {e}", row.id)))
}

fn text(field: &str, value: Option<&str>, max: usize) -> Result<Option<String>, ServiceError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if value.chars().count() > max {
        return Err(ServiceError::Invalid(format!(
            "{field}: at most {max} characters"
        )));
    }
    Ok(Some(value.to_owned()))
}

/// Checks a proposal: its title and reason, its operations (at most [`MAX_OPS`], one per entry,
/// each one the proposer may make, as [`impact::check_ops`] checks them) and that they can be
/// applied to the entries as they stand.
async fn check_change(
    state: &AppState,
    principal: &Principal,
    change: &NewChange,
) -> Result<(String, Option<String>, Vec<CheckedOp>), ServiceError> {
    let title = text("title", Some(&change.title), MAX_TITLE_CHARS)?
        .ok_or_else(|| ServiceError::Invalid("title: give a title".into()))?;
    let reason = text("reason", change.reason.as_deref(), MAX_TEXT_CHARS)?;
    if change.ops.len() > MAX_OPS {
        return Err(ServiceError::Invalid(format!(
            "ops: at most {MAX_OPS} operations in one change request"
        )));
    }
    let checked = impact::check_ops(state, principal, &change.ops).await?;
    let mut seen = HashSet::new();
    for (i, c) in checked.iter().enumerate() {
        if !seen.insert((c.scope.clone(), c.key.clone())) {
            return Err(ServiceError::Invalid(format!(
                "ops[{i}]: {} at {} appears twice; one operation per entry",
                c.key, c.scope
            )));
        }
    }
    // Locking what is not there cannot be applied: say so now rather than at apply.
    impact::compute(state, checked.iter().map(|c| c.op.clone()).collect()).await?;
    Ok((title, reason, checked))
}

/// Where a request's events are filed, so the audit shows them to whom the request concerns:
/// the one tenant (and department) its operations lie in, at the most general level among
/// them; a request across tenants (only super admins can write one) is for super admins.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Filing {
    level: Level,
    tenant: Option<String>,
    department: Option<String>,
}

/// The tenant and department (slugs) `scope` lies in. A scope deleted since the request was
/// written still answers from its name (a user's: none), so the request stays readable and
/// can be cancelled.
async fn placement<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
) -> Result<(Option<String>, Option<String>), ServiceError> {
    match scope_ids(db, scope).await {
        Ok(ids) => Ok((ids.audit_tenant, ids.audit_department)),
        Err(ServiceError::NotFound(_)) => Ok((
            scope.tenant().map(ToString::to_string),
            match scope {
                Scope::Department { department, .. } => Some(department.to_string()),
                _ => None,
            },
        )),
        Err(other) => Err(other),
    }
}

async fn filing<C: ConnectionTrait>(db: &C, ops: &[StoredOp]) -> Result<Filing, ServiceError> {
    let mut levels = BTreeSet::new();
    let mut tenants = BTreeSet::new();
    let mut departments = BTreeSet::new();
    for op in ops {
        let scope = op.scope()?;
        levels.insert(scope.level());
        if scope == Scope::Global {
            continue;
        }
        let (tenant, department) = placement(db, &scope).await?;
        tenants.insert(tenant);
        departments.insert(department);
    }
    let level = levels.first().copied().unwrap_or(Level::Global);
    Ok(
        match (tenants.len(), tenants.into_iter().next().flatten()) {
            (0, _) => Filing {
                level,
                tenant: None,
                department: None,
            },
            (1, Some(tenant)) if level != Level::Global => Filing {
                level,
                tenant: Some(tenant),
                department: (departments.len() == 1)
                    .then(|| departments.into_iter().next().flatten())
                    .flatten(),
            },
            _ => Filing {
                level: Level::User,
                tenant: None,
                department: None,
            },
        },
    )
}

fn timestamp(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Proposes a change: a draft, written by `principal`, who must be allowed to make every
/// operation of it.
pub async fn create(
    state: &AppState,
    principal: &Principal,
    actor: &Actor,
    change: NewChange,
) -> Result<ChangeView, ServiceError> {
    let (title, reason, checked) = check_change(state, principal, &change).await?;
    let ops = stored_ops(&state.secrets, &checked);
    let now = chrono::Utc::now();
    let tx = state.db.begin().await?;
    let mut audit = AuditWriter::begin(&tx, now).await?;
    let filing = filing(&tx, &ops).await?;
    let row = change_request::ActiveModel {
        title: Set(title.clone()),
        reason: Set(reason.clone()),
        author: Set(principal.user.to_string()),
        tenant: Set(filing.tenant.clone()),
        department: Set(filing.department.clone()),
        state: Set(ChangeState::Draft.as_str().into()),
        ops: Set(serde_json::to_string(&ops).map_err(|e| corrupt(e.to_string()))?),
        round: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&tx)
    .await?;
    review(&tx, &row, actor, "create", None, now).await?;
    event(&tx, &mut audit, actor, &row, &filing, "create", reason).await?;
    audit.finish(&tx).await?;
    tx.commit().await?;
    get(state, principal, row.id).await
}

async fn review<C: ConnectionTrait>(
    tx: &C,
    row: &change_request::Model,
    actor: &Actor,
    kind: &str,
    comment: Option<String>,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), ServiceError> {
    change_review::ActiveModel {
        change_id: Set(row.id),
        round: Set(row.round),
        actor: Set(actor.name.clone()),
        kind: Set(kind.into()),
        comment: Set(comment),
        at: Set(at),
        ..Default::default()
    }
    .insert(tx)
    .await?;
    Ok(())
}

/// The audit event of a transition: `change.<kind>`, filed where the request's operations lie.
async fn event<C: ConnectionTrait>(
    tx: &C,
    audit: &mut AuditWriter,
    actor: &Actor,
    row: &change_request::Model,
    filing: &Filing,
    kind: &str,
    comment: Option<String>,
) -> Result<(), ServiceError> {
    audit
        .append(
            tx,
            actor,
            AuditRecord {
                action: format!("change.{kind}"),
                level: Some(filing.level.as_str().into()),
                tenant: filing.tenant.clone(),
                department: filing.department.clone(),
                new_value: Some(
                    json!({"id": row.id, "title": row.title, "state": row.state}).to_string(),
                ),
                reason: comment,
                batch_id: Some(batch(row.id)),
                ..Default::default()
            },
        )
        .await?;
    Ok(())
}

fn batch(id: i64) -> String {
    format!("change-{id}")
}

fn not_found(id: i64) -> ServiceError {
    ServiceError::NotFound(format!("change request {id} was not found"))
}

/// Whether `principal` may see request `row`: its author, or whoever may read every scope
/// of it.
async fn visible(
    state: &AppState,
    principal: &Principal,
    row: &change_request::Model,
    ops: &[StoredOp],
) -> bool {
    if row.author == principal.user.as_str() {
        return true;
    }
    if !decide(principal, &Action::ViewChanges).is_allowed() {
        return false;
    }
    for op in ops {
        let Ok(scope) = op.scope() else {
            return false;
        };
        if access::authorize_read(state, principal, &scope, false)
            .await
            .is_err()
        {
            return false;
        }
    }
    !ops.is_empty()
}

/// Whether `principal` may write every scope of the request (and may review at all).
async fn writes_all(state: &AppState, principal: &Principal, ops: &[StoredOp]) -> bool {
    if !decide(principal, &Action::ReviewChange { own: false }).is_allowed() {
        return false;
    }
    for op in ops {
        let (Ok(scope), Ok(key)) = (op.scope(), op.key()) else {
            return false;
        };
        if access::authorize_write(state, principal, &scope, &key)
            .await
            .is_err()
        {
            return false;
        }
    }
    true
}

/// What the policy asks of the request now.
async fn required<C: ConnectionTrait>(
    state: &AppState,
    db: &C,
    ops: &[StoredOp],
) -> Result<u32, ServiceError> {
    let rules = load_rules(db).await?;
    if rules.is_empty() {
        return Ok(0);
    }
    let mut places = Vec::with_capacity(ops.len());
    for op in ops {
        let scope = op.scope()?;
        let (tenant, _) = placement(db, &scope).await?;
        places.push(place_in(&scope, tenant.as_deref(), sensitive(state, op)));
    }
    Ok(approval::required(&rules, &places))
}

/// Whether an operation's key is sensitive: as it was when proposed, or as it is now (a key
/// made sensitive since must not show its values).
fn sensitive(state: &AppState, op: &StoredOp) -> bool {
    op.sensitive
        || state.snapshots.get(None).is_some_and(|platform| {
            ConfigKey::parse(&op.key)
                .ok()
                .and_then(|key| platform.keys.get(&key).map(|(_, def)| def.sensitive))
                .unwrap_or(false)
        })
}

async fn reviews<C: ConnectionTrait>(
    db: &C,
    id: i64,
) -> Result<Vec<change_review::Model>, ServiceError> {
    Ok(change_review::Entity::find()
        .filter(change_review::Column::ChangeId.eq(id))
        .order_by_asc(change_review::Column::Id)
        .all(db)
        .await?)
}

fn approvals_of<'a>(
    row: &change_request::Model,
    reviews: &'a [change_review::Model],
) -> Vec<&'a change_review::Model> {
    reviews
        .iter()
        .filter(|r| r.round == row.round && r.kind == "approve")
        .collect()
}

fn state_of(row: &change_request::Model) -> Result<ChangeState, ServiceError> {
    row.state
        .parse()
        .map_err(|e| corrupt(format!("change request {}: state: {e}", row.id)))
}

/// Everything deciding a transition needs about one request and one person.
struct Situation {
    row: change_request::Model,
    ops: Vec<StoredOp>,
    /// Its history, oldest first.
    reviews: Vec<change_review::Model>,
    standing: Standing,
    role: Role,
}

async fn situation<C: ConnectionTrait>(
    state: &AppState,
    db: &C,
    principal: &Principal,
    id: i64,
) -> Result<Situation, ServiceError> {
    let row = change_request::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| not_found(id))?;
    let ops = parse_ops(&row)?;
    if !visible(state, principal, &row, &ops).await {
        return Err(not_found(id));
    }
    let reviews = reviews(db, id).await?;
    let (standing, approved) = standing(state, db, principal, &row, &ops, &reviews).await?;
    let role = Role {
        author: row.author == principal.user.as_str(),
        writes_all: writes_all(state, principal, &ops).await,
        approved,
    };
    Ok(Situation {
        row,
        ops,
        reviews,
        standing,
        role,
    })
}

/// Where request `row` stands (its approvals in this round, what the policy asks now), and
/// whether `principal` has approved it in this round.
async fn standing<C: ConnectionTrait>(
    state: &AppState,
    db: &C,
    principal: &Principal,
    row: &change_request::Model,
    ops: &[StoredOp],
    reviews: &[change_review::Model],
) -> Result<(Standing, bool), ServiceError> {
    let approvals = approvals_of(row, reviews);
    let standing = Standing {
        state: state_of(row)?,
        approvals: u32::try_from(approvals.len()).unwrap_or(u32::MAX),
        required: required(state, db, ops).await?,
    };
    let approved = approvals.iter().any(|r| r.actor == principal.user.as_str());
    Ok((standing, approved))
}

fn refusal(refusal: Refusal) -> ServiceError {
    match refusal {
        Refusal::NotAllowed(m) => ServiceError::Forbidden(m),
        Refusal::WrongState(message) => ServiceError::Conflict {
            message,
            current: None,
        },
    }
}

/// One change request, as `principal` may see it.
pub async fn get(
    state: &AppState,
    principal: &Principal,
    id: i64,
) -> Result<ChangeView, ServiceError> {
    let situation = situation(state, &state.db, principal, id).await?;
    render(state, principal, situation).await
}

async fn render(
    state: &AppState,
    principal: &Principal,
    situation: Situation,
) -> Result<ChangeView, ServiceError> {
    let Situation {
        row,
        ops,
        reviews,
        standing,
        role,
    } = situation;
    let line = |r: &change_review::Model| ReviewView {
        by: r.actor.clone(),
        kind: r.kind.clone(),
        comment: r.comment.clone(),
        at: timestamp(r.at),
    };
    let approvals = approvals_of(&row, &reviews).into_iter().map(line).collect();
    let actions = Transition::ALL
        .into_iter()
        .filter(|t| {
            approval::next(standing, role, *t).is_ok()
                && (*t != Transition::Approve && *t != Transition::Reject
                    || decide(principal, &Action::ReviewChange { own: role.author }).is_allowed())
        })
        .map(|t| t.as_str().to_owned())
        .collect();
    let impact = if standing.state.is_final() {
        None
    } else {
        let requests: Result<Vec<OpRequest>, ServiceError> =
            ops.iter().map(|op| op.request(&state.secrets)).collect();
        match requests {
            Ok(requests) => impact_of(state, principal, &requests).await.ok(),
            Err(_) => None,
        }
    };
    let mut views = Vec::with_capacity(ops.len());
    for op in &ops {
        views.push(op_view(state, op)?);
    }
    Ok(ChangeView {
        id: row.id,
        title: row.title,
        reason: row.reason,
        author: row.author,
        state: standing.state.as_str().into(),
        ops: views,
        approvals,
        required_approvals: standing.required,
        impact,
        history: reviews.iter().map(line).collect(),
        actions,
        created_at: timestamp(row.created_at),
        updated_at: timestamp(row.updated_at),
    })
}

/// The impact of the request's operations now, as the reader may see it (it masks what the
/// reader may not read). Checked without the writer's authorization: a reader who may not make
/// the change still sees whom it would affect within what they read. Operations that no
/// longer check (a scope deleted, a key redefined) have no impact to show.
async fn impact_of(
    state: &AppState,
    principal: &Principal,
    requests: &[OpRequest],
) -> Result<impact::ImpactView, ServiceError> {
    let mut checked = Vec::with_capacity(requests.len());
    for (i, request) in requests.iter().enumerate() {
        checked.push(impact::check_op(state, None, i, request).await?);
    }
    let mut view = impact::view(state, principal, &checked).await?;
    // A reader who may not make the change (an admin of one tenant reading a platform-wide
    // request) sees its reach within their own tenant only, never other tenants' numbers.
    if !principal.traits.contains(&Trait::SuperAdmin) {
        let own = principal.tenant.as_ref().map(ToString::to_string);
        view.by_tenant
            .retain(|tenant, _| own.as_deref() == Some(tenant.as_str()));
        view.users_affected = view.by_tenant.values().sum();
        view.newly_shadowed_total = view.newly_shadowed.len();
        view.redundant_total = view.redundant.len();
    }
    Ok(view)
}

/// One operation for the reader: proposed, base and current values (masked for a sensitive
/// key, whoever reads: a request is no place to reveal a secret).
fn op_view(state: &AppState, op: &StoredOp) -> Result<ChangeOpView, ServiceError> {
    let secret = sensitive(state, op);
    let shown = |value: Value| {
        if secret {
            Value::String(MASK.into())
        } else {
            value
        }
    };
    let scope = op.scope()?;
    let current = current_entry(state, &scope, &op.key).map(|cell| EntryState {
        value: shown(cell.value),
        locked: cell.locked,
        version: cell.version,
    });
    let base = match &op.base {
        Some(base) if base.version > 0 => Some(EntryState {
            value: match &base.value {
                Some(v) => shown(
                    read_stored(&state.secrets, &op.key, v, base.encrypted)
                        .map_err(|e| corrupt(format!("base of {}: {e}", op.key)))?,
                ),
                None => Value::Null,
            },
            locked: base.locked,
            version: base.version,
        }),
        _ => None,
    };
    let moved = op
        .base
        .as_ref()
        .is_some_and(|base| base.version != current.as_ref().map_or(0, |c| c.version));
    Ok(ChangeOpView {
        op: op.op.clone(),
        scope: op.scope.clone(),
        key: op.key.clone(),
        value: op.plaintext(&state.secrets)?.map(shown),
        base,
        current,
        based: op.base.is_some(),
        moved,
    })
}

/// The entry at `scope` now, from the snapshots.
fn current_entry(
    state: &AppState,
    scope: &Scope,
    key: &str,
) -> Option<crate::domain::resolve::Cell> {
    let snapshot = state.snapshots.for_scope(scope)?;
    let idx = snapshot.keys.idx(key)?;
    snapshot.entry(scope, idx).cloned()
}

/// Change requests `principal` may see, newest first; `state` filters by state.
pub async fn list(
    state: &AppState,
    principal: &Principal,
    filter: Option<ChangeState>,
) -> Result<Vec<ChangeSummary>, ServiceError> {
    let mut query = change_request::Entity::find().order_by_desc(change_request::Column::Id);
    if let Some(filter) = filter {
        query = query.filter(change_request::Column::State.eq(filter.as_str()));
    }
    if !decide(principal, &Action::ViewChanges).is_allowed() {
        query = query.filter(change_request::Column::Author.eq(principal.user.as_str()));
    } else if !principal.traits.contains(&Trait::SuperAdmin) {
        // What lies in their tenant, platform-wide requests, and their own; each then only
        // if they may read all of it.
        let mut mine = Condition::any()
            .add(change_request::Column::Tenant.is_null())
            .add(change_request::Column::Author.eq(principal.user.as_str()));
        if let Some(tenant) = &principal.tenant {
            mine = mine.add(change_request::Column::Tenant.eq(tenant.as_str()));
        }
        query = query.filter(mine);
    }
    let mut out = Vec::new();
    // Read in pages, so a reader who sees few of many requests still gets a full list without
    // the whole table in memory.
    let mut after: Option<i64> = None;
    loop {
        let mut page = query.clone();
        if let Some(after) = after {
            page = page.filter(change_request::Column::Id.lt(after));
        }
        let rows = page.limit(500).all(&state.db).await?;
        let Some(last) = rows.last() else { break };
        after = Some(last.id);
        let done = rows.len() < 500;
        for row in rows {
            let ops = parse_ops(&row)?;
            if visible(state, principal, &row, &ops).await {
                out.push(ChangeSummary {
                    id: row.id,
                    title: row.title,
                    author: row.author,
                    state: row.state,
                    ops: ops.len(),
                    updated_at: timestamp(row.updated_at),
                });
                if out.len() == LISTED {
                    return Ok(out);
                }
            }
        }
        if done {
            break;
        }
    }
    Ok(out)
}

/// The Changes page's lists for `principal`: their own open requests, others' requests in
/// review they may review, and everything else they may see; with the approval policy.
pub async fn lists(state: &AppState, principal: &Principal) -> Result<ChangeLists, ServiceError> {
    let reviewer = decide(principal, &Action::ReviewChange { own: false }).is_allowed();
    let mut lists = ChangeLists {
        mine: Vec::new(),
        to_review: Vec::new(),
        others: Vec::new(),
        rules: policy(state, principal).await?,
        can_manage_policy: decide(principal, &Action::ManageApprovalPolicy).is_allowed(),
    };
    for change in list(state, principal, None).await? {
        let open = change
            .state
            .parse::<ChangeState>()
            .is_ok_and(|s| !s.is_final());
        let mine = change.author == principal.user.as_str();
        if mine && open {
            lists.mine.push(change);
        } else if !mine && reviewer && change.state == ChangeState::InReview.as_str() {
            lists.to_review.push(change);
        } else {
            lists.others.push(change);
        }
    }
    Ok(lists)
}

/// Proposes one entry operation for review at once (the editor's "Propose change"): a request
/// titled after the operation, created and submitted in one step; answers its id.
pub async fn propose(
    state: &AppState,
    principal: &Principal,
    actor: &Actor,
    op: OpRequest,
    reason: Option<String>,
) -> Result<i64, ServiceError> {
    let verb = match op.op.as_str() {
        "set" => "Set",
        "unset" => "Remove",
        "lock" => "Lock",
        "unlock" => "Unlock",
        other => {
            return Err(ServiceError::Invalid(format!(
                "op: {other:?} is not one of set, unset, lock, unlock"
            )));
        }
    };
    let mut title = format!("{verb} {} at {}", op.key, op.scope);
    if title.chars().count() > MAX_TITLE_CHARS {
        title = title.chars().take(MAX_TITLE_CHARS - 1).collect::<String>() + "…";
    }
    let created = create(
        state,
        principal,
        actor,
        NewChange {
            title,
            reason,
            ops: vec![op],
        },
    )
    .await?;
    act(
        state,
        principal,
        actor,
        created.id,
        Transition::Submit,
        None,
    )
    .await?;
    Ok(created.id)
}

/// Replaces a request's title, reason and operations (its author only). A request in review
/// or approved goes back to review in a new round: the approvals it had stop counting.
pub async fn edit(
    state: &AppState,
    principal: &Principal,
    actor: &Actor,
    id: i64,
    change: NewChange,
) -> Result<ChangeView, ServiceError> {
    let before = situation(state, &state.db, principal, id).await?;
    let next = approval::next(before.standing, before.role, Transition::Edit).map_err(refusal)?;
    let (title, reason, checked) = check_change(state, principal, &change).await?;
    let mut ops = stored_ops(&state.secrets, &checked);
    let now = chrono::Utc::now();
    let tx = state.db.begin().await?;
    let mut audit = AuditWriter::begin(&tx, now).await?;
    let row = unchanged(&tx, &before.row).await?;
    if next != ChangeState::Draft {
        take_bases(&tx, &state.secrets, &mut ops).await?;
    }
    let filing = filing(&tx, &ops).await?;
    let mut active: change_request::ActiveModel = row.into();
    active.title = Set(title);
    active.reason = Set(reason);
    active.tenant = Set(filing.tenant.clone());
    active.department = Set(filing.department.clone());
    active.ops = Set(serde_json::to_string(&ops).map_err(|e| corrupt(e.to_string()))?);
    active.state = Set(next.as_str().into());
    active.round = Set(before.row.round + 1);
    active.updated_at = Set(now);
    let row = active.update(&tx).await?;
    review(&tx, &row, actor, "edit", None, now).await?;
    event(&tx, &mut audit, actor, &row, &filing, "edit", None).await?;
    audit.finish(&tx).await?;
    tx.commit().await?;
    get(state, principal, id).await
}

/// Re-reads the request in the transaction: if anyone moved it on since it was decided on
/// (another reviewer, an edit), the decision no longer holds.
async fn unchanged<C: ConnectionTrait>(
    tx: &C,
    seen: &change_request::Model,
) -> Result<change_request::Model, ServiceError> {
    let row = change_request::Entity::find_by_id(seen.id)
        .one(tx)
        .await?
        .ok_or_else(|| not_found(seen.id))?;
    if row.state != seen.state || row.round != seen.round || row.updated_at != seen.updated_at {
        return Err(ServiceError::Conflict {
            message: format!(
                "change request {} changed meanwhile (it is now {}); reload it and try again",
                row.id, row.state
            ),
            current: None,
        });
    }
    Ok(row)
}

/// Records the entry each operation is made against.
async fn take_bases<C: ConnectionTrait>(
    tx: &C,
    secrets: &SecretBox,
    ops: &mut [StoredOp],
) -> Result<(), ServiceError> {
    for op in ops {
        let scope = op.scope()?;
        let (key_id, _) = find_key(tx, secrets, &op.key()?).await?;
        let ids = scope_ids(tx, &scope).await?;
        let existing = find_entry(tx, key_id, &scope, &ids).await?;
        op.base = Some(match existing {
            Some(row) => StoredBase {
                version: row.version,
                value: Some(row.value),
                encrypted: row.encrypted,
                locked: row.locked,
            },
            None => StoredBase {
                version: 0,
                value: None,
                encrypted: false,
                locked: false,
            },
        });
    }
    Ok(())
}

/// Submits, approves, rejects, applies, cancels or comments on a change request.
pub async fn act(
    state: &AppState,
    principal: &Principal,
    actor: &Actor,
    id: i64,
    transition: Transition,
    comment: Option<String>,
) -> Result<ChangeView, ServiceError> {
    let comment = text("comment", comment.as_deref(), MAX_TEXT_CHARS)?;
    let before = situation(state, &state.db, principal, id).await?;
    let mut next = approval::next(before.standing, before.role, transition).map_err(refusal)?;
    match transition {
        Transition::Edit => {
            return Err(ServiceError::Invalid(
                "action: an edit gives the request's new content".into(),
            ));
        }
        Transition::Approve | Transition::Reject => access::enforce(
            decide(
                principal,
                &Action::ReviewChange {
                    own: before.role.author,
                },
            ),
            || format!("change request {id}"),
        )?,
        Transition::Comment if comment.is_none() => {
            return Err(ServiceError::Invalid("comment: write a comment".into()));
        }
        _ => {}
    }
    let now = chrono::Utc::now();
    let tx = state.db.begin().await?;
    let mut audit = AuditWriter::begin(&tx, now).await?;
    let row = unchanged(&tx, &before.row).await?;
    // Decided again on what the transaction reads: the policy or the approvals may have moved
    // since (a stricter rule must hold an apply back), and the operations are taken from here
    // (a key rotation may have re-sealed them).
    let mut ops = parse_ops(&row)?;
    let reviews = reviews(&tx, id).await?;
    let (standing, approved) = standing(state, &tx, principal, &row, &ops, &reviews).await?;
    let role = Role {
        approved,
        ..before.role
    };
    if (standing, role) != (before.standing, before.role) {
        next = approval::next(standing, role, transition).map_err(refusal)?;
    }
    let mut kind = transition.as_str();
    let mut applied = false;
    // A submission is a new proposal against the entries as they are now: approvals given to
    // an earlier one (before a conflict) do not carry over.
    let round = if transition == Transition::Submit {
        row.round + 1
    } else {
        row.round
    };
    match transition {
        Transition::Submit => take_bases(&tx, &state.secrets, &mut ops).await?,
        Transition::Apply => {
            if moved(&tx, &state.secrets, &ops).await? {
                next = ChangeState::Conflicted;
                kind = "conflict";
            } else {
                apply(&tx, &mut audit, state, actor, &row, &ops, now).await?;
                applied = true;
            }
        }
        _ => {}
    }
    let filing = filing(&tx, &ops).await?;
    let mut active: change_request::ActiveModel = row.into();
    active.ops = Set(serde_json::to_string(&ops).map_err(|e| corrupt(e.to_string()))?);
    active.state = Set(next.as_str().into());
    active.round = Set(round);
    active.updated_at = Set(now);
    let row = active.update(&tx).await?;
    review(&tx, &row, actor, kind, comment.clone(), now).await?;
    event(&tx, &mut audit, actor, &row, &filing, kind, comment).await?;
    audit.finish(&tx).await?;
    tx.commit().await?;
    if applied {
        state.publish().await;
    }
    get(state, principal, id).await
}

/// Whether any entry moved since the request's bases were taken.
async fn moved<C: ConnectionTrait>(
    tx: &C,
    secrets: &SecretBox,
    ops: &[StoredOp],
) -> Result<bool, ServiceError> {
    for op in ops {
        let scope = op.scope()?;
        let (key_id, _) = find_key(tx, secrets, &op.key()?).await?;
        let ids = scope_ids(tx, &scope).await?;
        let version = find_entry(tx, key_id, &scope, &ids)
            .await?
            .map_or(0, |e| e.version);
        if op.base.as_ref().is_none_or(|base| base.version != version) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Writes every operation of an approved request, in the caller's transaction, as one audit
/// batch. Values are checked again against the keys as they are now.
async fn apply<C: ConnectionTrait>(
    tx: &C,
    audit: &mut AuditWriter,
    state: &AppState,
    actor: &Actor,
    row: &change_request::Model,
    ops: &[StoredOp],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), ServiceError> {
    let reason = Some(format!("change request {}: {}", row.id, row.title));
    for (i, op) in ops.iter().enumerate() {
        let scope = op.scope()?;
        let (key_id, def) = find_key(tx, &state.secrets, &op.key()?).await?;
        let ids = scope_ids(tx, &scope).await?;
        let existing = find_entry(tx, key_id, &scope, &ids).await?;
        let old_value = existing
            .as_ref()
            .map(|e| super::entries::stored_plaintext(&state.secrets, &def, e))
            .transpose()?;
        let old_locked = existing.as_ref().map(|e| e.locked);
        let (value, locked) = match op.op.as_str() {
            "unset" => {
                if let Some(entry) = existing {
                    remove_entry(
                        tx,
                        audit,
                        &state.secrets,
                        actor,
                        Remove {
                            def: &def,
                            scope: &scope,
                            ids: &ids,
                            row: entry,
                            reason: reason.clone(),
                            batch_id: Some(batch(row.id)),
                        },
                    )
                    .await?;
                }
                continue;
            }
            "set" => {
                let value = op.plaintext(&state.secrets)?.ok_or_else(|| {
                    corrupt(format!("change request {}: ops[{i}] has no value", row.id))
                })?;
                if !def.allows_level(scope.level()) {
                    return Err(ServiceError::Invalid(format!(
                        "ops[{i}].scope: key {} cannot be set at the {} level any more",
                        def.key,
                        scope.level()
                    )));
                }
                def.validate(&value).map_err(|e| {
                    ServiceError::Invalid(format!("ops[{i}].value: key {}: {e}", def.key))
                })?;
                (value, old_locked.unwrap_or(false))
            }
            lock => match &old_value {
                Some(value) => (value.clone(), lock == "lock"),
                None => {
                    return Err(ServiceError::Invalid(format!(
                        "ops[{i}]: there is no entry to {lock} at {scope}"
                    )));
                }
            },
        };
        if old_value.as_ref() == Some(&value) && old_locked == Some(locked) {
            continue;
        }
        put_entry(
            tx,
            audit,
            &state.secrets,
            actor,
            now,
            Put {
                key_id,
                def: &def,
                scope: &scope,
                ids: &ids,
                existing,
                old_value,
                value: &value,
                locked,
                reason: reason.clone(),
                batch_id: Some(batch(row.id)),
            },
        )
        .await?;
    }
    Ok(())
}

/// Re-seals the sensitive values change requests keep under the active master key (part of a
/// rotation); answers how many requests changed.
pub(super) async fn reseal<C: ConnectionTrait>(
    tx: &C,
    secrets: &SecretBox,
) -> Result<usize, ServiceError> {
    let mut done = 0;
    for row in change_request::Entity::find().all(tx).await? {
        let mut ops = parse_ops(&row)?;
        let mut changed = false;
        for op in &mut ops {
            let key = op.key.clone();
            let base_encrypted = op.base.as_ref().is_some_and(|b| b.encrypted);
            for (value, encrypted) in [
                (op.value.as_mut(), op.encrypted),
                (
                    op.base.as_mut().and_then(|b| b.value.as_mut()),
                    base_encrypted,
                ),
            ] {
                let Some(value) = value.filter(|_| encrypted) else {
                    continue;
                };
                if secrets.is_current(value) {
                    continue;
                }
                *value = secrets.reseal(&key, value).map_err(|e| {
                    ServiceError::Invalid(format!(
                        "a value of change request {} cannot be opened ({e}); configure the key it was sealed with in STRATA_OLD_MASTER_KEYS",
                        row.id
                    ))
                })?;
                changed = true;
            }
        }
        if changed {
            let mut active: change_request::ActiveModel = row.into();
            active.ops = Set(serde_json::to_string(&ops).map_err(|e| corrupt(e.to_string()))?);
            active.update(tx).await?;
            done += 1;
        }
    }
    Ok(done)
}
