//! Import and export of `strata/v1` documents. An import is validated whole first and applied
//! in one transaction (with one audit event per change, sharing a batch id); it is idempotent:
//! what is already so is counted as unchanged and writes nothing.

use std::collections::{BTreeSet, HashMap};

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr,
    EntityTrait, QueryFilter, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::AppState;
use super::audit::{Actor, AuditWriter};
use super::crypto::SecretBox;
use super::entity::{
    config_key, department, entry, group, template, template_entry, tenant, user, user_group,
    user_trait,
};
use super::entries::{ScopeIndex, audit_value, audit_value_at, store_value};
use super::error::ServiceError;
use super::state::{
    EntryRow, Loaded, TemplateRow, UserRow, load, load_directory, load_entries_of_keys, load_keys,
    load_tenants,
};
use crate::domain::audit_chain::AuditRecord;
use crate::domain::document::{
    self, DepartmentDoc, Document, EntryDoc, FORMAT, GroupDoc, Plan, Problem, ScopePlan,
    TemplateDoc, TemplateEntryDoc, TemplatePlan, TenantDoc, UserDoc, key_doc,
};
use crate::domain::key::KeyDefinition;
use crate::domain::level::Level;
use crate::domain::name::Slug;
use crate::domain::scope::Scope;

mod review;
use review::Review;

#[derive(utoipa::ToSchema, Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub errors: Vec<Problem>,
}

/// A user to create, with what is written once it has an id.
struct NewUser {
    row: user::ActiveModel,
    slug: String,
    tenant_id: Option<i64>,
    department_id: Option<i64>,
    groups: BTreeSet<i64>,
    traits: BTreeSet<crate::domain::traits::Trait>,
}

/// New entry rows per statement: within the bind-parameter limits of SQLite and PostgreSQL.
const ENTRY_BATCH: usize = 1000;

enum Change {
    Created,
    Updated,
    Unchanged,
}

impl ImportReport {
    fn count(&mut self, change: Change) {
        match change {
            Change::Created => self.created += 1,
            Change::Updated => self.updated += 1,
            Change::Unchanged => self.unchanged += 1,
        }
    }
}

/// How a document is applied: as an import (events share a batch id and a summary event
/// closes the batch), as one edit of the directory or key registry (plain events), or as the
/// creation of one item, which must not exist yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Import { dry_run: bool },
    Edit,
    Create(Creating),
}

/// The item a [`Mode::Create`] document creates. Whether it exists is asked inside the
/// transaction that creates it, under the audit chain's write lock: two concurrent creates of
/// one id cannot both pass, and the second cannot turn into an update of what the first made
/// (another tenant's user, say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Creating {
    Tenant(Slug),
    Department(Slug, Slug),
    Group(Slug, Slug),
    User(Slug),
    Template(Slug),
}

impl Creating {
    /// The tenant the item is in (or is).
    fn tenant(&self) -> Option<&Slug> {
        match self {
            Creating::Tenant(t) | Creating::Department(t, _) | Creating::Group(t, _) => Some(t),
            Creating::User(_) | Creating::Template(_) => None,
        }
    }

    fn exists(&self, loaded: &Loaded) -> Option<String> {
        let tenant_id = |t: &Slug| {
            loaded
                .tenants
                .iter()
                .find(|row| &row.slug == t)
                .map(|row| row.id)
        };
        let found = match self {
            Creating::Tenant(t) => tenant_id(t).is_some(),
            Creating::Department(t, d) => tenant_id(t).is_some_and(|id| {
                loaded
                    .departments
                    .iter()
                    .any(|row| row.tenant_id == id && &row.slug == d)
            }),
            Creating::Group(t, g) => tenant_id(t).is_some_and(|id| {
                loaded
                    .groups
                    .iter()
                    .any(|row| row.tenant_id == id && &row.slug == g)
            }),
            Creating::User(u) => loaded.users.iter().any(|row| &row.slug == u),
            Creating::Template(t) => loaded.templates.iter().any(|row| &row.name == t),
        };
        found.then(|| match self {
            Creating::Tenant(t) => format!("tenant {t}"),
            Creating::Department(t, d) => format!("department {t}/{d}"),
            Creating::Group(t, g) => format!("group {t}/{g}"),
            Creating::User(u) => format!("user {u}"),
            Creating::Template(t) => format!("template {t}"),
        })
    }
}

/// The part of the platform a document is checked and applied against.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reach {
    /// All of it: an import, or a global entry (the global layer).
    Everything,
    /// Every key definition and template, the snapshots of `tenants` (`None`: the platform
    /// users'), the users named `users` and the entries of the keys `redefined` (wherever they
    /// are: each must fit the new definition): a one-item write of the directory, a template
    /// or a key definition reads as much on any size of platform.
    Part {
        tenants: BTreeSet<Option<String>>,
        users: BTreeSet<String>,
        redefined: BTreeSet<i64>,
    },
}

impl Reach {
    /// What `doc` reaches: the tenants it names, those its users are in now (a user may move
    /// out of one), the platform's users.
    async fn of<C: ConnectionTrait>(db: &C, doc: &Document, mode: &Mode) -> Result<Reach, DbErr> {
        let global_entry = doc.entries.iter().any(|e| e.level == "global");
        if matches!(mode, Mode::Import { .. }) || global_entry {
            return Ok(Reach::Everything);
        }
        let mut redefined = BTreeSet::new();
        if !doc.keys.is_empty() {
            let names: Vec<&str> = doc.keys.iter().map(|k| k.key.as_str()).collect();
            redefined = config_key::Entity::find()
                .filter(config_key::Column::Name.is_in(names))
                .all(db)
                .await?
                .into_iter()
                .map(|k| k.id)
                .collect();
        }
        let mut tenants: BTreeSet<Option<String>> = BTreeSet::from([None]);
        tenants.extend(doc.tenants.iter().map(|t| Some(t.id.clone())));
        tenants.extend(doc.users.iter().filter_map(|u| u.tenant.clone()).map(Some));
        tenants.extend(
            doc.entries
                .iter()
                .filter_map(|e| e.tenant.clone())
                .map(Some),
        );
        if let Mode::Create(item) = mode {
            tenants.extend(item.tenant().map(|t| Some(t.to_string())));
        }
        let users: BTreeSet<String> = doc
            .users
            .iter()
            .map(|u| u.id.clone())
            .chain(doc.entries.iter().filter_map(|e| e.user.clone()))
            .collect();
        if !users.is_empty() {
            let tenant_ids: BTreeSet<i64> = user::Entity::find()
                .filter(user::Column::Slug.is_in(users.iter().cloned()))
                .all(db)
                .await?
                .into_iter()
                .filter_map(|u| u.tenant_id)
                .collect();
            if !tenant_ids.is_empty() {
                for t in tenant::Entity::find()
                    .filter(tenant::Column::Id.is_in(tenant_ids))
                    .all(db)
                    .await?
                {
                    tenants.insert(Some(t.slug));
                }
            }
        }
        Ok(Reach::Part {
            tenants,
            users,
            redefined,
        })
    }

    /// The tenants and users a scope index needs (none: all of them).
    fn part(&self) -> Option<(&BTreeSet<Option<String>>, &BTreeSet<String>)> {
        match self {
            Reach::Everything => None,
            Reach::Part { tenants, users, .. } => Some((tenants, users)),
        }
    }
}

/// Validates `doc` and, when it is valid and `dry_run` is false, applies it.
pub async fn import(
    state: &AppState,
    actor: &Actor,
    doc: &Document,
    dry_run: bool,
) -> Result<ImportReport, ServiceError> {
    apply(state, actor, doc, Mode::Import { dry_run }).await
}

/// Validates `doc` and applies it in one transaction unless it has problems (then nothing is
/// written and the report lists them) or it is a dry run.
pub async fn apply(
    state: &AppState,
    actor: &Actor,
    doc: &Document,
    mode: Mode,
) -> Result<ImportReport, ServiceError> {
    let now = chrono::Utc::now();
    let tx = state.db.begin().await?;
    // Events are written in batches: an import can hold a million of them.
    let audit = AuditWriter::begin(&tx, now).await?.buffered();
    // Read under the chain's lock, like a direct write's: a policy change cannot pass it.
    let rules = super::changes::load_rules(&tx).await?;
    let reach = Reach::of(&tx, doc, &mode).await?;
    let loaded = match &reach {
        Reach::Everything => load(&tx, &state.secrets).await?,
        // Entries are read only to compare the document's with them (a redefined key reads
        // its own, in `run`): a directory item alone reads none.
        Reach::Part { tenants, .. } if doc.entries.is_empty() => {
            load_directory(&tx, &state.secrets, Some(tenants)).await?
        }
        Reach::Part { tenants, .. } => load_tenants(&tx, &state.secrets, tenants).await?,
    };
    let mut within_tenant;
    let mut doc = doc;
    if let Mode::Create(item) = &mode {
        if let Some(what) = item.exists(&loaded) {
            return Err(ServiceError::Conflict {
                message: format!("{what} already exists"),
                current: None,
            });
        }
        // A department or group is created in the tenant as it is now, not as the caller
        // read it: a tenant deleted meanwhile is not created again, a rename is not undone.
        if let Creating::Department(tenant, _) | Creating::Group(tenant, _) = item {
            let row = loaded
                .tenants
                .iter()
                .find(|t| &t.slug == tenant)
                .ok_or_else(|| ServiceError::NotFound(format!("tenant {tenant} was not found")))?;
            within_tenant = doc.clone();
            for t in &mut within_tenant.tenants {
                t.name.clone_from(&row.name);
                t.template = loaded
                    .template_name(row.template_id)
                    .map(ToString::to_string);
                t.plan = None;
            }
            doc = &within_tenant;
        }
    }
    let open = |key: &str, sealed: &str| state.secrets.open(key, sealed).map_err(|e| e.to_string());
    let plan = match document::validate(doc, &loaded.catalog(), &open) {
        Ok(plan) => plan,
        Err(errors) => {
            return Ok(ImportReport {
                errors,
                ..Default::default()
            });
        }
    };
    let mut apply = Apply {
        state,
        tx: &tx,
        actor,
        audit,
        now,
        batch: matches!(mode, Mode::Import { .. }).then(|| uuid::Uuid::new_v4().to_string()),
        report: ImportReport::default(),
        // Nothing to collect when no rule could ask for review.
        review: (!rules.is_empty()).then(Review::default),
    };
    apply.run(&loaded, &plan, &reach).await?;
    let Apply {
        mut audit,
        mut report,
        batch,
        review,
        ..
    } = apply;
    if !report.errors.is_empty() {
        report.created = 0;
        report.updated = 0;
        report.unchanged = 0;
        return Ok(report);
    }
    if let Some(review) = review {
        // A dry run is refused too: it tells the operator before they try for real.
        let instead = if review.has_template_edits() {
            "a change request cannot hold template entries yet, so a template edit the policy \
             covers is refused; set the entries at the scopes through a change request instead"
        } else {
            "propose its entries as a change request instead"
        };
        let places = review.places(&tx).await?;
        super::changes::refuse_unapproved(&rules, &places, instead)?;
    }
    if mode == (Mode::Import { dry_run: true }) {
        tx.rollback().await?;
        return Ok(report);
    }
    if batch.is_some() && report.created + report.updated > 0 {
        audit
            .append(
                &tx,
                actor,
                AuditRecord {
                    action: "import".into(),
                    new_value: Some(json!({"created": report.created, "updated": report.updated, "unchanged": report.unchanged}).to_string()),
                    batch_id: batch,
                    ..Default::default()
                },
            )
            .await?;
    }
    audit.finish(&tx).await?;
    tx.commit().await?;
    if report.created + report.updated > 0 {
        state.publish().await;
    }
    Ok(report)
}

/// The row of key definition `def` (its default sealed when the key is sensitive), without an
/// id or a creation time.
pub(super) fn key_row(
    secrets: &SecretBox,
    def: &KeyDefinition,
    now: chrono::DateTime<chrono::Utc>,
) -> config_key::ActiveModel {
    let (default_value, default_encrypted) = match &def.default {
        Some(d) => {
            let (stored, encrypted) = store_value(secrets, def, d);
            (Some(stored), encrypted)
        }
        None => (None, false),
    };
    config_key::ActiveModel {
        name: Set(def.key.to_string()),
        key_type: Set(def.key_type.as_str().into()),
        description: Set(def.description.clone()),
        category: Set(def.category.clone()),
        default_value: Set(default_value),
        default_encrypted: Set(default_encrypted),
        constraints: Set(serde_json::to_string(&def.constraints).unwrap_or_default()),
        sensitive: Set(def.sensitive),
        levels: Set(serde_json::to_string(&def.levels).unwrap_or_default()),
        user_editable: Set(def.user_editable),
        updated_at: Set(now),
        ..Default::default()
    }
}

/// How the audit shows key definition `def`: its document form, a sensitive default masked.
pub(super) fn key_audit_json(secrets: &SecretBox, def: &KeyDefinition) -> String {
    let default = def
        .default
        .as_ref()
        .map(|d| Value::String(audit_value(secrets, def, None, d)));
    serde_json::to_string(&key_doc(def, default)).unwrap_or_default()
}

struct Apply<'a> {
    state: &'a AppState,
    tx: &'a DatabaseTransaction,
    actor: &'a Actor,
    audit: AuditWriter,
    now: chrono::DateTime<chrono::Utc>,
    batch: Option<String>,
    report: ImportReport,
    /// Where the changes land, for the approval policy (none: it has no rules).
    review: Option<Review>,
}

impl Apply<'_> {
    async fn event(&mut self, record: AuditRecord) -> Result<(), ServiceError> {
        let record = AuditRecord {
            batch_id: self.batch.clone(),
            ..record
        };
        self.audit.append(self.tx, self.actor, record).await?;
        Ok(())
    }

    fn key_json(&self, def: &KeyDefinition) -> String {
        key_audit_json(&self.state.secrets, def)
    }

    /// Writes the document's templates (each replaces the stored one, entries included) and
    /// returns every template's id by name.
    async fn templates(
        &mut self,
        loaded: &Loaded,
        plan: &Plan,
    ) -> Result<HashMap<Slug, i64>, ServiceError> {
        let mut ids: HashMap<Slug, i64> = loaded
            .templates
            .iter()
            .map(|t| (t.name.clone(), t.id))
            .collect();
        if plan.templates.is_empty() {
            return Ok(ids);
        }
        // Keys as written above (the document may define the ones its templates use).
        let keys = load_keys(self.tx, &self.state.secrets).await?;
        for t in &plan.templates {
            let skeleton = t.skeleton();
            let about = |description: &Option<String>, level: &str, skeleton: &Value| {
                json!({"description": description, "target_level": level,
                    "departments": skeleton["departments"], "groups": skeleton["groups"]})
                .to_string()
            };
            let existing = loaded.templates.iter().find(|row| row.name == t.name);
            match existing {
                Some(row) => {
                    let same_about = row.description == t.description && row.skeleton == skeleton;
                    let entries_changed =
                        self.template_entries(&keys, t, row.id, Some(row)).await?;
                    if same_about && !entries_changed {
                        self.report.count(Change::Unchanged);
                        continue;
                    }
                    template::ActiveModel {
                        id: Set(row.id),
                        description: Set(t.description.clone()),
                        skeleton: Set(skeleton.to_string()),
                        version: Set(row.version + 1),
                        updated_at: Set(self.now),
                        ..Default::default()
                    }
                    .update(self.tx)
                    .await?;
                    if !same_about {
                        self.event(AuditRecord {
                            action: "template.update".into(),
                            scope: Some(t.name.to_string()),
                            old_value: Some(about(
                                &row.description,
                                row.level.as_str(),
                                &row.skeleton,
                            )),
                            new_value: Some(about(&t.description, t.level.as_str(), &skeleton)),
                            ..Default::default()
                        })
                        .await?;
                    }
                    self.report.count(Change::Updated);
                }
                None => {
                    let row = template::ActiveModel {
                        name: Set(t.name.to_string()),
                        description: Set(t.description.clone()),
                        target_level: Set(t.level.as_str().to_owned()),
                        skeleton: Set(skeleton.to_string()),
                        version: Set(1),
                        created_at: Set(self.now),
                        updated_at: Set(self.now),
                        ..Default::default()
                    }
                    .insert(self.tx)
                    .await?;
                    self.event(AuditRecord {
                        action: "template.create".into(),
                        scope: Some(t.name.to_string()),
                        new_value: Some(about(&t.description, t.level.as_str(), &skeleton)),
                        ..Default::default()
                    })
                    .await?;
                    self.template_entries(&keys, t, row.id, None).await?;
                    ids.insert(t.name.clone(), row.id);
                    self.report.count(Change::Created);
                }
            }
        }
        Ok(ids)
    }

    /// Makes the entries of template `t` (stored as `id`, now holding those of `stored`) the
    /// plan's, one audit event per entry set or removed; returns whether any changed.
    async fn template_entries(
        &mut self,
        keys: &[super::state::KeyRow],
        t: &TemplatePlan,
        id: i64,
        stored: Option<&TemplateRow>,
    ) -> Result<bool, ServiceError> {
        let place = format!("template:{}", t.name);
        let old = stored.map_or(&[][..], |s| s.entries.as_slice());
        let mut changed = false;
        for e in &t.entries {
            let Some(key) = keys.iter().find(|k| k.def.key == e.key) else {
                continue;
            };
            let def = &key.def;
            let before = old.iter().find(|o| o.key_id == key.id);
            if let Some(o) = before
                && o.value == e.value
                && o.locked == e.locked
            {
                continue;
            }
            let (value, encrypted) = store_value(&self.state.secrets, def, &e.value);
            match before {
                Some(o) => {
                    template_entry::ActiveModel {
                        id: Set(o.id),
                        value: Set(value),
                        encrypted: Set(encrypted),
                        locked: Set(e.locked),
                        version: Set(o.version + 1),
                        updated_at: Set(self.now),
                        updated_by: Set(self.actor.name.clone()),
                        ..Default::default()
                    }
                    .update(self.tx)
                    .await?;
                }
                None => {
                    template_entry::ActiveModel {
                        template_id: Set(id),
                        key_id: Set(key.id),
                        value: Set(value),
                        encrypted: Set(encrypted),
                        locked: Set(e.locked),
                        version: Set(1),
                        updated_at: Set(self.now),
                        updated_by: Set(self.actor.name.clone()),
                        ..Default::default()
                    }
                    .insert(self.tx)
                    .await?;
                }
            }
            if let Some(review) = &mut self.review {
                review.template_entry(id, t.level, def.sensitive);
            }
            let secrets = &self.state.secrets;
            self.event(AuditRecord {
                action: "template.entry.set".into(),
                scope: Some(t.name.to_string()),
                key: Some(def.key.to_string()),
                old_value: before.map(|o| audit_value_at(secrets, def, &place, &o.value)),
                new_value: Some(audit_value_at(secrets, def, &place, &e.value)),
                old_locked: before.map(|o| o.locked),
                new_locked: Some(e.locked),
                ..Default::default()
            })
            .await?;
            changed = true;
        }
        for o in old {
            let Some(key) = keys.iter().find(|k| k.id == o.key_id) else {
                continue;
            };
            if t.entries.iter().any(|e| e.key == key.def.key) {
                continue;
            }
            template_entry::Entity::delete_by_id(o.id)
                .exec(self.tx)
                .await?;
            if let Some(review) = &mut self.review {
                review.template_entry(id, t.level, key.def.sensitive);
            }
            let secrets = &self.state.secrets;
            self.event(AuditRecord {
                action: "template.entry.unset".into(),
                scope: Some(t.name.to_string()),
                key: Some(key.def.key.to_string()),
                old_value: Some(audit_value_at(secrets, &key.def, &place, &o.value)),
                old_locked: Some(o.locked),
                ..Default::default()
            })
            .await?;
            changed = true;
        }
        Ok(changed)
    }

    async fn run(
        &mut self,
        loaded: &Loaded,
        plan: &Plan,
        reach: &Reach,
    ) -> Result<(), ServiceError> {
        // Keys. The entries of redefined keys, read for them alone unless all are loaded.
        let fetched;
        let of_keys: &[EntryRow] = match reach {
            Reach::Everything => &loaded.entries,
            Reach::Part { redefined, .. } => {
                fetched =
                    load_entries_of_keys(self.tx, &self.state.secrets, &loaded.keys, redefined)
                        .await?;
                &fetched
            }
        };
        for (i, def) in plan.keys.iter().enumerate() {
            let existing = loaded.keys.iter().find(|k| k.def.key == def.key);
            let mut model = key_row(&self.state.secrets, def, self.now);
            match existing {
                Some(row) if row.def == *def => self.report.count(Change::Unchanged),
                Some(row) => {
                    // Entries the document does not replace must still fit the new definition.
                    for e in of_keys.iter().filter(|e| e.key_id == row.id) {
                        let replaced = plan
                            .entries
                            .iter()
                            .any(|p| p.key == def.key && p.scope == e.scope);
                        if replaced {
                            continue;
                        }
                        let problem = if !def.allows_level(e.scope.level()) {
                            Some(format!(
                                "the entry at {} would be at a level the key no longer allows",
                                e.scope
                            ))
                        } else {
                            def.validate(&e.value)
                                .err()
                                .map(|err| format!("the entry at {} does not fit: {err}", e.scope))
                        };
                        if let Some(message) = problem {
                            self.report.errors.push(Problem {
                                path: format!("keys[{i}]"),
                                message,
                            });
                        }
                    }
                    model.id = Set(row.id);
                    model.update(self.tx).await?;
                    let old = self.key_json(&row.def);
                    self.event(AuditRecord {
                        action: "key.update".into(),
                        key: Some(def.key.to_string()),
                        old_value: Some(old),
                        new_value: Some(self.key_json(def)),
                        ..Default::default()
                    })
                    .await?;
                    self.report.count(Change::Updated);
                }
                None => {
                    model.created_at = Set(self.now);
                    model.insert(self.tx).await?;
                    self.event(AuditRecord {
                        action: "key.create".into(),
                        key: Some(def.key.to_string()),
                        new_value: Some(self.key_json(def)),
                        ..Default::default()
                    })
                    .await?;
                    self.report.count(Change::Created);
                }
            }
        }

        // Templates, before anything follows them.
        let template_ids = self.templates(loaded, plan).await?;
        let template_id =
            |name: &Option<Slug>| name.as_ref().and_then(|n| template_ids.get(n).copied());
        let template_name = |id: Option<i64>| {
            id.and_then(|id| template_ids.iter().find(|(_, v)| **v == id))
                .map(|(name, _)| name.to_string())
        };

        // Tenants, their departments and groups.
        let mut tenant_ids: HashMap<Slug, i64> = loaded
            .tenants
            .iter()
            .map(|t| (t.slug.clone(), t.id))
            .collect();
        for t in &plan.tenants {
            let existing = loaded.tenants.iter().find(|row| row.slug == t.slug);
            let new_template = template_id(&t.template);
            let new_json = json!({"name": t.name, "template": t.template}).to_string();
            let tenant_id = match existing {
                Some(row) if row.name == t.name && row.template_id == new_template => {
                    self.report.count(Change::Unchanged);
                    row.id
                }
                Some(row) => {
                    if let Some(review) = &mut self.review {
                        review.switch(Level::Tenant, &t.slug, row.template_id, new_template);
                    }
                    tenant::ActiveModel {
                        id: Set(row.id),
                        name: Set(t.name.clone()),
                        template_id: Set(new_template),
                        // The plan lives on as the template.
                        plan: Set(None),
                        ..Default::default()
                    }
                    .update(self.tx)
                    .await?;
                    self.event(AuditRecord {
                        action: "tenant.update".into(),
                        level: Some("tenant".into()),
                        scope: Some(t.slug.to_string()),
                        tenant: Some(t.slug.to_string()),
                        old_value: Some(
                            json!({"name": row.name, "template": template_name(row.template_id)})
                                .to_string(),
                        ),
                        new_value: Some(new_json),
                        ..Default::default()
                    })
                    .await?;
                    self.report.count(Change::Updated);
                    row.id
                }
                None => {
                    let row = tenant::ActiveModel {
                        slug: Set(t.slug.to_string()),
                        name: Set(t.name.clone()),
                        plan: Set(None),
                        template_id: Set(new_template),
                        created_at: Set(self.now),
                        ..Default::default()
                    }
                    .insert(self.tx)
                    .await?;
                    self.event(AuditRecord {
                        action: "tenant.create".into(),
                        level: Some("tenant".into()),
                        scope: Some(t.slug.to_string()),
                        tenant: Some(t.slug.to_string()),
                        new_value: Some(new_json),
                        ..Default::default()
                    })
                    .await?;
                    self.report.count(Change::Created);
                    row.id
                }
            };
            tenant_ids.insert(t.slug.clone(), tenant_id);
            for ScopePlan {
                slug,
                name,
                template,
                ..
            } in &t.departments
            {
                let existing = loaded
                    .departments
                    .iter()
                    .find(|d| d.tenant_id == tenant_id && &d.slug == slug);
                let scope = format!("{}/{slug}", t.slug);
                let new_template = template_id(template);
                match existing {
                    Some(d) if &d.name == name && d.template_id == new_template => {
                        self.report.count(Change::Unchanged)
                    }
                    Some(d) => {
                        if let Some(review) = &mut self.review {
                            review.switch(Level::Department, &t.slug, d.template_id, new_template);
                        }
                        department::ActiveModel {
                            id: Set(d.id),
                            name: Set(name.clone()),
                            template_id: Set(new_template),
                            ..Default::default()
                        }
                        .update(self.tx)
                        .await?;
                        self.event(AuditRecord {
                            action: "department.update".into(),
                            level: Some("department".into()),
                            scope: Some(scope),
                            tenant: Some(t.slug.to_string()),
                            department: Some(slug.to_string()),
                            old_value: Some(
                                json!({"name": d.name, "template": template_name(d.template_id)})
                                    .to_string(),
                            ),
                            new_value: Some(
                                json!({"name": name, "template": template}).to_string(),
                            ),
                            ..Default::default()
                        })
                        .await?;
                        self.report.count(Change::Updated);
                    }
                    None => {
                        department::ActiveModel {
                            tenant_id: Set(tenant_id),
                            slug: Set(slug.to_string()),
                            name: Set(name.clone()),
                            template_id: Set(new_template),
                            created_at: Set(self.now),
                            ..Default::default()
                        }
                        .insert(self.tx)
                        .await?;
                        self.event(AuditRecord {
                            action: "department.create".into(),
                            level: Some("department".into()),
                            scope: Some(scope),
                            tenant: Some(t.slug.to_string()),
                            department: Some(slug.to_string()),
                            new_value: Some(
                                json!({"name": name, "template": template}).to_string(),
                            ),
                            ..Default::default()
                        })
                        .await?;
                        self.report.count(Change::Created);
                    }
                }
            }
            for ScopePlan {
                slug,
                name,
                priority,
                template,
            } in &t.groups
            {
                let existing = loaded
                    .groups
                    .iter()
                    .find(|g| g.tenant_id == tenant_id && &g.slug == slug);
                let scope = format!("{}/{slug}", t.slug);
                let new_template = template_id(template);
                let new_json =
                    json!({"name": name, "priority": priority, "template": template}).to_string();
                match existing {
                    Some(g)
                        if &g.name == name
                            && g.priority == *priority
                            && g.template_id == new_template =>
                    {
                        self.report.count(Change::Unchanged)
                    }
                    Some(g) => {
                        if let Some(review) = &mut self.review {
                            review.switch(Level::Group, &t.slug, g.template_id, new_template);
                        }
                        group::ActiveModel {
                            id: Set(g.id),
                            name: Set(name.clone()),
                            priority: Set(*priority),
                            template_id: Set(new_template),
                            ..Default::default()
                        }
                        .update(self.tx)
                        .await?;
                        self.event(AuditRecord {
                            action: "group.update".into(),
                            level: Some("group".into()),
                            scope: Some(scope),
                            tenant: Some(t.slug.to_string()),
                            old_value: Some(
                                json!({"name": g.name, "priority": g.priority,
                                    "template": template_name(g.template_id)})
                                .to_string(),
                            ),
                            new_value: Some(new_json),
                            ..Default::default()
                        })
                        .await?;
                        self.report.count(Change::Updated);
                    }
                    None => {
                        group::ActiveModel {
                            tenant_id: Set(tenant_id),
                            slug: Set(slug.to_string()),
                            name: Set(name.clone()),
                            priority: Set(*priority),
                            template_id: Set(new_template),
                            created_at: Set(self.now),
                            ..Default::default()
                        }
                        .insert(self.tx)
                        .await?;
                        self.event(AuditRecord {
                            action: "group.create".into(),
                            level: Some("group".into()),
                            scope: Some(scope),
                            tenant: Some(t.slug.to_string()),
                            new_value: Some(new_json),
                            ..Default::default()
                        })
                        .await?;
                        self.report.count(Change::Created);
                    }
                }
            }
        }

        // Users with memberships and traits: departments and groups found in one read, new
        // users written many per statement.
        // Read once, after keys and the directory are written; the users written below are
        // added to it, so entries find them without reading everything again.
        let mut index = ScopeIndex::load(self.tx, &self.state.secrets, reach.part()).await?;
        let known: HashMap<&Slug, &UserRow> =
            loaded.users.iter().map(|row| (&row.slug, row)).collect();
        let mut new_users = Vec::new();
        for u in &plan.users {
            let tenant_id = u.tenant.as_ref().and_then(|t| tenant_ids.get(t).copied());
            let department_id = match (&u.department, tenant_id) {
                (Some(d), Some(t)) => index.department_id(t, d),
                _ => None,
            };
            let group_ids: BTreeSet<i64> = match tenant_id {
                Some(t) => u
                    .groups
                    .iter()
                    .filter_map(|g| index.group_id(t, g))
                    .collect(),
                None => BTreeSet::new(),
            };
            let new_json = json!({
                "name": u.name, "tenant": u.tenant, "department": u.department,
                "groups": u.groups, "traits": u.traits, "disabled": u.disabled,
            })
            .to_string();
            let existing = known.get(&u.slug).copied();
            let audit_tenant = u.tenant.as_ref().map(ToString::to_string);
            let audit_department = u.department.as_ref().map(ToString::to_string);
            match existing {
                Some(row) => {
                    let old_groups: BTreeSet<i64> = row.groups.iter().copied().collect();
                    let old_traits: BTreeSet<_> = row.traits.iter().copied().collect();
                    let same = row.name == u.name
                        && row.tenant_id == tenant_id
                        && row.department_id == department_id
                        && row.disabled == u.disabled
                        && old_groups == group_ids
                        && old_traits == u.traits;
                    if same {
                        self.report.count(Change::Unchanged);
                        continue;
                    }
                    user_group::Entity::delete_many()
                        .filter(user_group::Column::UserId.eq(row.id))
                        .exec(self.tx)
                        .await?;
                    user::ActiveModel {
                        id: Set(row.id),
                        name: Set(u.name.clone()),
                        tenant_id: Set(tenant_id),
                        department_id: Set(department_id),
                        disabled: Set(u.disabled),
                        ..Default::default()
                    }
                    .update(self.tx)
                    .await?;
                    index.put_user(u.slug.to_string(), row.id, tenant_id, department_id);
                    self.write_memberships(row.id, tenant_id, &group_ids, &u.traits)
                        .await?;
                    let old_json = json!({
                        "name": row.name,
                        "tenant": row.tenant_id.and_then(|id| loaded.tenant_slug(id)),
                        "department": row.department_id.and_then(|id| loaded.department_slug(id)),
                        "groups": row.groups.iter().filter_map(|id| loaded.group_slug(*id)).collect::<BTreeSet<_>>(),
                        "traits": old_traits,
                        "disabled": row.disabled,
                    })
                    .to_string();
                    self.event(AuditRecord {
                        action: "user.update".into(),
                        level: Some("user".into()),
                        scope: Some(u.slug.to_string()),
                        tenant: audit_tenant,
                        department: audit_department,
                        old_value: Some(old_json),
                        new_value: Some(new_json),
                        ..Default::default()
                    })
                    .await?;
                    self.report.count(Change::Updated);
                }
                None => {
                    let row = user::ActiveModel {
                        slug: Set(u.slug.to_string()),
                        name: Set(u.name.clone()),
                        tenant_id: Set(tenant_id),
                        department_id: Set(department_id),
                        password_hash: Set(None),
                        disabled: Set(u.disabled),
                        created_at: Set(self.now),
                        ..Default::default()
                    };
                    new_users.push(NewUser {
                        row,
                        slug: u.slug.to_string(),
                        tenant_id,
                        department_id,
                        groups: group_ids,
                        traits: u.traits.clone(),
                    });
                    if new_users.len() >= ENTRY_BATCH {
                        self.write_users(std::mem::take(&mut new_users), &mut index)
                            .await?;
                    }
                    self.event(AuditRecord {
                        action: "user.create".into(),
                        level: Some("user".into()),
                        scope: Some(u.slug.to_string()),
                        tenant: audit_tenant,
                        department: audit_department,
                        new_value: Some(new_json),
                        ..Default::default()
                    })
                    .await?;
                    self.report.count(Change::Created);
                }
            }
        }

        self.write_users(new_users, &mut index).await?;

        // Entries: ids from the index, and new rows written many per statement, so a
        // document of a million entries takes one pass, not a million round trips.
        let existing: HashMap<(i64, &Scope), &EntryRow> = loaded
            .entries
            .iter()
            .map(|row| ((row.key_id, &row.scope), row))
            .collect();
        let mut inserts = Vec::new();
        for e in &plan.entries {
            let (key_id, def) = index.key(&e.key)?;
            let ids = index.ids(&e.scope)?;
            let old = existing.get(&(key_id, &e.scope)).copied();
            if let Some(old) = old
                && old.value == e.value
                && old.locked == e.locked
            {
                self.report.count(Change::Unchanged);
                continue;
            }
            if let Some(review) = &mut self.review {
                review.entry(super::changes::place(def, &e.scope, &ids));
            }
            let (stored, encrypted) = store_value(&self.state.secrets, def, &e.value);
            match old {
                Some(row) => {
                    entry::ActiveModel {
                        id: Set(row.id),
                        value: Set(stored.clone()),
                        encrypted: Set(encrypted),
                        locked: Set(e.locked),
                        version: Set(row.version + 1),
                        updated_at: Set(self.now),
                        updated_by: Set(self.actor.name.clone()),
                        ..Default::default()
                    }
                    .update(self.tx)
                    .await?;
                }
                None => {
                    inserts.push(entry::ActiveModel {
                        key_id: Set(key_id),
                        level: Set(e.scope.level().as_str().into()),
                        tenant_id: Set(ids.tenant_id),
                        department_id: Set(ids.department_id),
                        group_id: Set(ids.group_id),
                        user_id: Set(ids.user_id),
                        value: Set(stored.clone()),
                        encrypted: Set(encrypted),
                        locked: Set(e.locked),
                        version: Set(1),
                        updated_at: Set(self.now),
                        updated_by: Set(self.actor.name.clone()),
                        ..Default::default()
                    });
                    if inserts.len() >= ENTRY_BATCH {
                        entry::Entity::insert_many(std::mem::take(&mut inserts))
                            .exec_without_returning(self.tx)
                            .await?;
                    }
                }
            }
            let secrets = &self.state.secrets;
            self.event(AuditRecord {
                action: "entry.set".into(),
                level: Some(e.scope.level().as_str().into()),
                scope: e.scope.id(),
                tenant: ids.audit_tenant.clone(),
                department: ids.audit_department.clone(),
                key: Some(e.key.to_string()),
                old_value: old.map(|o| audit_value(secrets, def, Some(&e.scope), &o.value)),
                new_value: Some(audit_value(secrets, def, Some(&e.scope), &e.value)),
                old_locked: old.map(|o| o.locked),
                new_locked: Some(e.locked),
                old_ciphertext: old.and_then(|o| o.sealed.clone()),
                new_ciphertext: encrypted.then_some(stored),
                ..Default::default()
            })
            .await?;
            self.report.count(if old.is_some() {
                Change::Updated
            } else {
                Change::Created
            });
        }
        if !inserts.is_empty() {
            entry::Entity::insert_many(inserts)
                .exec_without_returning(self.tx)
                .await?;
        }
        Ok(())
    }

    /// Writes new users, then (with the ids they got) their memberships and traits, each a
    /// statement for the lot.
    async fn write_users(
        &self,
        mut users: Vec<NewUser>,
        index: &mut ScopeIndex,
    ) -> Result<(), ServiceError> {
        if users.is_empty() {
            return Ok(());
        }
        let slugs: Vec<String> = users.iter().map(|u| u.slug.clone()).collect();
        let rows: Vec<user::ActiveModel> = users
            .iter_mut()
            .map(|u| std::mem::take(&mut u.row))
            .collect();
        user::Entity::insert_many(rows)
            .exec_without_returning(self.tx)
            .await?;
        let ids: HashMap<String, i64> = user::Entity::find()
            .filter(user::Column::Slug.is_in(slugs))
            .all(self.tx)
            .await?
            .into_iter()
            .map(|row| (row.slug, row.id))
            .collect();
        let mut memberships = Vec::new();
        let mut traits = Vec::new();
        for u in &users {
            let id = *ids
                .get(&u.slug)
                .ok_or_else(|| ServiceError::NotFound(format!("user {} was not found", u.slug)))?;
            index.put_user(u.slug.clone(), id, u.tenant_id, u.department_id);
            if let Some(tenant_id) = u.tenant_id {
                memberships.extend(u.groups.iter().map(|group_id| user_group::ActiveModel {
                    user_id: Set(id),
                    tenant_id: Set(tenant_id),
                    group_id: Set(*group_id),
                }));
            }
            traits.extend(u.traits.iter().map(|t| user_trait::ActiveModel {
                user_id: Set(id),
                name: Set(t.as_str().into()),
            }));
        }
        for chunk in memberships.chunks(ENTRY_BATCH) {
            user_group::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(self.tx)
                .await?;
        }
        for chunk in traits.chunks(ENTRY_BATCH) {
            user_trait::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(self.tx)
                .await?;
        }
        Ok(())
    }

    async fn write_memberships(
        &self,
        user_id: i64,
        tenant_id: Option<i64>,
        groups: &BTreeSet<i64>,
        traits: &BTreeSet<crate::domain::traits::Trait>,
    ) -> Result<(), ServiceError> {
        if let Some(tenant_id) = tenant_id {
            for group_id in groups {
                user_group::ActiveModel {
                    user_id: Set(user_id),
                    tenant_id: Set(tenant_id),
                    group_id: Set(*group_id),
                }
                .insert(self.tx)
                .await?;
            }
        }
        user_trait::Entity::delete_many()
            .filter(user_trait::Column::UserId.eq(user_id))
            .exec(self.tx)
            .await?;
        for t in traits {
            user_trait::ActiveModel {
                user_id: Set(user_id),
                name: Set(t.as_str().into()),
            }
            .insert(self.tx)
            .await?;
        }
        Ok(())
    }
}

/// The whole platform as a document; secrets sealed unless `reveal`.
pub async fn export<C: ConnectionTrait>(
    db: &C,
    secrets: &super::crypto::SecretBox,
    reveal: bool,
) -> Result<Document, ServiceError> {
    let loaded = load(db, secrets).await?;
    Ok(document_of(&loaded, secrets, reveal))
}

/// The snapshots of `tenants` (`None`: the platform users') as a document, with every key
/// definition and template and without global entries; secrets sealed. What one item of the
/// directory is read from: as much on any size of platform.
/// The directory as a document without entries: every tenant, or `tenants` (`None` in it:
/// the platform users). See [`super::state::load_directory`].
pub async fn export_directory<C: ConnectionTrait>(
    db: &C,
    secrets: &super::crypto::SecretBox,
    tenants: Option<&BTreeSet<Option<String>>>,
) -> Result<Document, ServiceError> {
    let loaded = load_directory(db, secrets, tenants).await?;
    Ok(document_of(&loaded, secrets, false))
}

/// The documents of `loaded`'s users (their groups sorted).
pub(super) fn user_docs(loaded: &Loaded) -> Vec<UserDoc> {
    loaded
        .users
        .iter()
        .map(|u| {
            let mut groups: Vec<String> = u
                .groups
                .iter()
                .filter_map(|id| loaded.group_slug(*id))
                .map(ToString::to_string)
                .collect();
            groups.sort();
            UserDoc {
                id: u.slug.to_string(),
                name: u.name.clone(),
                tenant: u
                    .tenant_id
                    .and_then(|id| loaded.tenant_slug(id))
                    .map(ToString::to_string),
                department: u
                    .department_id
                    .and_then(|id| loaded.department_slug(id))
                    .map(ToString::to_string),
                groups,
                traits: u.traits.iter().map(|t| t.as_str().to_owned()).collect(),
                disabled: u.disabled,
            }
        })
        .collect()
}

fn document_of(loaded: &Loaded, secrets: &super::crypto::SecretBox, reveal: bool) -> Document {
    let keys_by_id: HashMap<i64, &KeyDefinition> =
        loaded.keys.iter().map(|k| (k.id, &k.def)).collect();
    let keys = loaded
        .keys
        .iter()
        .map(|k| {
            let default = k.def.default.as_ref().map(|d| {
                if k.def.sensitive && !reveal {
                    json!({"encrypted": secrets.seal(k.def.key.as_str(), d)})
                } else {
                    d.clone()
                }
            });
            key_doc(&k.def, default)
        })
        .collect();
    let tenants = loaded
        .tenants
        .iter()
        .map(|t| TenantDoc {
            id: t.slug.to_string(),
            name: t.name.clone(),
            template: loaded.template_name(t.template_id).map(ToString::to_string),
            plan: None,
            departments: loaded
                .departments
                .iter()
                .filter(|d| d.tenant_id == t.id)
                .map(|d| DepartmentDoc {
                    id: d.slug.to_string(),
                    name: d.name.clone(),
                    template: loaded.template_name(d.template_id).map(ToString::to_string),
                })
                .collect(),
            groups: loaded
                .groups
                .iter()
                .filter(|g| g.tenant_id == t.id)
                .map(|g| GroupDoc {
                    id: g.slug.to_string(),
                    name: g.name.clone(),
                    priority: g.priority,
                    template: loaded.template_name(g.template_id).map(ToString::to_string),
                })
                .collect(),
        })
        .collect();
    let templates = loaded
        .templates
        .iter()
        .map(|t| template_doc(t, &keys_by_id, reveal))
        .collect();
    let users = user_docs(loaded);
    let mut entries: Vec<(String, Scope, EntryDoc)> = loaded
        .entries
        .iter()
        .filter_map(|e| {
            let def = keys_by_id.get(&e.key_id)?;
            let value = match (&e.sealed, reveal) {
                (Some(sealed), false) => json!({"encrypted": sealed}),
                _ => e.value.clone(),
            };
            let (tenant, department, group, user) = match &e.scope {
                Scope::Global => (None, None, None, None),
                Scope::Tenant { tenant } => (Some(tenant.to_string()), None, None, None),
                Scope::Department { tenant, department } => (
                    Some(tenant.to_string()),
                    Some(department.to_string()),
                    None,
                    None,
                ),
                Scope::Group { tenant, group } => (
                    Some(tenant.to_string()),
                    None,
                    Some(group.to_string()),
                    None,
                ),
                Scope::User { user } => (None, None, None, Some(user.to_string())),
            };
            Some((
                def.key.to_string(),
                e.scope.clone(),
                EntryDoc {
                    level: e.scope.level().as_str().into(),
                    tenant,
                    department,
                    group,
                    user,
                    key: def.key.to_string(),
                    value,
                    locked: e.locked,
                },
            ))
        })
        .collect();
    entries.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    Document {
        format: FORMAT.into(),
        keys,
        templates,
        tenants,
        users,
        entries: entries.into_iter().map(|(_, _, e)| e).collect(),
    }
}

/// A stored template in document form; secrets sealed unless `reveal`.
pub fn template_doc(
    t: &TemplateRow,
    keys_by_id: &HashMap<i64, &KeyDefinition>,
    reveal: bool,
) -> TemplateDoc {
    let mut entries: Vec<TemplateEntryDoc> = t
        .entries
        .iter()
        .filter_map(|e| {
            let def = keys_by_id.get(&e.key_id)?;
            let value = match (&e.sealed, reveal) {
                (Some(sealed), false) => json!({"encrypted": sealed}),
                _ => e.value.clone(),
            };
            Some(TemplateEntryDoc {
                key: def.key.to_string(),
                value,
                locked: e.locked,
            })
        })
        .collect();
    entries.sort_by(|a, b| a.key.cmp(&b.key));
    let skeleton = |field: &str| t.skeleton.get(field).cloned().unwrap_or(Value::Null);
    TemplateDoc {
        name: t.name.to_string(),
        description: t.description.clone(),
        target_level: t.level.as_str().to_owned(),
        entries,
        departments: serde_json::from_value(skeleton("departments")).unwrap_or_default(),
        groups: serde_json::from_value(skeleton("groups")).unwrap_or_default(),
    }
}
