//! The `strata/v1` document (CLI-AND-FORMAT.md): its shape, and the validation of a whole
//! document against what the platform already holds. Validation collects every problem with
//! its JSON path; a document with any problem is applied not at all.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

use super::key::{Constraints, KeyDefinition, KeyType};
use super::level::Level;
use super::name::{ConfigKey, Slug};
use super::scope::Scope;
use super::traits::Trait;

pub const FORMAT: &str = "strata/v1";

/// Whole numbers as JSON writes them: `3`, and `3.0` too (JSON has one number type, and JSON
/// Schema's `integer` counts `3.0` as one). Anything with a fraction, or out of `T`'s range, is
/// refused with a message saying so.
pub mod integral {
    use serde::de::{Deserialize, Deserializer, Error};
    use serde_json::Number;

    fn whole(n: &Number) -> Option<i128> {
        if let Some(i) = n.as_i64() {
            return Some(i128::from(i));
        }
        if let Some(u) = n.as_u64() {
            return Some(i128::from(u));
        }
        let f = n.as_f64()?;
        // Below 2^63 in magnitude every float is exact as an i128.
        (f.fract() == 0.0 && f.abs() < 9.223_372_036_854_776e18).then_some(f as i128)
    }

    fn convert<T: TryFrom<i128>, E: Error>(n: &Number) -> Result<T, E> {
        let value =
            whole(n).ok_or_else(|| E::custom(format!("expected a whole number, got {n}")))?;
        T::try_from(value).map_err(|_| E::custom(format!("{n} is out of range")))
    }

    pub fn required<'de, D: Deserializer<'de>, T: TryFrom<i128>>(d: D) -> Result<T, D::Error> {
        convert(&Number::deserialize(d)?)
    }

    pub fn optional<'de, D: Deserializer<'de>, T: TryFrom<i128>>(
        d: D,
    ) -> Result<Option<T>, D::Error> {
        Option::<Number>::deserialize(d)?
            .map(|n| convert(&n))
            .transpose()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Document {
    #[cfg_attr(feature = "ssr", schema(pattern = "^strata/v1$"))]
    pub format: String,
    #[serde(default)]
    pub keys: Vec<KeyDoc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub templates: Vec<TemplateDoc>,
    #[serde(default)]
    pub tenants: Vec<TenantDoc>,
    #[serde(default)]
    pub users: Vec<UserDoc>,
    #[serde(default)]
    pub entries: Vec<EntryDoc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct KeyDoc {
    #[cfg_attr(feature = "ssr", schema(value_type = super::name::ConfigKey))]
    pub key: String,
    #[serde(rename = "type")]
    #[cfg_attr(feature = "ssr", schema(value_type = super::key::KeyType))]
    pub key_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<f64>))]
    pub min: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<f64>))]
    pub max: Option<Number>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "integral::optional"
    )]
    pub max_length: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Vec<super::level::Level>>))]
    pub levels: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensitive: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_editable: Option<bool>,
}

/// A template (DESIGN §2 rule 5): entries that every tenant, department or group of
/// `target_level` that follows it takes just before its own; a tenant template may carry a
/// skeleton of departments and groups that a tenant created from it gets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TemplateDoc {
    #[cfg_attr(feature = "ssr", schema(value_type = super::name::Slug))]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `tenant`, `department` or `group`.
    #[cfg_attr(feature = "ssr", schema(value_type = super::level::Level))]
    pub target_level: String,
    #[serde(default)]
    pub entries: Vec<TemplateEntryDoc>,
    /// Skeleton of a tenant template: departments a tenant created from it gets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub departments: Vec<DepartmentDoc>,
    /// Skeleton of a tenant template: groups a tenant created from it gets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupDoc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TemplateEntryDoc {
    #[cfg_attr(feature = "ssr", schema(value_type = super::name::ConfigKey))]
    pub key: String,
    pub value: Value,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub locked: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TenantDoc {
    #[cfg_attr(feature = "ssr", schema(value_type = super::name::Slug))]
    pub id: String,
    #[cfg_attr(feature = "ssr", schema(value_type = super::schema::DisplayName))]
    pub name: String,
    /// The tenant template this tenant follows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<super::name::Slug>))]
    pub template: Option<String>,
    /// Older documents' name for `template` (a tenant's plan is its template); read, never
    /// written.
    #[serde(default, skip_serializing)]
    #[cfg_attr(feature = "ssr", schema(deprecated, write_only))]
    pub plan: Option<String>,
    #[serde(default)]
    pub departments: Vec<DepartmentDoc>,
    #[serde(default)]
    pub groups: Vec<GroupDoc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DepartmentDoc {
    #[cfg_attr(feature = "ssr", schema(value_type = super::name::Slug))]
    pub id: String,
    #[cfg_attr(feature = "ssr", schema(value_type = super::schema::DisplayName))]
    pub name: String,
    /// The department template this department follows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<super::name::Slug>))]
    pub template: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct GroupDoc {
    #[cfg_attr(feature = "ssr", schema(value_type = super::name::Slug))]
    pub id: String,
    #[cfg_attr(feature = "ssr", schema(value_type = super::schema::DisplayName))]
    pub name: String,
    #[serde(default, deserialize_with = "integral::required")]
    pub priority: i64,
    /// The group template this group follows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<super::name::Slug>))]
    pub template: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UserDoc {
    #[cfg_attr(feature = "ssr", schema(value_type = super::name::Slug))]
    pub id: String,
    #[cfg_attr(feature = "ssr", schema(value_type = super::schema::DisplayName))]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<super::name::Slug>))]
    pub tenant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<super::name::Slug>))]
    pub department: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = super::schema::SlugSet))]
    pub groups: Vec<String>,
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Vec<super::traits::Trait>))]
    pub traits: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EntryDoc {
    #[cfg_attr(feature = "ssr", schema(value_type = super::level::Level))]
    pub level: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<super::name::Slug>))]
    pub tenant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<super::name::Slug>))]
    pub department: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<super::name::Slug>))]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<super::name::Slug>))]
    pub user: Option<String>,
    #[cfg_attr(feature = "ssr", schema(value_type = super::name::ConfigKey))]
    pub key: String,
    pub value: Value,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub locked: bool,
}

/// One thing wrong with a document, at its JSON path (`entries[3].value`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// What already exists, as far as validating references needs it.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub keys: HashMap<ConfigKey, KeyDefinition>,
    /// Each tenant's departments and groups.
    pub tenants: HashMap<Slug, (HashSet<Slug>, HashSet<Slug>)>,
    /// Each user's tenant.
    pub users: HashMap<Slug, Option<Slug>>,
    /// Each template's level.
    pub templates: HashMap<Slug, Level>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TenantPlan {
    pub slug: Slug,
    pub name: String,
    pub template: Option<Slug>,
    pub departments: Vec<ScopePlan>,
    pub groups: Vec<ScopePlan>,
}

/// A department or group (priority 0 for departments), with the template it follows.
#[derive(Debug, Clone, PartialEq)]
pub struct ScopePlan {
    pub slug: Slug,
    pub name: String,
    pub priority: i64,
    pub template: Option<Slug>,
}

/// A template's entry, its value checked against its key.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateEntryPlan {
    pub key: ConfigKey,
    pub value: Value,
    pub locked: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TemplatePlan {
    pub name: Slug,
    pub description: Option<String>,
    pub level: Level,
    /// Sorted by key.
    pub entries: Vec<TemplateEntryPlan>,
    pub departments: Vec<ScopePlan>,
    pub groups: Vec<ScopePlan>,
}

impl TemplatePlan {
    /// The skeleton as stored: `{"departments": [...], "groups": [...]}` in document form.
    pub fn skeleton(&self) -> Value {
        serde_json::json!({
            "departments": self.departments.iter().map(|d| DepartmentDoc {
                id: d.slug.to_string(),
                name: d.name.clone(),
                template: d.template.as_ref().map(ToString::to_string),
            }).collect::<Vec<_>>(),
            "groups": self.groups.iter().map(|g| GroupDoc {
                id: g.slug.to_string(),
                name: g.name.clone(),
                priority: g.priority,
                template: g.template.as_ref().map(ToString::to_string),
            }).collect::<Vec<_>>(),
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct UserPlan {
    pub slug: Slug,
    pub name: String,
    pub tenant: Option<Slug>,
    pub department: Option<Slug>,
    pub groups: BTreeSet<Slug>,
    pub traits: BTreeSet<Trait>,
    pub disabled: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EntryPlan {
    pub key: ConfigKey,
    pub scope: Scope,
    /// The plaintext value, checked against its key.
    pub value: Value,
    pub locked: bool,
}

/// A valid document in domain types, ready to apply.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub keys: Vec<KeyDefinition>,
    pub templates: Vec<TemplatePlan>,
    pub tenants: Vec<TenantPlan>,
    pub users: Vec<UserPlan>,
    pub entries: Vec<EntryPlan>,
}

/// Opens `{"encrypted": "…"}` values of sensitive keys: (key name, sealed) → plaintext.
pub type Opener<'a> = &'a dyn Fn(&str, &str) -> Result<Value, String>;

struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            path: path.into(),
            message: message.into(),
        });
    }
}

/// Validates the whole document; returns every problem or the plan.
pub fn validate(doc: &Document, catalog: &Catalog, open: Opener<'_>) -> Result<Plan, Vec<Problem>> {
    let mut problems = Problems(Vec::new());
    if doc.format != FORMAT {
        problems.add(
            "format",
            format!("expected {FORMAT:?}, got {:?}", doc.format),
        );
    }
    let mut plan = Plan::default();

    // Keys: the document's definitions replace the catalog's.
    let mut keys: HashMap<ConfigKey, KeyDefinition> = catalog.keys.clone();
    let mut seen_keys = HashSet::new();
    for (i, k) in doc.keys.iter().enumerate() {
        let path = format!("keys[{i}]");
        if let Ok(name) = ConfigKey::parse(&k.key)
            && !seen_keys.insert(name)
        {
            problems.add(
                format!("{path}.key"),
                format!("key {:?} is defined twice", k.key),
            );
            continue;
        }
        if let Some(def) = key_definition(k, &path, &mut problems, open) {
            keys.insert(def.key.clone(), def.clone());
            plan.keys.push(def);
        }
    }

    // Templates: checked against the keys as the document leaves them.
    let mut templates: HashMap<Slug, Level> = catalog.templates.clone();
    let mut seen_templates = HashSet::new();
    for (i, t) in doc.templates.iter().enumerate() {
        let path = format!("templates[{i}]");
        let Some(template) = template_plan(t, &path, &keys, catalog, &mut problems, open) else {
            continue;
        };
        if !seen_templates.insert(template.name.clone()) {
            problems.add(
                format!("{path}.name"),
                format!("template {:?} is listed twice", t.name),
            );
            continue;
        }
        templates.insert(template.name.clone(), template.level);
        plan.templates.push(template);
    }
    // Skeletons may name department and group templates of this document too.
    for (i, t) in plan.templates.iter().enumerate() {
        let path = format!("templates[{i}]");
        for (j, d) in t.departments.iter().enumerate() {
            follows(
                d.template.as_ref(),
                Level::Department,
                &templates,
                &format!("{path}.departments[{j}].template"),
                &mut problems,
            );
        }
        for (j, g) in t.groups.iter().enumerate() {
            follows(
                g.template.as_ref(),
                Level::Group,
                &templates,
                &format!("{path}.groups[{j}].template"),
                &mut problems,
            );
        }
    }

    // Tenants with their departments and groups.
    let mut tenants = catalog.tenants.clone();
    let mut seen_tenants = HashSet::new();
    let mut plan_templates: Vec<Slug> = Vec::new();
    for (i, t) in doc.tenants.iter().enumerate() {
        let path = format!("tenants[{i}]");
        let Some(tenant_slug) = parse_slug(&t.id, "tenant", &format!("{path}.id"), &mut problems)
        else {
            continue;
        };
        if !seen_tenants.insert(tenant_slug.clone()) {
            problems.add(
                format!("{path}.id"),
                format!("tenant {:?} is listed twice", t.id),
            );
            continue;
        }
        name(&t.name, &format!("{path}.name"), &mut problems);
        let template = match (&t.template, &t.plan) {
            (Some(template), Some(plan)) if template != plan => {
                problems.add(
                    format!("{path}.plan"),
                    "plan is the older name of template; give one of them",
                );
                None
            }
            (Some(name), _) => template_ref(
                name,
                Level::Tenant,
                &templates,
                &format!("{path}.template"),
                &mut problems,
            ),
            // An older document's plan names the template; one not defined yet becomes an
            // empty tenant template, as the plans of a database did when templates came.
            (None, Some(plan)) => {
                match parse_slug(plan, "template", &format!("{path}.plan"), &mut problems) {
                    Some(name) if !templates.contains_key(&name) => {
                        templates.insert(name.clone(), Level::Tenant);
                        plan_templates.push(name.clone());
                        Some(name)
                    }
                    Some(_) => template_ref(
                        plan,
                        Level::Tenant,
                        &templates,
                        &format!("{path}.plan"),
                        &mut problems,
                    ),
                    None => None,
                }
            }
            (None, None) => None,
        };
        let known = tenants.entry(tenant_slug.clone()).or_default();
        let mut tenant = TenantPlan {
            slug: tenant_slug,
            name: t.name.clone(),
            template,
            departments: Vec::new(),
            groups: Vec::new(),
        };
        let mut seen = HashSet::new();
        for (j, d) in t.departments.iter().enumerate() {
            let path = format!("{path}.departments[{j}]");
            if let Some(s) = parse_slug(&d.id, "department", &format!("{path}.id"), &mut problems) {
                if !seen.insert(s.clone()) {
                    problems.add(
                        format!("{path}.id"),
                        format!("department {:?} is listed twice", d.id),
                    );
                }
                name(&d.name, &format!("{path}.name"), &mut problems);
                let template = d.template.as_deref().and_then(|name| {
                    template_ref(
                        name,
                        Level::Department,
                        &templates,
                        &format!("{path}.template"),
                        &mut problems,
                    )
                });
                known.0.insert(s.clone());
                tenant.departments.push(ScopePlan {
                    slug: s,
                    name: d.name.clone(),
                    priority: 0,
                    template,
                });
            }
        }
        let mut seen = HashSet::new();
        for (j, g) in t.groups.iter().enumerate() {
            let path = format!("{path}.groups[{j}]");
            if let Some(s) = parse_slug(&g.id, "group", &format!("{path}.id"), &mut problems) {
                if !seen.insert(s.clone()) {
                    problems.add(
                        format!("{path}.id"),
                        format!("group {:?} is listed twice", g.id),
                    );
                }
                name(&g.name, &format!("{path}.name"), &mut problems);
                let template = g.template.as_deref().and_then(|name| {
                    template_ref(
                        name,
                        Level::Group,
                        &templates,
                        &format!("{path}.template"),
                        &mut problems,
                    )
                });
                known.1.insert(s.clone());
                tenant.groups.push(ScopePlan {
                    slug: s,
                    name: g.name.clone(),
                    priority: g.priority,
                    template,
                });
            }
        }
        plan.tenants.push(tenant);
    }

    for name in plan_templates {
        plan.templates.push(TemplatePlan {
            name,
            description: None,
            level: Level::Tenant,
            entries: Vec::new(),
            departments: Vec::new(),
            groups: Vec::new(),
        });
    }

    // Users.
    let mut users = catalog.users.clone();
    let mut seen_users = HashSet::new();
    for (i, u) in doc.users.iter().enumerate() {
        let path = format!("users[{i}]");
        let Some(user_slug) = parse_slug(&u.id, "user", &format!("{path}.id"), &mut problems)
        else {
            continue;
        };
        if !seen_users.insert(user_slug.clone()) {
            problems.add(
                format!("{path}.id"),
                format!("user {:?} is listed twice", u.id),
            );
            continue;
        }
        name(&u.name, &format!("{path}.name"), &mut problems);
        let tenant = u.tenant.as_deref().and_then(|t| {
            let s = parse_slug(t, "tenant", &format!("{path}.tenant"), &mut problems)?;
            if tenants.contains_key(&s) {
                Some(s)
            } else {
                problems.add(
                    format!("{path}.tenant"),
                    format!("tenant {t:?} does not exist"),
                );
                None
            }
        });
        let scopes = tenant.as_ref().and_then(|t| tenants.get(t));
        let department = u.department.as_deref().and_then(|d| {
            let s = parse_slug(
                d,
                "department",
                &format!("{path}.department"),
                &mut problems,
            )?;
            match (&tenant, scopes) {
                (Some(_), Some((departments, _))) if departments.contains(&s) => Some(s),
                (Some(t), _) => {
                    problems.add(
                        format!("{path}.department"),
                        format!("department {d:?} does not exist in tenant {t}"),
                    );
                    None
                }
                (None, _) => {
                    if u.tenant.is_none() {
                        problems.add(
                            format!("{path}.department"),
                            "a user without a tenant cannot have a department",
                        );
                    }
                    None
                }
            }
        });
        let mut groups = BTreeSet::new();
        for (j, g) in u.groups.iter().enumerate() {
            let gpath = format!("{path}.groups[{j}]");
            let Some(s) = parse_slug(g, "group", &gpath, &mut problems) else {
                continue;
            };
            match (&tenant, scopes) {
                (Some(_), Some((_, known))) if known.contains(&s) => {
                    groups.insert(s);
                }
                (Some(t), _) => {
                    problems.add(gpath, format!("group {g:?} does not exist in tenant {t}"))
                }
                (None, _) => {
                    if u.tenant.is_none() {
                        problems.add(gpath, "a user without a tenant cannot be in groups");
                    }
                }
            }
        }
        let mut traits = BTreeSet::new();
        for (j, t) in u.traits.iter().enumerate() {
            match t.parse::<Trait>() {
                Ok(t) => {
                    traits.insert(t);
                }
                Err(e) => problems.add(format!("{path}.traits[{j}]"), e.to_string()),
            }
        }
        users.insert(user_slug.clone(), tenant.clone());
        plan.users.push(UserPlan {
            slug: user_slug,
            name: u.name.clone(),
            tenant,
            department,
            groups,
            traits,
            disabled: u.disabled,
        });
    }

    // Entries.
    let mut seen_entries = HashSet::new();
    for (i, e) in doc.entries.iter().enumerate() {
        let path = format!("entries[{i}]");
        let level = match e.level.parse::<Level>() {
            Ok(level) => level,
            Err(err) => {
                problems.add(format!("{path}.level"), err.to_string());
                continue;
            }
        };
        let scope = match Scope::from_parts(
            level,
            e.tenant.as_deref(),
            e.department.as_deref(),
            e.group.as_deref(),
            e.user.as_deref(),
        ) {
            Ok(scope) => scope,
            Err(message) => {
                problems.add(path.clone(), message);
                continue;
            }
        };
        if let Some(message) = missing_scope(&scope, &tenants, &users) {
            problems.add(path.clone(), message);
            continue;
        }
        let key = match ConfigKey::parse(&e.key) {
            Ok(key) => key,
            Err(err) => {
                problems.add(format!("{path}.key"), err.to_string());
                continue;
            }
        };
        let Some(def) = keys.get(&key) else {
            problems.add(format!("{path}.key"), format!("key {key} is not defined"));
            continue;
        };
        if !def.allows_level(level) {
            problems.add(
                format!("{path}.level"),
                format!("key {key} cannot be set at the {level} level"),
            );
            continue;
        }
        if !seen_entries.insert((key.clone(), scope.clone())) {
            problems.add(path.clone(), format!("{key} at {scope} is listed twice"));
            continue;
        }
        let Some(value) = plaintext(def, &e.value, &format!("{path}.value"), &mut problems, open)
        else {
            continue;
        };
        if let Err(err) = def.validate(&value) {
            problems.add(format!("{path}.value"), err.to_string());
            continue;
        }
        plan.entries.push(EntryPlan {
            key,
            scope,
            value,
            locked: e.locked,
        });
    }

    if problems.0.is_empty() {
        Ok(plan)
    } else {
        Err(problems.0)
    }
}

/// A template of the document, checked: its name, level, entries (each key defined, allowed at
/// the template's level, its value valid) and skeleton.
fn template_plan(
    t: &TemplateDoc,
    path: &str,
    keys: &HashMap<ConfigKey, KeyDefinition>,
    catalog: &Catalog,
    problems: &mut Problems,
    open: Opener<'_>,
) -> Option<TemplatePlan> {
    let before = problems.0.len();
    let parsed_name = parse_slug(&t.name, "template", &format!("{path}.name"), problems);
    let level = match t.target_level.parse::<Level>() {
        Ok(level @ (Level::Tenant | Level::Department | Level::Group)) => Some(level),
        _ => {
            problems.add(
                format!("{path}.target_level"),
                format!(
                    "target_level {:?} is not valid: expected tenant, department or group",
                    t.target_level
                ),
            );
            None
        }
    };
    let (template_name, level) = (parsed_name?, level?);
    if let Some(stored) = catalog.templates.get(&template_name)
        && *stored != level
    {
        problems.add(
            format!("{path}.target_level"),
            format!("template {template_name} is a {stored} template; its level cannot change"),
        );
    }
    if let Some(description) = &t.description
        && description.chars().count() > 2000
    {
        problems.add(
            format!("{path}.description"),
            "description is longer than 2000 characters",
        );
    }
    let mut entries: Vec<TemplateEntryPlan> = Vec::new();
    let mut seen = HashSet::new();
    for (j, e) in t.entries.iter().enumerate() {
        let path = format!("{path}.entries[{j}]");
        let key = match ConfigKey::parse(&e.key) {
            Ok(key) => key,
            Err(err) => {
                problems.add(format!("{path}.key"), err.to_string());
                continue;
            }
        };
        let Some(def) = keys.get(&key) else {
            problems.add(format!("{path}.key"), format!("key {key} is not defined"));
            continue;
        };
        if !def.allows_level(level) {
            problems.add(
                format!("{path}.key"),
                format!(
                    "key {key} cannot be set at the {level} level, so not in a {level} template"
                ),
            );
            continue;
        }
        if !seen.insert(key.clone()) {
            problems.add(format!("{path}.key"), format!("key {key} is listed twice"));
            continue;
        }
        let Some(value) = plaintext(def, &e.value, &format!("{path}.value"), problems, open) else {
            continue;
        };
        if let Err(err) = def.validate(&value) {
            problems.add(format!("{path}.value"), err.to_string());
            continue;
        }
        entries.push(TemplateEntryPlan {
            key,
            value,
            locked: e.locked,
        });
    }
    entries.sort_by(|a, b| a.key.cmp(&b.key));
    if level != Level::Tenant && !(t.departments.is_empty() && t.groups.is_empty()) {
        problems.add(
            path.to_owned(),
            "only tenant templates carry departments and groups",
        );
    }
    let mut skeleton = |items: Vec<(String, String, i64, Option<String>)>, what: &'static str| {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for (j, (id, display, priority, template)) in items.into_iter().enumerate() {
            let path = format!("{path}.{what}s[{j}]");
            let Some(slug) = parse_slug(&id, what, &format!("{path}.id"), problems) else {
                continue;
            };
            if !seen.insert(slug.clone()) {
                problems.add(
                    format!("{path}.id"),
                    format!("{what} {id:?} is listed twice"),
                );
                continue;
            }
            name(&display, &format!("{path}.name"), problems);
            let template = template
                .as_deref()
                .and_then(|t| parse_slug(t, "template", &format!("{path}.template"), problems));
            out.push(ScopePlan {
                slug,
                name: display,
                priority,
                template,
            });
        }
        out
    };
    let departments = skeleton(
        t.departments
            .iter()
            .map(|d| (d.id.clone(), d.name.clone(), 0, d.template.clone()))
            .collect(),
        "department",
    );
    let groups = skeleton(
        t.groups
            .iter()
            .map(|g| (g.id.clone(), g.name.clone(), g.priority, g.template.clone()))
            .collect(),
        "group",
    );
    (problems.0.len() == before).then(|| TemplatePlan {
        name: template_name,
        description: t.description.clone().filter(|d| !d.is_empty()),
        level,
        entries,
        departments,
        groups,
    })
}

/// The template `name` a scope of `level` follows: it must exist and be of that level.
fn template_ref(
    name: &str,
    level: Level,
    templates: &HashMap<Slug, Level>,
    path: &str,
    problems: &mut Problems,
) -> Option<Slug> {
    let slug = parse_slug(name, "template", path, problems)?;
    follows(Some(&slug), level, templates, path, problems).then_some(slug)
}

/// Whether following `template` (if any) is right for a scope of `level`; a problem if not.
fn follows(
    template: Option<&Slug>,
    level: Level,
    templates: &HashMap<Slug, Level>,
    path: &str,
    problems: &mut Problems,
) -> bool {
    let Some(template) = template else {
        return true;
    };
    match templates.get(template) {
        None => {
            problems.add(path, format!("template {template} does not exist"));
            false
        }
        Some(other) if *other != level => {
            problems.add(
                path,
                format!("template {template} is a {other} template; a {level} follows a {level} template"),
            );
            false
        }
        Some(_) => true,
    }
}

fn key_definition(
    k: &KeyDoc,
    path: &str,
    problems: &mut Problems,
    open: Opener<'_>,
) -> Option<KeyDefinition> {
    let before = problems.0.len();
    let key = ConfigKey::parse(&k.key)
        .map_err(|e| problems.add(format!("{path}.key"), e.to_string()))
        .ok();
    let key_type: Option<KeyType> = serde_json::from_value(Value::String(k.key_type.clone()))
        .map_err(|_| {
            problems.add(
                format!("{path}.type"),
                format!(
                    "type {:?} is not valid: expected string, integer, float, boolean, json or enum",
                    k.key_type
                ),
            )
        })
        .ok();
    let mut levels = Vec::new();
    for (j, l) in k.levels.iter().flatten().enumerate() {
        match l.parse::<Level>() {
            Ok(level) => levels.push(level),
            Err(e) => problems.add(format!("{path}.levels[{j}]"), e.to_string()),
        }
    }
    let (key, key_type) = (key?, key_type?);
    if problems.0.len() > before {
        return None;
    }
    levels.sort();
    levels.dedup();
    let mut def = KeyDefinition::new(key, key_type);
    def.description = k.description.clone().unwrap_or_default();
    def.category = k.category.clone().unwrap_or_default();
    if k.levels.is_some() {
        def.levels = levels;
    }
    if let Some(sensitive) = k.sensitive {
        def.sensitive = sensitive;
    }
    def.user_editable = k.user_editable.unwrap_or(false);
    def.constraints = Constraints {
        min: k.min.as_ref().and_then(Number::as_f64),
        max: k.max.as_ref().and_then(Number::as_f64),
        max_length: k.max_length,
        pattern: k.pattern.clone(),
        options: k.options.clone().unwrap_or_default(),
    };
    if let Some(default) = &k.default {
        def.default = Some(plaintext(
            &def,
            default,
            &format!("{path}.default"),
            problems,
            open,
        )?);
    }
    if let Err(e) = def.check() {
        let field = match e.field {
            "min" | "max" | "max_length" | "pattern" | "options" | "levels" | "default" => e.field,
            _ => "key",
        };
        problems.add(format!("{path}.{field}"), e.message);
        return None;
    }
    Some(def)
}

/// The value itself, or for a sensitive key given as `{"encrypted": "…"}`, its plaintext.
fn plaintext(
    def: &KeyDefinition,
    value: &Value,
    path: &str,
    problems: &mut Problems,
    open: Opener<'_>,
) -> Option<Value> {
    match sealed_form(value) {
        Some(sealed) if def.sensitive => match open(def.key.as_str(), sealed) {
            Ok(v) => Some(v),
            Err(message) => {
                problems.add(path, message);
                None
            }
        },
        _ => Some(value.clone()),
    }
}

/// `{"encrypted": "…"}`: how documents carry sealed secrets.
pub fn sealed_form(value: &Value) -> Option<&str> {
    match value {
        Value::Object(map) if map.len() == 1 => map.get("encrypted")?.as_str(),
        _ => None,
    }
}

fn parse_slug(
    value: &str,
    what: &'static str,
    path: &str,
    problems: &mut Problems,
) -> Option<Slug> {
    Slug::parse(what, value)
        .map_err(|e| problems.add(path, e.to_string()))
        .ok()
}

fn name(value: &str, path: &str, problems: &mut Problems) {
    if value.trim().is_empty() {
        problems.add(path, "name is empty");
    } else if value.chars().count() > 200 {
        problems.add(path, "name is longer than 200 characters");
    }
}

fn missing_scope(
    scope: &Scope,
    tenants: &HashMap<Slug, (HashSet<Slug>, HashSet<Slug>)>,
    users: &HashMap<Slug, Option<Slug>>,
) -> Option<String> {
    let tenant = |t: &Slug| {
        tenants
            .get(t)
            .ok_or_else(|| format!("tenant {t} does not exist"))
    };
    let result = match scope {
        Scope::Global => Ok(()),
        Scope::Tenant { tenant: t } => tenant(t).map(|_| ()),
        Scope::Department {
            tenant: t,
            department,
        } => tenant(t).and_then(|(departments, _)| {
            if departments.contains(department) {
                Ok(())
            } else {
                Err(format!("department {t}/{department} does not exist"))
            }
        }),
        Scope::Group { tenant: t, group } => tenant(t).and_then(|(_, groups)| {
            if groups.contains(group) {
                Ok(())
            } else {
                Err(format!("group {t}/{group} does not exist"))
            }
        }),
        Scope::User { user } => {
            if users.contains_key(user) {
                Ok(())
            } else {
                Err(format!("user {user} does not exist"))
            }
        }
    };
    result.err()
}

/// A key definition in document form (for export).
pub fn key_doc(def: &KeyDefinition, default: Option<Value>) -> KeyDoc {
    let number = |f: f64| {
        if f.fract() == 0.0 && f.abs() < 9.0e15 {
            Number::from(f as i64)
        } else {
            Number::from_f64(f).unwrap_or_else(|| Number::from(0))
        }
    };
    let c = &def.constraints;
    KeyDoc {
        key: def.key.to_string(),
        key_type: def.key_type.as_str().to_owned(),
        options: (!c.options.is_empty()).then(|| c.options.clone()),
        min: c.min.map(number),
        max: c.max.map(number),
        max_length: c.max_length,
        pattern: c.pattern.clone(),
        default,
        description: (!def.description.is_empty()).then(|| def.description.clone()),
        category: (!def.category.is_empty()).then(|| def.category.clone()),
        levels: Some(def.levels.iter().map(|l| l.as_str().to_owned()).collect()),
        sensitive: Some(def.sensitive),
        user_editable: Some(def.user_editable),
    }
}

mod lookup;
mod visibility;

pub use lookup::{UserLookupError, find_user};
pub use visibility::user_target;

#[cfg(test)]
mod tests;
