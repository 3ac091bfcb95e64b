//! Loading the whole platform from the database into domain types: the source of the
//! snapshots, of the import catalog and of exports, so all three read rows one way.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use sea_orm::{ConnectionTrait, DbErr, EntityTrait, QueryOrder};
use serde_json::Value;

use super::crypto::SecretBox;
use super::entity::{
    config_key, department, entry, group, template, template_entry, tenant, user, user_group,
    user_trait,
};
use super::entries::read_stored;
use crate::domain::document::Catalog;
use crate::domain::key::{Constraints, KeyDefinition, KeyType};
use crate::domain::level::Level;
use crate::domain::name::{ConfigKey, Slug};
use crate::domain::resolve::{Cell, Keys, Layer, Placement, Snapshot};
use crate::domain::scope::Scope;
use crate::domain::traits::Trait;

#[derive(Debug, Clone)]
pub struct KeyRow {
    pub id: i64,
    pub def: KeyDefinition,
}

#[derive(Debug, Clone)]
pub struct TenantRow {
    pub id: i64,
    pub slug: Slug,
    pub name: String,
    /// The id of the template it follows.
    pub template_id: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct ScopeRow {
    pub id: i64,
    pub tenant_id: i64,
    pub slug: Slug,
    pub name: String,
    /// Groups only.
    pub priority: i64,
    pub template_id: Option<i64>,
}

/// A template with its entries (values opened).
#[derive(Clone)]
pub struct TemplateRow {
    pub id: i64,
    pub name: Slug,
    pub description: Option<String>,
    pub level: Level,
    /// `{"departments": [...], "groups": [...]}` in document form.
    pub skeleton: Value,
    pub version: i64,
    pub entries: Vec<TemplateEntryRow>,
}

#[derive(Clone)]
pub struct TemplateEntryRow {
    pub id: i64,
    pub key_id: i64,
    pub value: Value,
    pub sealed: Option<String>,
    pub locked: bool,
    pub version: i64,
}

#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: i64,
    pub slug: Slug,
    pub name: String,
    pub tenant_id: Option<i64>,
    pub department_id: Option<i64>,
    pub disabled: bool,
    pub groups: Vec<i64>,
    pub traits: Vec<Trait>,
}

#[derive(Clone)]
pub struct EntryRow {
    pub id: i64,
    pub key_id: i64,
    pub scope: Scope,
    /// The plaintext value (opened when sealed).
    pub value: Value,
    /// The stored sealed form of a sensitive value.
    pub sealed: Option<String>,
    pub locked: bool,
    pub version: i64,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub updated_by: String,
}

/// Everything in the database, as domain types.
#[derive(Clone)]
pub struct Loaded {
    pub keys: Vec<KeyRow>,
    /// Every template (there are few), whatever part of the platform was loaded.
    pub templates: Vec<TemplateRow>,
    pub tenants: Vec<TenantRow>,
    pub departments: Vec<ScopeRow>,
    pub groups: Vec<ScopeRow>,
    pub users: Vec<UserRow>,
    pub entries: Vec<EntryRow>,
}

/// A stored row that the domain cannot read (a damaged database, or a missing master key).
fn corrupt(what: String) -> DbErr {
    DbErr::Custom(what)
}

pub fn key_definition(
    row: &config_key::Model,
    secrets: &SecretBox,
) -> Result<KeyDefinition, DbErr> {
    let bad = |field: &str| corrupt(format!("key {}: stored {field} is not valid", row.name));
    let key = ConfigKey::parse(&row.name).map_err(|_| bad("name"))?;
    let key_type: KeyType =
        serde_json::from_value(Value::String(row.key_type.clone())).map_err(|_| bad("type"))?;
    let constraints: Constraints =
        serde_json::from_str(&row.constraints).map_err(|_| bad("constraints"))?;
    let levels: Vec<Level> = serde_json::from_str(&row.levels).map_err(|_| bad("levels"))?;
    let default = row
        .default_value
        .as_deref()
        .map(|stored| read_stored(secrets, &row.name, stored, row.default_encrypted))
        .transpose()
        .map_err(|e| corrupt(format!("key {}: default: {e}", row.name)))?;
    Ok(KeyDefinition {
        key,
        key_type,
        description: row.description.clone(),
        category: row.category.clone(),
        default,
        constraints,
        sensitive: row.sensitive,
        levels,
        user_editable: row.user_editable,
    })
}

pub async fn load<C: ConnectionTrait>(db: &C, secrets: &SecretBox) -> Result<Loaded, DbErr> {
    load_part(db, secrets, None, true).await
}

/// The directory without any entry: key definitions, templates, and the tenants (all of them,
/// or `tenants`; `None` in it: the platform users) with their departments, groups and users.
/// What a list of the directory reads, however many entries the platform holds.
pub async fn load_directory<C: ConnectionTrait>(
    db: &C,
    secrets: &SecretBox,
    tenants: Option<&BTreeSet<Option<String>>>,
) -> Result<Loaded, DbErr> {
    load_part(db, secrets, tenants, false).await
}

/// The key definitions and what the snapshots of `tenants` (`None` in it: the platform users')
/// hold: the tenants, their departments, groups, users and entries, global entries aside.
/// Tenants no longer there are simply missing.
pub async fn load_tenants<C: ConnectionTrait>(
    db: &C,
    secrets: &SecretBox,
    tenants: &BTreeSet<Option<String>>,
) -> Result<Loaded, DbErr> {
    load_part(db, secrets, Some(tenants), true).await
}

/// User `slug` and the rows its document names (its tenant, department and groups): no key
/// definitions, templates, entries or other users. `None`: there is no such user.
pub async fn load_user<C: ConnectionTrait>(db: &C, slug: &Slug) -> Result<Option<Loaded>, DbErr> {
    use sea_orm::{ColumnTrait, QueryFilter};

    let Some(row) = user::Entity::find()
        .filter(user::Column::Slug.eq(slug.as_str()))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let groups: Vec<i64> = user_group::Entity::find()
        .filter(user_group::Column::UserId.eq(row.id))
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.group_id)
        .collect();
    let mut traits = user_trait::Entity::find()
        .filter(user_trait::Column::UserId.eq(row.id))
        .all(db)
        .await?
        .into_iter()
        .map(|t| t.name.parse::<Trait>().map_err(|e| corrupt(e.to_string())))
        .collect::<Result<Vec<_>, DbErr>>()?;
    traits.sort();
    let tenants = match row.tenant_id {
        Some(id) => tenant::Entity::find_by_id(id)
            .all(db)
            .await?
            .into_iter()
            .map(tenant_row)
            .collect::<Result<Vec<_>, DbErr>>()?,
        None => Vec::new(),
    };
    let departments = match row.department_id {
        Some(id) => department::Entity::find_by_id(id)
            .all(db)
            .await?
            .into_iter()
            .map(department_row)
            .collect::<Result<Vec<_>, DbErr>>()?,
        None => Vec::new(),
    };
    let group_rows = if groups.is_empty() {
        Vec::new()
    } else {
        group::Entity::find()
            .filter(group::Column::Id.is_in(groups.clone()))
            .all(db)
            .await?
            .into_iter()
            .map(group_row)
            .collect::<Result<Vec<_>, DbErr>>()?
    };
    Ok(Some(Loaded {
        keys: Vec::new(),
        templates: Vec::new(),
        tenants,
        departments,
        groups: group_rows,
        users: vec![user_row(row, groups, traits)?],
        entries: Vec::new(),
    }))
}

/// The rows of the whole platform (`only`: none), or of some tenants' snapshots; their
/// entries only `with_entries`. Filters are subqueries, so a tenant of any size costs one
/// query per table.
async fn load_part<C: ConnectionTrait>(
    db: &C,
    secrets: &SecretBox,
    only: Option<&BTreeSet<Option<String>>>,
    with_entries: bool,
) -> Result<Loaded, DbErr> {
    use sea_orm::sea_query::{Query, SelectStatement};
    use sea_orm::{ColumnTrait, Condition, QueryFilter};

    let named: Vec<String> = only
        .map(|set| set.iter().flatten().cloned().collect())
        .unwrap_or_default();
    let platform_users = only.is_none_or(|set| set.contains(&None));
    // The ids of the chosen tenants, and of the users in them (or on the platform).
    let tenant_ids = || -> SelectStatement {
        Query::select()
            .column(tenant::Column::Id)
            .from(tenant::Entity)
            .and_where(tenant::Column::Slug.is_in(named.clone()))
            .to_owned()
    };
    let user_ids = || -> SelectStatement {
        let mut users = Query::select()
            .column(user::Column::Id)
            .from(user::Entity)
            .to_owned();
        let mut place = Condition::any().add(user::Column::TenantId.in_subquery(tenant_ids()));
        if platform_users {
            place = place.add(user::Column::TenantId.is_null());
        }
        users.cond_where(place);
        users
    };
    let keys = load_keys(db, secrets).await?;
    let templates = load_templates(db, secrets, &keys).await?;
    let mut tenants = tenant::Entity::find().order_by_asc(tenant::Column::Slug);
    if only.is_some() {
        tenants = tenants.filter(tenant::Column::Slug.is_in(named.clone()));
    }
    let tenants = tenants
        .all(db)
        .await?
        .into_iter()
        .map(tenant_row)
        .collect::<Result<Vec<_>, DbErr>>()?;
    let mut departments = department::Entity::find().order_by_asc(department::Column::Slug);
    if only.is_some() {
        departments = departments.filter(department::Column::TenantId.in_subquery(tenant_ids()));
    }
    let departments = departments
        .all(db)
        .await?
        .into_iter()
        .map(department_row)
        .collect::<Result<Vec<_>, DbErr>>()?;
    let mut groups = group::Entity::find().order_by_asc(group::Column::Slug);
    if only.is_some() {
        groups = groups.filter(group::Column::TenantId.in_subquery(tenant_ids()));
    }
    let groups = groups
        .all(db)
        .await?
        .into_iter()
        .map(group_row)
        .collect::<Result<Vec<_>, DbErr>>()?;

    let mut memberships: HashMap<i64, Vec<i64>> = HashMap::new();
    let mut member_rows = user_group::Entity::find();
    if only.is_some() {
        member_rows = member_rows.filter(user_group::Column::UserId.in_subquery(user_ids()));
    }
    for m in member_rows.all(db).await? {
        memberships.entry(m.user_id).or_default().push(m.group_id);
    }
    let mut traits: HashMap<i64, Vec<Trait>> = HashMap::new();
    let mut trait_rows = user_trait::Entity::find();
    if only.is_some() {
        trait_rows = trait_rows.filter(user_trait::Column::UserId.in_subquery(user_ids()));
    }
    for t in trait_rows.all(db).await? {
        let parsed = t
            .name
            .parse::<Trait>()
            .map_err(|e| corrupt(e.to_string()))?;
        traits.entry(t.user_id).or_default().push(parsed);
    }
    let mut users = user::Entity::find().order_by_asc(user::Column::Slug);
    if only.is_some() {
        users = users.filter(user::Column::Id.in_subquery(user_ids()));
    }
    let users = users
        .all(db)
        .await?
        .into_iter()
        .map(|u| {
            let mut user_traits = traits.remove(&u.id).unwrap_or_default();
            user_traits.sort();
            let groups = memberships.remove(&u.id).unwrap_or_default();
            user_row(u, groups, user_traits)
        })
        .collect::<Result<Vec<_>, DbErr>>()?;

    let tenant_slug: HashMap<i64, &Slug> = tenants.iter().map(|t| (t.id, &t.slug)).collect();
    let department_slug: HashMap<i64, &Slug> =
        departments.iter().map(|d| (d.id, &d.slug)).collect();
    let group_slug: HashMap<i64, &Slug> = groups.iter().map(|g| (g.id, &g.slug)).collect();
    let user_slug: HashMap<i64, &Slug> = users.iter().map(|u| (u.id, &u.slug)).collect();
    let key_name: HashMap<i64, &KeyDefinition> = keys.iter().map(|k| (k.id, &k.def)).collect();

    let mut entries = Vec::new();
    // A whole load reads in id order, which is the table's own order. A part is read through
    // the tenant and user indexes and put in order here: asked of SQLite, that order makes it
    // walk every entry of the platform by id instead of using the indexes.
    let rows = match (with_entries, only) {
        (false, _) => Vec::new(),
        (true, None) => {
            entry::Entity::find()
                .order_by_asc(entry::Column::Id)
                .all(db)
                .await?
        }
        (true, Some(_)) => {
            let mut rows = entry::Entity::find()
                .filter(
                    Condition::any()
                        .add(entry::Column::TenantId.in_subquery(tenant_ids()))
                        .add(entry::Column::UserId.in_subquery(user_ids())),
                )
                .all(db)
                .await?;
            rows.sort_unstable_by_key(|e| e.id);
            rows
        }
    };
    let slugs = Slugs {
        tenants: tenant_slug,
        departments: department_slug,
        groups: group_slug,
        users: user_slug,
    };
    for e in rows {
        entries.push(entry_row(secrets, &key_name, &slugs, e)?);
    }
    Ok(Loaded {
        keys,
        templates,
        tenants,
        departments,
        groups,
        users,
        entries,
    })
}

fn slug(what: &'static str, s: &str) -> Result<Slug, DbErr> {
    Slug::parse(what, s).map_err(|e| corrupt(e.to_string()))
}

fn tenant_row(t: tenant::Model) -> Result<TenantRow, DbErr> {
    Ok(TenantRow {
        id: t.id,
        slug: slug("tenant", &t.slug)?,
        name: t.name,
        template_id: t.template_id,
    })
}

fn department_row(d: department::Model) -> Result<ScopeRow, DbErr> {
    Ok(ScopeRow {
        id: d.id,
        tenant_id: d.tenant_id,
        slug: slug("department", &d.slug)?,
        name: d.name,
        priority: 0,
        template_id: d.template_id,
    })
}

fn group_row(g: group::Model) -> Result<ScopeRow, DbErr> {
    Ok(ScopeRow {
        id: g.id,
        tenant_id: g.tenant_id,
        slug: slug("group", &g.slug)?,
        name: g.name,
        priority: g.priority,
        template_id: g.template_id,
    })
}

fn user_row(u: user::Model, groups: Vec<i64>, traits: Vec<Trait>) -> Result<UserRow, DbErr> {
    Ok(UserRow {
        id: u.id,
        slug: slug("user", &u.slug)?,
        name: u.name,
        tenant_id: u.tenant_id,
        department_id: u.department_id,
        disabled: u.disabled,
        groups,
        traits,
    })
}

/// The slugs of the scopes entries refer to, by id.
struct Slugs<'a> {
    tenants: HashMap<i64, &'a Slug>,
    departments: HashMap<i64, &'a Slug>,
    groups: HashMap<i64, &'a Slug>,
    users: HashMap<i64, &'a Slug>,
}

/// A stored entry as a domain row: its scope named, its value opened.
fn entry_row(
    secrets: &SecretBox,
    keys: &HashMap<i64, &KeyDefinition>,
    slugs: &Slugs<'_>,
    e: entry::Model,
) -> Result<EntryRow, DbErr> {
    let missing = || corrupt(format!("entry {} refers to a missing scope", e.id));
    let get = |map: &HashMap<i64, &Slug>, id: Option<i64>| {
        id.and_then(|id| map.get(&id).map(|s| (*s).clone()))
            .ok_or_else(missing)
    };
    let level: Level = e.level.parse().map_err(|_| missing())?;
    let scope = match level {
        Level::Global => Scope::Global,
        Level::Tenant => Scope::Tenant {
            tenant: get(&slugs.tenants, e.tenant_id)?,
        },
        Level::Department => Scope::Department {
            tenant: get(&slugs.tenants, e.tenant_id)?,
            department: get(&slugs.departments, e.department_id)?,
        },
        Level::Group => Scope::Group {
            tenant: get(&slugs.tenants, e.tenant_id)?,
            group: get(&slugs.groups, e.group_id)?,
        },
        Level::User => Scope::User {
            user: get(&slugs.users, e.user_id)?,
        },
    };
    let def = keys.get(&e.key_id).ok_or_else(missing)?;
    let value = read_stored(secrets, def.key.as_str(), &e.value, e.encrypted)
        .map_err(|err| corrupt(format!("entry {} ({}): {err}", e.id, def.key)))?;
    let sealed = e.encrypted.then_some(e.value);
    Ok(EntryRow {
        id: e.id,
        key_id: e.key_id,
        scope,
        value,
        sealed,
        locked: e.locked,
        version: e.version,
        updated_at: e.updated_at,
        updated_by: e.updated_by,
    })
}

/// The entries of the keys `ids`, wherever they are (a key redefined: each must still fit).
pub async fn load_entries_of_keys<C: ConnectionTrait>(
    db: &C,
    secrets: &SecretBox,
    keys: &[KeyRow],
    ids: &BTreeSet<i64>,
) -> Result<Vec<EntryRow>, DbErr> {
    Ok(holdings(db, secrets, keys, ids).await?.entries)
}

/// Every key definition and template, and what the keys `ids` hold: their entries, wherever
/// they are, with the scopes those name (a key deleted: each entry is audited where it was).
/// Users come with their tenant and department, not their groups or traits.
pub async fn load_holdings<C: ConnectionTrait>(
    db: &C,
    secrets: &SecretBox,
    ids: &BTreeSet<i64>,
) -> Result<Loaded, DbErr> {
    let keys = load_keys(db, secrets).await?;
    let templates = load_templates(db, secrets, &keys).await?;
    let held = holdings(db, secrets, &keys, ids).await?;
    Ok(Loaded {
        keys,
        templates,
        ..held
    })
}

/// What the keys `ids` hold, read as much as they hold on any size of platform: a [`Loaded`]
/// without key definitions or templates (`keys` names the entries' keys).
async fn holdings<C: ConnectionTrait>(
    db: &C,
    secrets: &SecretBox,
    keys: &[KeyRow],
    ids: &BTreeSet<i64>,
) -> Result<Loaded, DbErr> {
    use sea_orm::{ColumnTrait, QueryFilter};
    let mut rows = Vec::new();
    if !ids.is_empty() {
        // One query per level: only with the level named does SQLite use that level's
        // (partial) index on the key, and there is no other index on it.
        for level in Level::ALL {
            rows.extend(
                entry::Entity::find()
                    .filter(entry::Column::KeyId.is_in(ids.iter().copied()))
                    .filter(entry::Column::Level.eq(level.as_str()))
                    .all(db)
                    .await?,
            );
        }
    }
    rows.sort_unstable_by_key(|e| e.id);
    let referenced = |id: fn(&entry::Model) -> Option<i64>| -> BTreeSet<i64> {
        rows.iter().filter_map(id).collect()
    };
    let users = by_ids::<_, user::Entity>(db, user::Column::Id, referenced(|e| e.user_id))
        .await?
        .into_iter()
        .map(|u| user_row(u, Vec::new(), Vec::new()))
        .collect::<Result<Vec<_>, DbErr>>()?;
    let mut tenant_ids = referenced(|e| e.tenant_id);
    tenant_ids.extend(users.iter().filter_map(|u| u.tenant_id));
    let mut department_ids = referenced(|e| e.department_id);
    department_ids.extend(users.iter().filter_map(|u| u.department_id));
    let tenants = by_ids::<_, tenant::Entity>(db, tenant::Column::Id, tenant_ids)
        .await?
        .into_iter()
        .map(tenant_row)
        .collect::<Result<Vec<_>, DbErr>>()?;
    let departments = by_ids::<_, department::Entity>(db, department::Column::Id, department_ids)
        .await?
        .into_iter()
        .map(department_row)
        .collect::<Result<Vec<_>, DbErr>>()?;
    let groups = by_ids::<_, group::Entity>(db, group::Column::Id, referenced(|e| e.group_id))
        .await?
        .into_iter()
        .map(group_row)
        .collect::<Result<Vec<_>, DbErr>>()?;
    let slugs = Slugs {
        tenants: tenants.iter().map(|t| (t.id, &t.slug)).collect(),
        departments: departments.iter().map(|d| (d.id, &d.slug)).collect(),
        groups: groups.iter().map(|g| (g.id, &g.slug)).collect(),
        users: users.iter().map(|u| (u.id, &u.slug)).collect(),
    };
    let key_name: HashMap<i64, &KeyDefinition> = keys.iter().map(|k| (k.id, &k.def)).collect();
    let entries = rows
        .into_iter()
        .map(|e| entry_row(secrets, &key_name, &slugs, e))
        .collect::<Result<Vec<_>, DbErr>>()?;
    Ok(Loaded {
        keys: Vec::new(),
        templates: Vec::new(),
        tenants,
        departments,
        groups,
        users,
        entries,
    })
}

/// The rows of `entity` whose `column` is one of `ids`, asked for in slices: a key may be
/// held by more users than a statement may bind parameters (SQLite: 32,766).
async fn by_ids<C: ConnectionTrait, E: EntityTrait>(
    db: &C,
    column: E::Column,
    ids: BTreeSet<i64>,
) -> Result<Vec<E::Model>, DbErr> {
    use sea_orm::{ColumnTrait, QueryFilter};
    const SLICE: usize = 10_000;
    let ids: Vec<i64> = ids.into_iter().collect();
    let mut rows = Vec::with_capacity(ids.len());
    for slice in ids.chunks(SLICE) {
        rows.extend(
            E::find()
                .filter(column.is_in(slice.iter().copied()))
                .all(db)
                .await?,
        );
    }
    Ok(rows)
}

/// Every key definition, by name.
pub async fn load_keys<C: ConnectionTrait>(
    db: &C,
    secrets: &SecretBox,
) -> Result<Vec<KeyRow>, DbErr> {
    config_key::Entity::find()
        .order_by_asc(config_key::Column::Name)
        .all(db)
        .await?
        .iter()
        .map(|row| {
            Ok(KeyRow {
                id: row.id,
                def: key_definition(row, secrets)?,
            })
        })
        .collect()
}

/// A template's entries as a layer over `keys` (its scope is a placeholder: the scopes that
/// follow it share these entries, see [`Layer::following`]).
pub fn template_layer(template: &TemplateRow, key_rows: &[KeyRow], keys: &Keys) -> Layer {
    let mut layer = Layer::new(Scope::Global);
    for e in &template.entries {
        let idx = key_rows
            .iter()
            .find(|k| k.id == e.key_id)
            .and_then(|k| keys.idx(k.def.key.as_str()));
        if let Some(idx) = idx {
            layer.set(
                idx,
                Cell {
                    value: e.value.clone(),
                    locked: e.locked,
                    version: e.version,
                },
            );
        }
    }
    layer
}

/// Every template with its entries, by name.
pub async fn load_templates<C: ConnectionTrait>(
    db: &C,
    secrets: &SecretBox,
    keys: &[KeyRow],
) -> Result<Vec<TemplateRow>, DbErr> {
    let key_name: HashMap<i64, &KeyDefinition> = keys.iter().map(|k| (k.id, &k.def)).collect();
    let mut entries: HashMap<i64, Vec<TemplateEntryRow>> = HashMap::new();
    for e in template_entry::Entity::find()
        .order_by_asc(template_entry::Column::Id)
        .all(db)
        .await?
    {
        // A key deleted without its template entries (an older build): they resolve nothing.
        let Some(def) = key_name.get(&e.key_id) else {
            continue;
        };
        let value = read_stored(secrets, def.key.as_str(), &e.value, e.encrypted)
            .map_err(|err| corrupt(format!("template entry {} ({}): {err}", e.id, def.key)))?;
        entries
            .entry(e.template_id)
            .or_default()
            .push(TemplateEntryRow {
                id: e.id,
                key_id: e.key_id,
                value,
                sealed: e.encrypted.then_some(e.value),
                locked: e.locked,
                version: e.version,
            });
    }
    template::Entity::find()
        .order_by_asc(template::Column::Name)
        .all(db)
        .await?
        .into_iter()
        .map(|t| {
            let bad =
                |what: &str| corrupt(format!("template {}: stored {what} is not valid", t.name));
            Ok(TemplateRow {
                id: t.id,
                name: Slug::parse("template", &t.name).map_err(|_| bad("name"))?,
                description: t.description,
                level: t.target_level.parse().map_err(|_| bad("target_level"))?,
                skeleton: serde_json::from_str(&t.skeleton).map_err(|_| bad("skeleton"))?,
                version: t.version,
                entries: entries.remove(&t.id).unwrap_or_default(),
            })
        })
        .collect()
}

/// The entry of `key` at `scope` as a snapshot cell (none when unset), read in `db`.
pub async fn load_entry<C: ConnectionTrait>(
    db: &C,
    secrets: &SecretBox,
    scope: &Scope,
    key: &ConfigKey,
) -> Result<Option<Cell>, super::error::ServiceError> {
    let (key_id, def) = super::entries::find_key(db, secrets, key).await?;
    let ids = super::entries::scope_ids(db, scope).await?;
    let Some(row) = super::entries::find_entry(db, key_id, scope, &ids).await? else {
        return Ok(None);
    };
    let value = read_stored(secrets, def.key.as_str(), &row.value, row.encrypted)
        .map_err(|e| corrupt(format!("entry {} ({key}): {e}", row.id)))?;
    Ok(Some(Cell {
        value,
        locked: row.locked,
        version: row.version,
    }))
}

impl Loaded {
    pub fn tenant_slug(&self, id: i64) -> Option<&Slug> {
        self.tenants.iter().find(|t| t.id == id).map(|t| &t.slug)
    }

    pub fn department_slug(&self, id: i64) -> Option<&Slug> {
        self.departments
            .iter()
            .find(|d| d.id == id)
            .map(|d| &d.slug)
    }

    pub fn group_slug(&self, id: i64) -> Option<&Slug> {
        self.groups.iter().find(|g| g.id == id).map(|g| &g.slug)
    }

    /// The name of the template with this id.
    pub fn template_name(&self, id: Option<i64>) -> Option<&Slug> {
        let id = id?;
        self.templates.iter().find(|t| t.id == id).map(|t| &t.name)
    }

    /// Each template's entries as a layer (see [`template_layer`]), by name.
    pub fn template_layers(&self, keys: &Keys) -> HashMap<Slug, Layer> {
        self.templates
            .iter()
            .map(|t| (t.name.clone(), template_layer(t, &self.keys, keys)))
            .collect()
    }

    /// What already exists, for validating an import.
    pub fn catalog(&self) -> Catalog {
        let mut catalog = Catalog {
            keys: self
                .keys
                .iter()
                .map(|k| (k.def.key.clone(), k.def.clone()))
                .collect(),
            templates: self
                .templates
                .iter()
                .map(|t| (t.name.clone(), t.level))
                .collect(),
            ..Default::default()
        };
        for t in &self.tenants {
            let departments = self
                .departments
                .iter()
                .filter(|d| d.tenant_id == t.id)
                .map(|d| d.slug.clone())
                .collect();
            let groups = self
                .groups
                .iter()
                .filter(|g| g.tenant_id == t.id)
                .map(|g| g.slug.clone())
                .collect();
            catalog
                .tenants
                .insert(t.slug.clone(), (departments, groups));
        }
        for u in &self.users {
            catalog.users.insert(
                u.slug.clone(),
                u.tenant_id.and_then(|id| self.tenant_slug(id)).cloned(),
            );
        }
        catalog
    }

    /// One snapshot per tenant, and one (tenant `None`) for platform users.
    pub fn snapshots(&self) -> BTreeMap<Option<Slug>, Snapshot> {
        let keys = Arc::new(Keys::new(self.keys.iter().map(|k| k.def.clone()).collect()));
        self.snapshots_with(keys, None)
    }

    /// [`Self::snapshots`] over the given key definitions and, when given, the global layer
    /// (else built from the loaded global entries): a part of the platform, loaded with
    /// [`load_tenants`], shares the definitions and the global layer of the rest.
    pub fn snapshots_with(
        &self,
        keys: Arc<Keys>,
        global: Option<Arc<Layer>>,
    ) -> BTreeMap<Option<Slug>, Snapshot> {
        let idx_of: HashMap<i64, u32> = self
            .keys
            .iter()
            .filter_map(|k| keys.idx(k.def.key.as_str()).map(|idx| (k.id, idx)))
            .collect();
        let user_tenant: HashMap<&Slug, Option<&Slug>> = self
            .users
            .iter()
            .map(|u| (&u.slug, u.tenant_id.and_then(|id| self.tenant_slug(id))))
            .collect();

        let mut global_entries = Layer::new(Scope::Global);
        let mut per_tenant: HashMap<Option<Slug>, HashMap<Scope, Layer>> = HashMap::new();
        for e in &self.entries {
            let Some(&idx) = idx_of.get(&e.key_id) else {
                continue;
            };
            let cell = Cell {
                value: e.value.clone(),
                locked: e.locked,
                version: e.version,
            };
            let owner = match &e.scope {
                Scope::Global => {
                    global_entries.set(idx, cell);
                    continue;
                }
                Scope::User { user } => user_tenant.get(user).copied().flatten().cloned(),
                other => other.tenant().cloned(),
            };
            per_tenant
                .entry(owner)
                .or_default()
                .entry(e.scope.clone())
                .or_insert_with(|| Layer::new(e.scope.clone()))
                .set(idx, cell);
        }
        let global = global.unwrap_or_else(|| Arc::new(global_entries));
        let template_layers = self.template_layers(&keys);
        let template_of: HashMap<i64, &Slug> =
            self.templates.iter().map(|t| (t.id, &t.name)).collect();
        let tenant_of: HashMap<i64, &Slug> = self.tenants.iter().map(|t| (t.id, &t.slug)).collect();
        let mut followed: HashMap<Option<Slug>, HashMap<Scope, Layer>> = HashMap::new();
        let mut follow = |tenant: &Slug, scope: Scope, template_id: Option<i64>| {
            let Some(name) = template_id.and_then(|id| template_of.get(&id)) else {
                return;
            };
            if let Some(template) = template_layers.get(*name) {
                followed.entry(Some(tenant.clone())).or_default().insert(
                    scope.clone(),
                    Layer::following(scope, (*name).clone(), template),
                );
            }
        };
        for t in &self.tenants {
            follow(
                &t.slug,
                Scope::Tenant {
                    tenant: t.slug.clone(),
                },
                t.template_id,
            );
        }
        for d in &self.departments {
            if let Some(tenant) = tenant_of.get(&d.tenant_id) {
                let scope = Scope::Department {
                    tenant: (*tenant).clone(),
                    department: d.slug.clone(),
                };
                follow(tenant, scope, d.template_id);
            }
        }
        for g in &self.groups {
            if let Some(tenant) = tenant_of.get(&g.tenant_id) {
                let scope = Scope::Group {
                    tenant: (*tenant).clone(),
                    group: g.slug.clone(),
                };
                follow(tenant, scope, g.template_id);
            }
        }

        let mut out = BTreeMap::new();
        let tenant_ids: Vec<(Option<i64>, Option<Slug>)> = std::iter::once((None, None))
            .chain(
                self.tenants
                    .iter()
                    .map(|t| (Some(t.id), Some(t.slug.clone()))),
            )
            .collect();
        for (tenant_id, tenant_slug) in tenant_ids {
            let departments: HashSet<Slug> = self
                .departments
                .iter()
                .filter(|d| Some(d.tenant_id) == tenant_id)
                .map(|d| d.slug.clone())
                .collect();
            let groups: HashMap<Slug, i64> = self
                .groups
                .iter()
                .filter(|g| Some(g.tenant_id) == tenant_id)
                .map(|g| (g.slug.clone(), g.priority))
                .collect();
            let users = self
                .users
                .iter()
                .filter(|u| u.tenant_id == tenant_id)
                .map(|u| {
                    let mut groups: Vec<Slug> = u
                        .groups
                        .iter()
                        .filter_map(|id| self.group_slug(*id))
                        .cloned()
                        .collect();
                    // In one order, so a user put in place alone compares equal to a load.
                    groups.sort();
                    let placement = Placement {
                        department: u
                            .department_id
                            .and_then(|id| self.department_slug(id))
                            .cloned(),
                        groups,
                    };
                    (u.slug.clone(), placement)
                })
                .collect();
            out.insert(
                tenant_slug.clone(),
                Snapshot {
                    version: 0,
                    tenant: tenant_slug.clone(),
                    keys: keys.clone(),
                    global: global.clone(),
                    layers: per_tenant.remove(&tenant_slug).unwrap_or_default(),
                    followed: followed.remove(&tenant_slug).unwrap_or_default(),
                    departments,
                    groups,
                    users,
                },
            );
        }
        out
    }
}
