//! Templates (DESIGN §2 rule 5) as use cases: reading them, defining and changing them (a
//! one-template document applied through the import engine, so validation, audit and the
//! change feed are the import's), deleting one nothing follows, provisioning a tenant from a
//! tenant template's skeleton, and the drift of the scopes that follow one. Reads come from the
//! template rows (few and small) and the snapshots, never from a load of the platform.
//!
//! Callers authorize first (see [`super::access`]).

use std::collections::HashMap;

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, TransactionTrait};
use serde::Serialize;
use serde_json::{Value, json};

use super::AppState;
use super::audit::{Actor, AuditWriter};
use super::entity::{department, group, template, template_entry, tenant};
use super::error::ServiceError;
use super::state::{TemplateRow, load_keys, load_templates};
use super::transfer::{self, Creating, Mode, template_doc};
use crate::domain::audit_chain::AuditRecord;
use crate::domain::document::{
    DepartmentDoc, Document, FORMAT, GroupDoc, TemplateDoc, TemplateEntryDoc, TenantDoc,
};
use crate::domain::key::KeyDefinition;
use crate::domain::name::Slug;
use crate::domain::policy::{Action, Principal, Target, decide};
use crate::domain::value::MASK;

/// A template as the API shows it: its document form (secrets sealed), its version and how
/// many scopes follow it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TemplateView {
    #[schema(value_type = crate::domain::name::Slug)]
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[schema(value_type = crate::domain::level::Level)]
    pub target_level: String,
    pub entries: Vec<TemplateEntryDoc>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub departments: Vec<DepartmentDoc>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupDoc>,
    /// Moves with every change of the template.
    pub version: i64,
    /// How many tenants, departments and groups follow it.
    pub followers: u64,
}

impl TemplateView {
    /// The template as a document (what `PUT` takes back).
    pub fn doc(&self) -> TemplateDoc {
        TemplateDoc {
            name: self.name.clone(),
            description: self.description.clone(),
            target_level: self.target_level.clone(),
            entries: self.entries.clone(),
            departments: self.departments.clone(),
            groups: self.groups.clone(),
        }
    }
}

async fn rows(
    state: &AppState,
) -> Result<(Vec<TemplateRow>, HashMap<i64, KeyDefinition>), ServiceError> {
    let keys = load_keys(&state.db, &state.secrets).await?;
    let templates = load_templates(&state.db, &state.secrets, &keys).await?;
    Ok((templates, keys.into_iter().map(|k| (k.id, k.def)).collect()))
}

/// How many tenants, departments and groups follow template `id`.
async fn followers<C: sea_orm::ConnectionTrait>(db: &C, id: i64) -> Result<u64, ServiceError> {
    let tenants = tenant::Entity::find()
        .filter(tenant::Column::TemplateId.eq(id))
        .count(db)
        .await?;
    let departments = department::Entity::find()
        .filter(department::Column::TemplateId.eq(id))
        .count(db)
        .await?;
    let groups = group::Entity::find()
        .filter(group::Column::TemplateId.eq(id))
        .count(db)
        .await?;
    Ok(tenants + departments + groups)
}

fn view(row: &TemplateRow, keys: &HashMap<i64, KeyDefinition>, followers: u64) -> TemplateView {
    let by_ref: HashMap<i64, &KeyDefinition> = keys.iter().map(|(id, def)| (*id, def)).collect();
    let doc = template_doc(row, &by_ref, false);
    TemplateView {
        name: doc.name,
        description: doc.description,
        target_level: doc.target_level,
        entries: doc.entries,
        departments: doc.departments,
        groups: doc.groups,
        version: row.version,
        followers,
    }
}

/// Every template, by name.
pub async fn list(state: &AppState) -> Result<Vec<TemplateView>, ServiceError> {
    let (templates, keys) = rows(state).await?;
    let mut out = Vec::with_capacity(templates.len());
    for t in &templates {
        out.push(view(t, &keys, followers(&state.db, t.id).await?));
    }
    Ok(out)
}

fn missing(name: &Slug) -> ServiceError {
    ServiceError::NotFound(format!("template {name} was not found"))
}

/// One template.
pub async fn get(state: &AppState, name: &Slug) -> Result<TemplateView, ServiceError> {
    let (templates, keys) = rows(state).await?;
    let row = templates
        .iter()
        .find(|t| &t.name == name)
        .ok_or_else(|| missing(name))?;
    Ok(view(row, &keys, followers(&state.db, row.id).await?))
}

async fn apply(
    state: &AppState,
    actor: &Actor,
    doc: TemplateDoc,
    mode: Mode,
) -> Result<(), ServiceError> {
    let whole = Document {
        format: FORMAT.into(),
        templates: vec![doc],
        ..Default::default()
    };
    let report = transfer::apply(state, actor, &whole, mode).await?;
    if report.errors.is_empty() {
        Ok(())
    } else {
        Err(super::directory::problems(report.errors, "templates[0]"))
    }
}

/// Defines a new template; a conflict when the name is taken.
pub async fn create(
    state: &AppState,
    actor: &Actor,
    doc: TemplateDoc,
) -> Result<TemplateView, ServiceError> {
    let name = Slug::parse("template", &doc.name)
        .map_err(|e| ServiceError::Invalid(format!("name: {e}")))?;
    apply(
        state,
        actor,
        doc,
        Mode::Create(Creating::Template(name.clone())),
    )
    .await?;
    get(state, &name).await
}

/// Replaces template `name` (description, entries, skeleton; its level stays): every scope
/// that follows it changes at once.
pub async fn replace(
    state: &AppState,
    actor: &Actor,
    name: &Slug,
    mut doc: TemplateDoc,
) -> Result<TemplateView, ServiceError> {
    if doc.name != name.as_str() {
        return Err(ServiceError::Invalid(format!(
            "name: the body names {:?}, the path {name}; rename by creating a new template",
            doc.name
        )));
    }
    let current = get(state, name).await?;
    if doc.target_level.is_empty() {
        doc.target_level = current.target_level;
    }
    apply(state, actor, doc, Mode::Edit).await?;
    get(state, name).await
}

/// Deletes template `name`, refused while anything follows it.
pub async fn delete(
    state: &AppState,
    actor: &Actor,
    name: &Slug,
    reason: Option<String>,
) -> Result<(), ServiceError> {
    let tx = state.db.begin().await?;
    // Under the audit chain's lock: a scope cannot start following it meanwhile.
    let mut audit = AuditWriter::begin(&tx, chrono::Utc::now()).await?;
    let row = template::Entity::find()
        .filter(template::Column::Name.eq(name.as_str()))
        .one(&tx)
        .await?
        .ok_or_else(|| missing(name))?;
    let following = followers(&tx, row.id).await?;
    if following > 0 {
        return Err(ServiceError::Conflict {
            message: format!(
                "template {name} is followed by {following} scope(s); make them follow another \
                 template or none first"
            ),
            current: None,
        });
    }
    template_entry::Entity::delete_many()
        .filter(template_entry::Column::TemplateId.eq(row.id))
        .exec(&tx)
        .await?;
    template::Entity::delete_by_id(row.id).exec(&tx).await?;
    audit
        .append(
            &tx,
            actor,
            AuditRecord {
                action: "template.delete".into(),
                scope: Some(name.to_string()),
                old_value: Some(
                    json!({"description": row.description, "target_level": row.target_level})
                        .to_string(),
                ),
                reason,
                ..Default::default()
            },
        )
        .await?;
    audit.finish(&tx).await?;
    tx.commit().await?;
    state.publish().await;
    Ok(())
}

/// A tenant created from a tenant template gets its skeleton: the departments and groups the
/// template lists that the tenant's own document does not.
pub async fn provision(state: &AppState, doc: &mut TenantDoc) -> Result<(), ServiceError> {
    let Some(name) = doc.template.clone().or_else(|| doc.plan.clone()) else {
        return Ok(());
    };
    let Some(row) = template::Entity::find()
        .filter(template::Column::Name.eq(name.as_str()))
        .one(&state.db)
        .await?
    else {
        // Validation names the missing template (or, for a plan, makes it).
        return Ok(());
    };
    let skeleton: Value = serde_json::from_str(&row.skeleton).unwrap_or(Value::Null);
    let departments: Vec<crate::domain::document::DepartmentDoc> =
        serde_json::from_value(skeleton["departments"].clone()).unwrap_or_default();
    let groups: Vec<crate::domain::document::GroupDoc> =
        serde_json::from_value(skeleton["groups"].clone()).unwrap_or_default();
    for d in departments {
        if !doc.departments.iter().any(|own| own.id == d.id) {
            doc.departments.push(d);
        }
    }
    for g in groups {
        if !doc.groups.iter().any(|own| own.id == g.id) {
            doc.groups.push(g);
        }
    }
    Ok(())
}

/// One key where a following scope's own entry differs from the template's.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Overridden {
    pub key: String,
    pub template_value: Value,
    pub value: Value,
}

/// A following scope and what it overrides.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Drift {
    /// `tenant:T`, `department:T/D` or `group:T/G`.
    pub scope: String,
    pub overridden: Vec<Overridden>,
}

/// The drift of every scope that follows `name` and that `principal` may read: the scope's own
/// entries whose value differs from the template's (sensitive values masked). Read from the
/// snapshots.
pub async fn drift(
    state: &AppState,
    principal: &Principal,
    name: &Slug,
) -> Result<Vec<Drift>, ServiceError> {
    let exists = template::Entity::find()
        .filter(template::Column::Name.eq(name.as_str()))
        .count(&state.db)
        .await?;
    if exists == 0 {
        return Err(missing(name));
    }
    let mut out = Vec::new();
    for snapshot in state.snapshots.all() {
        for (scope, overridden) in snapshot.drift(name) {
            let readable =
                decide(principal, &Action::Read(&Target::scope(scope.clone()))).is_allowed();
            if !readable || overridden.is_empty() {
                continue;
            }
            let shown = |def: &KeyDefinition, v: &Value| {
                if def.sensitive {
                    Value::String(MASK.into())
                } else {
                    v.clone()
                }
            };
            out.push(Drift {
                scope: scope.to_string(),
                overridden: overridden
                    .into_iter()
                    .map(|(def, template_value, value)| Overridden {
                        key: def.key.to_string(),
                        template_value: shown(def, template_value),
                        value: shown(def, value),
                    })
                    .collect(),
            });
        }
    }
    out.sort_by(|a, b| a.scope.cmp(&b.scope));
    Ok(out)
}

/// Sets one entry of template `name` (the rest stay as they are): every follower changes at
/// once. The template's other secrets travel sealed and are kept as stored.
pub async fn set_entry(
    state: &AppState,
    actor: &Actor,
    name: &Slug,
    key: &crate::domain::name::ConfigKey,
    value: Value,
    locked: bool,
) -> Result<TemplateView, ServiceError> {
    let mut doc = get(state, name).await?.doc();
    let entry = TemplateEntryDoc {
        key: key.to_string(),
        value,
        locked,
    };
    match doc.entries.iter_mut().find(|e| e.key == key.as_str()) {
        Some(existing) => *existing = entry,
        None => doc.entries.push(entry),
    }
    replace(state, actor, name, doc).await
}

/// Removes one entry of template `name`; removing what is not there is a not-found error.
pub async fn remove_entry(
    state: &AppState,
    actor: &Actor,
    name: &Slug,
    key: &crate::domain::name::ConfigKey,
) -> Result<TemplateView, ServiceError> {
    let mut doc = get(state, name).await?.doc();
    let before = doc.entries.len();
    doc.entries.retain(|e| e.key != key.as_str());
    if doc.entries.len() == before {
        return Err(ServiceError::NotFound(format!(
            "template {name} has no entry for {key}"
        )));
    }
    replace(state, actor, name, doc).await
}

/// "Promote into template": the value `scope` (which follows `name`) holds for `key` becomes
/// the template's, for every follower. The scope's own entry stays (it now equals the
/// template's; removing it is "reset to template").
pub async fn promote(
    state: &AppState,
    actor: &Actor,
    name: &Slug,
    scope: &crate::domain::scope::Scope,
    key: &crate::domain::name::ConfigKey,
) -> Result<TemplateView, ServiceError> {
    let (value, locked) = promotion(state, name, scope, key)?;
    set_entry(state, actor, name, key, value, locked).await
}

/// What promoting the entry of `key` at `scope` into template `name` would set in the
/// template: the scope's own value and lock. Refused unless the scope follows the template
/// and has an entry of its own.
pub fn promotion(
    state: &AppState,
    name: &Slug,
    scope: &crate::domain::scope::Scope,
    key: &crate::domain::name::ConfigKey,
) -> Result<(Value, bool), ServiceError> {
    let snapshot = state
        .snapshots
        .get(scope.tenant())
        .ok_or_else(|| ServiceError::NotFound(format!("{scope} was not found")))?;
    let follows = snapshot
        .followed
        .get(scope)
        .is_some_and(|layer| layer.template() == Some(name));
    if !follows {
        return Err(ServiceError::Invalid(format!(
            "scope: {scope} does not follow template {name}"
        )));
    }
    let (idx, _) = snapshot
        .keys
        .get(key)
        .ok_or_else(|| ServiceError::NotFound(format!("key {key} was not found")))?;
    let cell = snapshot
        .layers
        .get(scope)
        .and_then(|layer| layer.get(idx))
        .ok_or_else(|| ServiceError::NotFound(format!("{key} has no entry at {scope}")))?;
    Ok((cell.value.clone(), cell.locked))
}

/// The scopes that follow template `name` and that `principal` may read, by name; from the
/// snapshots.
pub fn following(state: &AppState, principal: &Principal, name: &Slug) -> Vec<String> {
    let mut out: Vec<String> = state
        .snapshots
        .all()
        .iter()
        .flat_map(|snapshot| {
            snapshot
                .followed
                .iter()
                .filter(|(_, layer)| layer.template() == Some(name))
                .map(|(scope, _)| scope.clone())
                .collect::<Vec<_>>()
        })
        .filter(|scope| {
            decide(principal, &Action::Read(&Target::scope(scope.clone()))).is_allowed()
        })
        .map(|scope| scope.to_string())
        .collect();
    out.sort();
    out
}
