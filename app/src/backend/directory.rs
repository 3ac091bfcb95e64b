//! The directory (tenants, departments, groups, users) and the key registry, in the document
//! format's shapes. Creating and changing apply a one-item document through the import engine
//! ([`transfer::apply`] in edit mode), so validation, audit and "an unchanged item writes
//! nothing" are the import's. Deleting removes whatever hangs off the item (its entries,
//! memberships, tokens; for a tenant everything in it) in one transaction, with an audit event
//! for each removed row, so a refused or failed delete changes nothing.
//!
//! Callers authorize first (see [`super::access`]); these services do not ask the policy.

use std::collections::{BTreeSet, HashSet};

use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, TransactionTrait};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::AppState;
use super::audit::{Actor, AuditWriter};
use super::crypto::SecretBox;
use super::entity::{
    api_token, config_key, department, entry, group, template_entry, tenant, user, user_group,
    user_trait,
};
use super::error::ServiceError;
use super::state::{Loaded, load_holdings, load_keys, load_tenants, load_user};
use super::transfer::{self, Creating, Mode};
use crate::domain::audit_chain::AuditRecord;
use crate::domain::document::{
    DepartmentDoc, Document, FORMAT, GroupDoc, KeyDoc, Problem, TenantDoc, UserDoc,
};
use crate::domain::name::{ConfigKey, Slug};
use crate::domain::policy::Principal;
use crate::domain::scope::Scope;

fn document() -> Document {
    Document {
        format: FORMAT.into(),
        ..Default::default()
    }
}

/// What `principal` may see of the directory (no entries): the directory lists. A principal
/// of one tenant reads only that tenant, as the policy lets it see no other.
pub async fn visible(state: &AppState, principal: &Principal) -> Result<Document, ServiceError> {
    let own = principal
        .tenant
        .as_ref()
        .map(|t| BTreeSet::from([Some(t.to_string())]));
    visible_of(state, principal, own.as_ref()).await
}

/// The directory of `tenants` (none: every one) as `principal` may see it.
async fn visible_of(
    state: &AppState,
    principal: &Principal,
    tenants: Option<&BTreeSet<Option<String>>>,
) -> Result<Document, ServiceError> {
    Ok(
        transfer::export_directory(&state.db, &state.secrets, tenants)
            .await?
            .visible_to(principal),
    )
}

/// What `principal` may see of tenant `tenant`'s directory (no entries): the tenant with the
/// departments and groups it may read, and the users of it it may read.
pub async fn visible_in(
    state: &AppState,
    principal: &Principal,
    tenant: &Slug,
) -> Result<Document, ServiceError> {
    visible_of(
        state,
        principal,
        Some(&BTreeSet::from([Some(tenant.to_string())])),
    )
    .await
}

/// What `principal` may see of tenant `tenant` (none when it may not read it, or there is no
/// such tenant): see [`visible_in`].
pub async fn visible_tenant(
    state: &AppState,
    principal: &Principal,
    tenant: &Slug,
) -> Result<Option<TenantDoc>, ServiceError> {
    Ok(visible_in(state, principal, tenant)
        .await?
        .tenants
        .into_iter()
        .find(|t| t.id == tenant.as_str()))
}

/// The tenants `principal` may read, as (id, name) by id: one read of the tenants alone.
pub async fn visible_tenants(
    state: &AppState,
    principal: &Principal,
) -> Result<Vec<(Slug, String)>, ServiceError> {
    use crate::domain::policy::{Action, Target, decide};
    use sea_orm::QueryOrder;
    let rows = tenant::Entity::find()
        .order_by_asc(tenant::Column::Slug)
        .all(&state.db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|t| Some((Slug::parse("tenant", &t.slug).ok()?, t.name)))
        .filter(|(id, _)| {
            let target = Target::scope(Scope::Tenant { tenant: id.clone() });
            decide(principal, &Action::Read(&target)).is_allowed()
        })
        .collect())
}

/// What `principal` may see as a document; with `reveal` (authorized by the caller) the
/// secrets in plaintext, which is audited.
pub async fn export(
    state: &AppState,
    actor: &Actor,
    principal: &Principal,
    reveal: bool,
) -> Result<Document, ServiceError> {
    let doc = transfer::export(&state.db, &state.secrets, reveal)
        .await?
        .visible_to(principal);
    if reveal {
        let event = AuditRecord {
            action: "secret.reveal".into(),
            new_value: Some("export".into()),
            tenant: principal.tenant.as_ref().map(ToString::to_string),
            ..Default::default()
        };
        super::audit::record(&state.db, actor, event).await?;
    }
    Ok(doc)
}

/// Problems of a one-item document, with the item's own path dropped so that the message
/// names the field as the caller sent it (`department: …` rather than `users[0].department`).
pub(super) fn problems(errors: Vec<Problem>, prefix: &str) -> ServiceError {
    let messages: Vec<String> = errors
        .into_iter()
        .map(|p| {
            let path = p
                .path
                .strip_prefix(prefix)
                .map(|rest| rest.trim_start_matches('.'))
                .unwrap_or(&p.path);
            if path.is_empty() {
                p.message
            } else {
                format!("{path}: {}", p.message)
            }
        })
        .collect();
    ServiceError::Invalid(messages.join("; "))
}

async fn edit(
    state: &AppState,
    actor: &Actor,
    doc: Document,
    prefix: &str,
) -> Result<(), ServiceError> {
    apply(state, actor, doc, prefix, Mode::Edit).await
}

/// Applies a one-item document creating `item`, refused with a conflict when it exists.
async fn create(
    state: &AppState,
    actor: &Actor,
    doc: Document,
    prefix: &str,
    item: Creating,
) -> Result<(), ServiceError> {
    apply(state, actor, doc, prefix, Mode::Create(item)).await
}

async fn apply(
    state: &AppState,
    actor: &Actor,
    doc: Document,
    prefix: &str,
    mode: Mode,
) -> Result<(), ServiceError> {
    let report = transfer::apply(state, actor, &doc, mode).await?;
    if report.errors.is_empty() {
        Ok(())
    } else {
        Err(problems(report.errors, prefix))
    }
}

fn missing(what: String) -> ServiceError {
    ServiceError::NotFound(format!("{what} was not found"))
}

/// `current` with the fields of the JSON object `patch` replaced. `fixed` fields may only be
/// repeated unchanged; unknown fields and wrong types are refused naming the field.
fn patched<T: Serialize + DeserializeOwned>(
    current: &T,
    patch: Value,
    fixed: &[&str],
) -> Result<T, ServiceError> {
    let Value::Object(changes) = patch else {
        return Err(ServiceError::Invalid("body: expected a JSON object".into()));
    };
    let mut merged =
        serde_json::to_value(current).map_err(|e| ServiceError::Invalid(format!("body: {e}")))?;
    for (field, value) in changes {
        if fixed.contains(&field.as_str()) && merged.get(&field) != Some(&value) {
            return Err(ServiceError::Invalid(format!(
                "{field}: cannot be changed here"
            )));
        }
        merged[field] = value;
    }
    serde_json::from_value(merged).map_err(|e| ServiceError::Invalid(format!("body: {e}")))
}

// Tenants.

pub async fn tenant_doc(state: &AppState, slug: &Slug) -> Result<TenantDoc, ServiceError> {
    let tenants = BTreeSet::from([Some(slug.to_string())]);
    transfer::export_directory(&state.db, &state.secrets, Some(&tenants))
        .await?
        .tenants
        .into_iter()
        .find(|t| t.id == slug.as_str())
        .ok_or_else(|| missing(format!("tenant {slug}")))
}

/// Creates a tenant, with any departments and groups it lists, all or nothing.
pub async fn create_tenant(
    state: &AppState,
    actor: &Actor,
    doc: TenantDoc,
) -> Result<TenantDoc, ServiceError> {
    let slug = Slug::parse("id", &doc.id).map_err(|e| ServiceError::Invalid(e.to_string()))?;
    let mut doc = doc;
    super::templates::provision(state, &mut doc).await?;
    let mut whole = document();
    whole.tenants.push(doc);
    let item = Creating::Tenant(slug.clone());
    create(state, actor, whole, "tenants[0]", item).await?;
    tenant_doc(state, &slug).await
}

/// Renames a tenant or changes the template it follows (`{"name"?, "template"?}`; `plan`,
/// the older name, names a template too, made when missing).
pub async fn update_tenant(
    state: &AppState,
    actor: &Actor,
    slug: &Slug,
    patch: Value,
) -> Result<TenantDoc, ServiceError> {
    let by_plan = patch.get("plan").is_some() && patch.get("template").is_none();
    let mut doc = patched(
        &tenant_doc(state, slug).await?,
        patch,
        &["id", "departments", "groups"],
    )?;
    if by_plan {
        doc.template = None;
    }
    // Departments and groups change through their own routes.
    doc.departments.clear();
    doc.groups.clear();
    let mut whole = document();
    whole.tenants.push(doc);
    edit(state, actor, whole, "tenants[0]").await?;
    tenant_doc(state, slug).await
}

/// A tenant with one department or group to create or change (the tenant itself unchanged).
async fn tenant_with(
    state: &AppState,
    tenant: &Slug,
    department: Option<DepartmentDoc>,
    group: Option<GroupDoc>,
) -> Result<Document, ServiceError> {
    let mut doc = tenant_doc(state, tenant).await?;
    doc.departments = department.into_iter().collect();
    doc.groups = group.into_iter().collect();
    let mut whole = document();
    whole.tenants.push(doc);
    Ok(whole)
}

// Departments.

pub async fn department_doc(
    state: &AppState,
    tenant: &Slug,
    slug: &Slug,
) -> Result<DepartmentDoc, ServiceError> {
    tenant_doc(state, tenant)
        .await?
        .departments
        .into_iter()
        .find(|d| d.id == slug.as_str())
        .ok_or_else(|| missing(format!("department {tenant}/{slug}")))
}

pub async fn create_department(
    state: &AppState,
    actor: &Actor,
    tenant: &Slug,
    doc: DepartmentDoc,
) -> Result<DepartmentDoc, ServiceError> {
    let slug = Slug::parse("id", &doc.id).map_err(|e| ServiceError::Invalid(e.to_string()))?;
    let whole = tenant_with(state, tenant, Some(doc), None).await?;
    let item = Creating::Department(tenant.clone(), slug.clone());
    create(state, actor, whole, "tenants[0].departments[0]", item).await?;
    department_doc(state, tenant, &slug).await
}

pub async fn update_department(
    state: &AppState,
    actor: &Actor,
    tenant: &Slug,
    slug: &Slug,
    patch: Value,
) -> Result<DepartmentDoc, ServiceError> {
    let doc = patched(&department_doc(state, tenant, slug).await?, patch, &["id"])?;
    let whole = tenant_with(state, tenant, Some(doc), None).await?;
    edit(state, actor, whole, "tenants[0].departments[0]").await?;
    department_doc(state, tenant, slug).await
}

// Groups.

pub async fn group_doc(
    state: &AppState,
    tenant: &Slug,
    slug: &Slug,
) -> Result<GroupDoc, ServiceError> {
    tenant_doc(state, tenant)
        .await?
        .groups
        .into_iter()
        .find(|g| g.id == slug.as_str())
        .ok_or_else(|| missing(format!("group {tenant}/{slug}")))
}

pub async fn create_group(
    state: &AppState,
    actor: &Actor,
    tenant: &Slug,
    doc: GroupDoc,
) -> Result<GroupDoc, ServiceError> {
    let slug = Slug::parse("id", &doc.id).map_err(|e| ServiceError::Invalid(e.to_string()))?;
    let whole = tenant_with(state, tenant, None, Some(doc)).await?;
    let item = Creating::Group(tenant.clone(), slug.clone());
    create(state, actor, whole, "tenants[0].groups[0]", item).await?;
    group_doc(state, tenant, &slug).await
}

pub async fn update_group(
    state: &AppState,
    actor: &Actor,
    tenant: &Slug,
    slug: &Slug,
    patch: Value,
) -> Result<GroupDoc, ServiceError> {
    let doc = patched(&group_doc(state, tenant, slug).await?, patch, &["id"])?;
    let whole = tenant_with(state, tenant, None, Some(doc)).await?;
    edit(state, actor, whole, "tenants[0].groups[0]").await?;
    group_doc(state, tenant, slug).await
}

// Users.

pub async fn user_doc(state: &AppState, slug: &Slug) -> Result<UserDoc, ServiceError> {
    // The user's own rows: its tenant's other users are no part of it (a write's read-back).
    let loaded = load_user(&state.db, slug).await?;
    loaded
        .as_ref()
        .and_then(|loaded| transfer::user_docs(loaded).pop())
        .ok_or_else(|| missing(format!("user {slug}")))
}

/// Creates a user without a password (set one with [`super::accounts::set_password`]).
pub async fn create_user(
    state: &AppState,
    actor: &Actor,
    doc: UserDoc,
) -> Result<UserDoc, ServiceError> {
    let slug = Slug::parse("id", &doc.id).map_err(|e| ServiceError::Invalid(e.to_string()))?;
    let mut whole = document();
    whole.users.push(doc);
    create(
        state,
        actor,
        whole,
        "users[0]",
        Creating::User(slug.clone()),
    )
    .await?;
    user_doc(state, &slug).await
}

/// The user `slug` would become with `patch` applied (to authorize before changing).
pub async fn patched_user(
    state: &AppState,
    slug: &Slug,
    patch: Value,
) -> Result<(UserDoc, UserDoc), ServiceError> {
    let before = user_doc(state, slug).await?;
    let after = patched(&before, patch, &["id"])?;
    Ok((before, after))
}

pub async fn update_user(
    state: &AppState,
    actor: &Actor,
    doc: UserDoc,
) -> Result<UserDoc, ServiceError> {
    let slug = Slug::parse("id", &doc.id).map_err(|e| ServiceError::Invalid(e.to_string()))?;
    let mut whole = document();
    whole.users.push(doc);
    edit(state, actor, whole, "users[0]").await?;
    user_doc(state, &slug).await
}

// Keys.

/// Key `key`'s definition (a sensitive default sealed, as an export holds it).
pub async fn key_doc(state: &AppState, key: &ConfigKey) -> Result<KeyDoc, ServiceError> {
    let def = load_keys(&state.db, &state.secrets)
        .await?
        .into_iter()
        .find(|k| &k.def.key == key)
        .ok_or_else(|| missing(format!("key {key}")))?
        .def;
    let default = def.default.as_ref().map(|d| {
        if def.sensitive {
            json!({"encrypted": state.secrets.seal(def.key.as_str(), d)})
        } else {
            d.clone()
        }
    });
    Ok(crate::domain::document::key_doc(&def, default))
}

/// A key definition as anyone may see it: a sensitive default masked (only the export
/// reveals it, to secrets_read, audited).
pub fn masked_key(mut doc: KeyDoc) -> KeyDoc {
    if doc.sensitive == Some(true) && doc.default.is_some() {
        doc.default = Some(json!(crate::domain::value::MASK));
    }
    doc
}

/// Every key definition, as [`masked_key`] shows it.
pub async fn key_docs(state: &AppState) -> Result<Vec<KeyDoc>, ServiceError> {
    Ok(load_keys(&state.db, &state.secrets)
        .await?
        .iter()
        .map(|k| {
            masked_key(crate::domain::document::key_doc(
                &k.def,
                k.def.default.clone(),
            ))
        })
        .collect())
}

/// Defines `key` or replaces its definition (entries that would no longer fit are refused).
/// Answers whether the key is new.
pub async fn define_key(
    state: &AppState,
    actor: &Actor,
    key: &ConfigKey,
    mut doc: KeyDoc,
) -> Result<(KeyDoc, bool), ServiceError> {
    if doc.key.is_empty() {
        doc.key = key.to_string();
    } else if doc.key != key.as_str() {
        return Err(ServiceError::Invalid(format!(
            "key: {:?} differs from the key in the path ({key})",
            doc.key
        )));
    }
    let stored = key_doc(state, key).await.ok();
    let created = stored.is_none();
    // A definition read back (GET /keys, the console) shows a secret default masked; sending
    // the mask back keeps the stored default instead of storing the mask.
    if doc.default.as_ref().and_then(Value::as_str) == Some(crate::domain::value::MASK) {
        doc.default = stored.and_then(|k| k.default);
        if doc.default.is_none() {
            return Err(ServiceError::Invalid(format!(
                "default: {:?} stands for a stored secret, and key {key} has none",
                crate::domain::value::MASK
            )));
        }
    }
    let mut whole = document();
    whole.keys.push(doc);
    edit(state, actor, whole, "keys[0]").await?;
    Ok((key_doc(state, key).await?, created))
}

// Deleting.

/// What a delete removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Doomed {
    Key(ConfigKey),
    Tenant(Slug),
    Department(Slug, Slug),
    Group(Slug, Slug),
    User(Slug),
}

impl Doomed {
    fn describe(&self) -> String {
        match self {
            Doomed::Key(k) => format!("key {k}"),
            Doomed::Tenant(t) => format!("tenant {t}"),
            Doomed::Department(t, d) => format!("department {t}/{d}"),
            Doomed::Group(t, g) => format!("group {t}/{g}"),
            Doomed::User(u) => format!("user {u}"),
        }
    }
}

/// How many entries a delete of `doomed` would remove (the console asks before removing
/// any).
pub async fn entries_held(state: &AppState, doomed: &Doomed) -> Result<usize, ServiceError> {
    let loaded = load_around(&state.db, &state.secrets, doomed).await?;
    let plan = Removal::plan(&loaded, doomed)?;
    Ok(plan.entries.len())
}

/// What a delete of `doomed` must see: for a key, its entries wherever they are and the
/// scopes they name; otherwise the snapshot of the tenant it is in (a platform user: the
/// platform users'). A delete reads as much as it removes, on any size of platform.
async fn load_around<C: ConnectionTrait>(
    db: &C,
    secrets: &SecretBox,
    doomed: &Doomed,
) -> Result<Loaded, DbErr> {
    let tenant = match doomed {
        Doomed::Key(key) => {
            let id = config_key::Entity::find()
                .filter(config_key::Column::Name.eq(key.as_str()))
                .one(db)
                .await?
                .map(|k| k.id);
            return load_holdings(db, secrets, &id.into_iter().collect()).await;
        }
        Doomed::Tenant(t) | Doomed::Department(t, _) | Doomed::Group(t, _) => Some(t.to_string()),
        Doomed::User(u) => user_tenant(db, u).await?,
    };
    load_tenants(db, secrets, &BTreeSet::from([tenant])).await
}

/// The tenant user `user` is in (none: a platform user, or no such user).
async fn user_tenant<C: ConnectionTrait>(db: &C, user: &Slug) -> Result<Option<String>, DbErr> {
    let tenant_id = user::Entity::find()
        .filter(user::Column::Slug.eq(user.as_str()))
        .one(db)
        .await?
        .and_then(|u| u.tenant_id);
    Ok(match tenant_id {
        Some(id) => tenant::Entity::find_by_id(id)
            .one(db)
            .await?
            .map(|t| t.slug),
        None => None,
    })
}

/// Ids of everything a delete removes, found in one load.
struct Removal {
    key_id: Option<i64>,
    tenant_id: Option<i64>,
    department_id: Option<i64>,
    group_id: Option<i64>,
    /// Users deleted with the item (the user itself, or a tenant's users).
    users: Vec<(i64, Slug)>,
    /// Users whose department is removed (they stay, without a department).
    moved_users: Vec<(i64, Slug)>,
    /// Entries removed: indexes into `Loaded::entries`.
    entries: Vec<usize>,
    departments: Vec<i64>,
    groups: Vec<i64>,
    audit_tenant: Option<String>,
    audit_department: Option<String>,
}

impl Removal {
    fn plan(loaded: &Loaded, doomed: &Doomed) -> Result<Removal, ServiceError> {
        let not_found = || missing(doomed.describe());
        let tenant_of = |slug: &Slug| {
            loaded
                .tenants
                .iter()
                .find(|t| &t.slug == slug)
                .ok_or_else(not_found)
        };
        let mut removal = Removal {
            key_id: None,
            tenant_id: None,
            department_id: None,
            group_id: None,
            users: Vec::new(),
            moved_users: Vec::new(),
            entries: Vec::new(),
            departments: Vec::new(),
            groups: Vec::new(),
            audit_tenant: None,
            audit_department: None,
        };
        let user_pair = |u: &super::state::UserRow| (u.id, u.slug.clone());
        match doomed {
            Doomed::Key(key) => {
                let row = loaded
                    .keys
                    .iter()
                    .find(|k| &k.def.key == key)
                    .ok_or_else(not_found)?;
                removal.key_id = Some(row.id);
            }
            Doomed::Tenant(slug) => {
                let t = tenant_of(slug)?;
                removal.tenant_id = Some(t.id);
                removal.audit_tenant = Some(slug.to_string());
                removal.users = loaded
                    .users
                    .iter()
                    .filter(|u| u.tenant_id == Some(t.id))
                    .map(user_pair)
                    .collect();
                removal.departments = loaded
                    .departments
                    .iter()
                    .filter(|d| d.tenant_id == t.id)
                    .map(|d| d.id)
                    .collect();
                removal.groups = loaded
                    .groups
                    .iter()
                    .filter(|g| g.tenant_id == t.id)
                    .map(|g| g.id)
                    .collect();
            }
            Doomed::Department(tenant, slug) => {
                let t = tenant_of(tenant)?;
                let d = loaded
                    .departments
                    .iter()
                    .find(|d| d.tenant_id == t.id && &d.slug == slug)
                    .ok_or_else(not_found)?;
                removal.department_id = Some(d.id);
                removal.departments = vec![d.id];
                removal.audit_tenant = Some(tenant.to_string());
                removal.audit_department = Some(slug.to_string());
                removal.moved_users = loaded
                    .users
                    .iter()
                    .filter(|u| u.department_id == Some(d.id))
                    .map(user_pair)
                    .collect();
            }
            Doomed::Group(tenant, slug) => {
                let t = tenant_of(tenant)?;
                let g = loaded
                    .groups
                    .iter()
                    .find(|g| g.tenant_id == t.id && &g.slug == slug)
                    .ok_or_else(not_found)?;
                removal.group_id = Some(g.id);
                removal.groups = vec![g.id];
                removal.audit_tenant = Some(tenant.to_string());
            }
            Doomed::User(slug) => {
                let u = loaded
                    .users
                    .iter()
                    .find(|u| &u.slug == slug)
                    .ok_or_else(not_found)?;
                removal.users = vec![user_pair(u)];
                removal.audit_tenant = u
                    .tenant_id
                    .and_then(|id| loaded.tenant_slug(id))
                    .map(ToString::to_string);
                removal.audit_department = u
                    .department_id
                    .and_then(|id| loaded.department_slug(id))
                    .map(ToString::to_string);
            }
        }
        let doomed_users: HashSet<&Slug> = removal.users.iter().map(|(_, s)| s).collect();
        removal.entries = loaded
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| {
                if let Some(key_id) = removal.key_id {
                    return e.key_id == key_id;
                }
                match (&e.scope, doomed) {
                    (Scope::User { user }, _) => doomed_users.contains(user),
                    (scope, Doomed::Tenant(t)) => scope.tenant() == Some(t),
                    (Scope::Department { tenant, department }, Doomed::Department(t, d)) => {
                        tenant == t && department == d
                    }
                    (Scope::Group { tenant, group }, Doomed::Group(t, g)) => {
                        tenant == t && group == g
                    }
                    _ => false,
                }
            })
            .map(|(i, _)| i)
            .collect();
        Ok(removal)
    }
}

/// Deletes `doomed` and everything that hangs off it, in one transaction.
pub async fn delete(
    state: &AppState,
    actor: &Actor,
    doomed: &Doomed,
    reason: Option<String>,
) -> Result<(), ServiceError> {
    let tx = state.db.begin().await?;
    let mut audit = AuditWriter::begin(&tx, chrono::Utc::now()).await?;
    let loaded = load_around(&tx, &state.secrets, doomed).await?;
    let removal = Removal::plan(&loaded, doomed)?;
    let batch = uuid::Uuid::new_v4().to_string();
    let mut events: Vec<AuditRecord> = Vec::new();

    // Entries first: they reference keys and every kind of scope.
    let mut entry_ids = Vec::with_capacity(removal.entries.len());
    for &i in &removal.entries {
        let e = &loaded.entries[i];
        entry_ids.push(e.id);
        let Some(key) = loaded.keys.iter().find(|k| k.id == e.key_id) else {
            continue;
        };
        let (audit_tenant, audit_department) = scope_audit_place(&loaded, &e.scope);
        events.push(AuditRecord {
            action: "entry.unset".into(),
            level: Some(e.scope.level().as_str().into()),
            scope: e.scope.id(),
            tenant: audit_tenant,
            department: audit_department,
            key: Some(key.def.key.to_string()),
            old_value: Some(super::entries::audit_value(
                &state.secrets,
                &key.def,
                Some(&e.scope),
                &e.value,
            )),
            old_locked: Some(e.locked),
            old_ciphertext: e.sealed.clone(),
            reason: Some(format!("{} deleted", doomed.describe())),
            ..Default::default()
        });
    }
    entry::Entity::delete_many()
        .filter(entry::Column::Id.is_in(entry_ids))
        .exec(&tx)
        .await?;

    for (id, slug) in &removal.moved_users {
        user::Entity::update_many()
            .col_expr(
                user::Column::DepartmentId,
                sea_orm::sea_query::Expr::value(Option::<i64>::None),
            )
            .filter(user::Column::Id.eq(*id))
            .exec(&tx)
            .await?;
        events.push(AuditRecord {
            action: "user.update".into(),
            level: Some("user".into()),
            scope: Some(slug.to_string()),
            tenant: removal.audit_tenant.clone(),
            department: removal.audit_department.clone(),
            old_value: Some(json!({"department": removal.audit_department}).to_string()),
            new_value: Some(json!({"department": null}).to_string()),
            ..Default::default()
        });
    }

    let user_ids: Vec<i64> = removal.users.iter().map(|(id, _)| *id).collect();
    user_group::Entity::delete_many()
        .filter(user_group::Column::UserId.is_in(user_ids.clone()))
        .exec(&tx)
        .await?;
    if !removal.groups.is_empty() {
        user_group::Entity::delete_many()
            .filter(user_group::Column::GroupId.is_in(removal.groups.clone()))
            .exec(&tx)
            .await?;
    }
    user_trait::Entity::delete_many()
        .filter(user_trait::Column::UserId.is_in(user_ids.clone()))
        .exec(&tx)
        .await?;
    api_token::Entity::delete_many()
        .filter(api_token::Column::UserId.is_in(user_ids.clone()))
        .exec(&tx)
        .await?;
    user::Entity::delete_many()
        .filter(user::Column::Id.is_in(user_ids))
        .exec(&tx)
        .await?;
    for (_, slug) in &removal.users {
        let is_item = matches!(doomed, Doomed::User(u) if u == slug);
        events.push(AuditRecord {
            action: "user.delete".into(),
            level: Some("user".into()),
            scope: Some(slug.to_string()),
            tenant: removal.audit_tenant.clone(),
            department: if is_item {
                removal.audit_department.clone()
            } else {
                None
            },
            ..Default::default()
        });
    }
    for (id, what) in removal
        .groups
        .iter()
        .map(|id| (*id, "group"))
        .chain(removal.departments.iter().map(|id| (*id, "department")))
    {
        let rows = if what == "group" {
            &loaded.groups
        } else {
            &loaded.departments
        };
        let Some(row) = rows.iter().find(|r| r.id == id) else {
            continue;
        };
        let tenant = loaded.tenant_slug(row.tenant_id).map(ToString::to_string);
        if what == "group" {
            group::Entity::delete_by_id(id).exec(&tx).await?;
        } else {
            department::Entity::delete_by_id(id).exec(&tx).await?;
        }
        events.push(AuditRecord {
            action: format!("{what}.delete"),
            level: Some(what.into()),
            scope: tenant.as_ref().map(|t| format!("{t}/{}", row.slug)),
            tenant,
            department: (what == "department").then(|| row.slug.to_string()),
            old_value: Some(json!({"name": row.name}).to_string()),
            ..Default::default()
        });
    }
    if let Some(id) = removal.tenant_id
        && matches!(doomed, Doomed::Tenant(_))
    {
        tenant::Entity::delete_by_id(id).exec(&tx).await?;
        events.push(AuditRecord {
            action: "tenant.delete".into(),
            level: Some("tenant".into()),
            scope: removal.audit_tenant.clone(),
            tenant: removal.audit_tenant.clone(),
            ..Default::default()
        });
    }
    if let (Some(id), Doomed::Key(key)) = (removal.key_id, doomed) {
        // Templates' entries of the key go with it, each audited like an entry.
        for t in &loaded.templates {
            for e in t.entries.iter().filter(|e| e.key_id == id) {
                let def = &loaded.keys.iter().find(|k| k.id == id).map(|k| &k.def);
                events.push(AuditRecord {
                    action: "template.entry.unset".into(),
                    scope: Some(t.name.to_string()),
                    key: Some(key.to_string()),
                    old_value: def.map(|def| {
                        super::entries::audit_value_at(
                            &state.secrets,
                            def,
                            &format!("template:{}", t.name),
                            &e.value,
                        )
                    }),
                    old_locked: Some(e.locked),
                    reason: Some(format!("{} deleted", doomed.describe())),
                    ..Default::default()
                });
            }
        }
        template_entry::Entity::delete_many()
            .filter(template_entry::Column::KeyId.eq(id))
            .exec(&tx)
            .await?;
        config_key::Entity::delete_by_id(id).exec(&tx).await?;
        events.push(AuditRecord {
            action: "key.delete".into(),
            key: Some(key.to_string()),
            ..Default::default()
        });
    }

    // The item's own event carries the reason; all of them share the batch.
    let several = events.len() > 1;
    if let Some(last) = events.last_mut() {
        last.reason = reason;
    }
    for event in events {
        let event = AuditRecord {
            batch_id: several.then(|| batch.clone()),
            ..event
        };
        audit.append(&tx, actor, event).await?;
    }
    audit.finish(&tx).await?;
    tx.commit().await?;
    state.publish().await;
    Ok(())
}

/// The tenant and department an event about `scope` is filed under (who may see it).
fn scope_audit_place(loaded: &Loaded, scope: &Scope) -> (Option<String>, Option<String>) {
    match scope {
        Scope::Global => (None, None),
        Scope::Tenant { tenant } | Scope::Group { tenant, .. } => (Some(tenant.to_string()), None),
        Scope::Department { tenant, department } => {
            (Some(tenant.to_string()), Some(department.to_string()))
        }
        Scope::User { user } => loaded
            .users
            .iter()
            .find(|u| &u.slug == user)
            .map(|u| {
                (
                    u.tenant_id
                        .and_then(|id| loaded.tenant_slug(id))
                        .map(ToString::to_string),
                    u.department_id
                        .and_then(|id| loaded.department_slug(id))
                        .map(ToString::to_string),
                )
            })
            .unwrap_or_default(),
    }
}
