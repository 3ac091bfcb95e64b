//! Planning a `.env` import into one scope: which key each variable sets, with what value, and
//! whether that can be written.
//!
//! Rule: a variable named in `ignore` is ignored; otherwise its key is the one `map` names, else
//! the registry key whose name, upper-cased with `.` as `_`, equals the variable's name (after
//! `strip_prefix`), else, with `create_keys`, a new key named by the reverse rule, typed by its
//! value and sensitive by its name. When several variables set one key the last one counts (as
//! when a shell reads the file) and the earlier ones are `duplicate`. The text becomes a value of
//! the key's type and must pass the key's validation and allowed levels. A value equal to the
//! scope's entry is `unchanged`; one under a more general lock is still written but reported
//! `locked_above`. A plan with any row in error writes nothing; its hash covers everything the
//! apply would write and the versions it would write over, so a plan that changed since the dry
//! run is refused instead of applied.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::parse::{Parsed, Variable};
use crate::domain::document::Problem;
use crate::domain::key::{KeyDefinition, KeyType};
use crate::domain::name::ConfigKey;
use crate::domain::scope::Scope;
use crate::domain::value::MASK;

/// How variable names become keys (API.md ".env import").
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// Removed from the front of a name before it is matched (`APP_`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strip_prefix: Option<String>,
    /// Variable name → key name, ahead of matching by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub map: BTreeMap<String, String>,
    /// Variable names not to import.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<String>,
    /// Create a key for a variable no key matches (super admins only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub create_keys: bool,
}

/// A mapping that cannot be used; `field` names where (`mapping.map.NAME`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct MappingError {
    pub field: String,
    pub message: String,
}

impl Mapping {
    /// The `map` targets as keys; the first one that is not a key name is an error.
    pub fn check(&self) -> Result<BTreeMap<&str, ConfigKey>, MappingError> {
        let mut targets = BTreeMap::new();
        for (name, key) in &self.map {
            let key = ConfigKey::parse(key).map_err(|e| MappingError {
                field: format!("mapping.map.{name}"),
                message: e.to_string(),
            })?;
            targets.insert(name.as_str(), key);
        }
        if self.strip_prefix.as_deref() == Some("") {
            return Err(MappingError {
                field: "mapping.strip_prefix".into(),
                message: "must not be empty (leave it out instead)".into(),
            });
        }
        Ok(targets)
    }
}

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowStatus {
    Create,
    Update,
    Unchanged,
    Invalid,
    UnknownKey,
    LevelNotAllowed,
    LockedAbove,
    Ignored,
    Duplicate,
    ParseError,
}

impl RowStatus {
    /// Rows that stop the whole import.
    pub fn is_error(self) -> bool {
        matches!(
            self,
            RowStatus::Invalid
                | RowStatus::UnknownKey
                | RowStatus::LevelNotAllowed
                | RowStatus::ParseError
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RowStatus::Create => "create",
            RowStatus::Update => "update",
            RowStatus::Unchanged => "unchanged",
            RowStatus::Invalid => "invalid",
            RowStatus::UnknownKey => "unknown_key",
            RowStatus::LevelNotAllowed => "level_not_allowed",
            RowStatus::LockedAbove => "locked_above",
            RowStatus::Ignored => "ignored",
            RowStatus::Duplicate => "duplicate",
            RowStatus::ParseError => "parse_error",
        }
    }
}

/// One line of the file as the plan sees it. Sensitive values are masked.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub line: usize,
    /// The variable's name (none when the line could not be read).
    pub name: Option<String>,
    pub key: Option<String>,
    pub status: RowStatus,
    /// The scope's entry before the import.
    pub old: Option<Value>,
    /// The value the import writes.
    pub new: Option<Value>,
    pub message: Option<String>,
}

/// The scope's own entry of a key as it is now.
#[derive(Debug, Clone, PartialEq)]
pub struct Current {
    pub value: Value,
    pub version: i64,
}

/// What the plan is made against: the scope, the key registry, the scope's own entries and
/// the more general locks over it (key → the scope that locks it, as text).
pub struct Target<'a> {
    pub scope: &'a Scope,
    pub keys: &'a [KeyDefinition],
    pub current: &'a HashMap<ConfigKey, Current>,
    pub locked_above: &'a HashMap<ConfigKey, String>,
}

/// One entry the import writes; `expect_version` is the entry's version when planned (0: none).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnvWrite {
    pub key: ConfigKey,
    pub value: Value,
    pub expect_version: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EnvPlan {
    pub rows: Vec<Row>,
    /// Keys to create first (with `create_keys`).
    pub new_keys: Vec<KeyDefinition>,
    pub writes: Vec<EnvWrite>,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub errors: Vec<Problem>,
    pub plan_hash: String,
}

/// The key name a variable stands for by the matching rule, reversed: `FAX_BACKEND_PROVIDER`
/// → `fax.backend.provider`.
pub fn key_name_for(variable: &str) -> String {
    variable.to_lowercase().replace(['_', '-'], ".")
}

/// The variable name a key matches: `fax.backend.provider` → `FAX_BACKEND_PROVIDER`.
pub fn variable_name_for(key: &ConfigKey) -> String {
    key.as_str().to_uppercase().replace('.', "_")
}

/// `text` as a value of `key_type`. Booleans also read the usual `.env` spellings (`1`, `yes`,
/// `on`, any case); text that does not fit is passed on for validation to refuse by type.
pub fn value_for(key_type: KeyType, text: &str) -> Result<Value, String> {
    if key_type == KeyType::Boolean {
        return Ok(match text.trim().to_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Value::Bool(true),
            "false" | "no" | "off" | "0" => Value::Bool(false),
            _ => Value::String(text.to_owned()),
        });
    }
    key_type.value_from_text(text)
}

/// The type a new key gets from its value: boolean, integer, float, JSON array or object, else
/// string.
pub fn infer(text: &str) -> (KeyType, Value) {
    let trimmed = text.trim();
    if trimmed.eq_ignore_ascii_case("true") || trimmed.eq_ignore_ascii_case("false") {
        return (
            KeyType::Boolean,
            Value::Bool(trimmed.eq_ignore_ascii_case("true")),
        );
    }
    if let Ok(i) = trimmed.parse::<i64>() {
        return (KeyType::Integer, Value::from(i));
    }
    if trimmed.contains('.')
        && let Some(n) = trimmed
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
    {
        return (KeyType::Float, Value::Number(n));
    }
    if (trimmed.starts_with('{') || trimmed.starts_with('['))
        && let Ok(json) = serde_json::from_str::<Value>(trimmed)
    {
        return (KeyType::Json, json);
    }
    (KeyType::String, Value::String(text.to_owned()))
}

/// Where a variable's value goes, before the value is looked at.
enum Destination<'a> {
    Ignored,
    Existing(&'a KeyDefinition),
    New(ConfigKey),
    Unknown(String),
}

/// Plans importing `parsed` into `target` with `mapping`.
pub fn plan(
    parsed: &Parsed,
    mapping: &Mapping,
    target: &Target<'_>,
) -> Result<EnvPlan, MappingError> {
    let mapped = mapping.check()?;
    let by_key: HashMap<&ConfigKey, &KeyDefinition> =
        target.keys.iter().map(|d| (&d.key, d)).collect();
    let mut by_variable: HashMap<String, Vec<&KeyDefinition>> = HashMap::new();
    for def in target.keys {
        by_variable
            .entry(variable_name_for(&def.key))
            .or_default()
            .push(def);
    }
    let destination = |v: &Variable| -> Destination<'_> {
        if mapping.ignore.iter().any(|n| n == &v.name) {
            return Destination::Ignored;
        }
        if let Some(key) = mapped.get(v.name.as_str()) {
            return match by_key.get(key) {
                Some(def) => Destination::Existing(def),
                None if mapping.create_keys => Destination::New(key.clone()),
                None => Destination::Unknown(format!(
                    "the mapping sends {} to {key}, which is not a key",
                    v.name
                )),
            };
        }
        let name = mapping
            .strip_prefix
            .as_deref()
            .and_then(|p| v.name.strip_prefix(p))
            .unwrap_or(&v.name);
        let normalised = name.to_uppercase().replace(['.', '-'], "_");
        match by_variable.get(&normalised).map(Vec::as_slice) {
            Some([def]) => Destination::Existing(def),
            Some(several) => Destination::Unknown(format!(
                "{} matches {}; map it to one of them",
                v.name,
                several
                    .iter()
                    .map(|d| d.key.as_str())
                    .collect::<Vec<_>>()
                    .join(" and ")
            )),
            None => match ConfigKey::parse(&key_name_for(name)) {
                Ok(key) if mapping.create_keys => Destination::New(key),
                Ok(key) => Destination::Unknown(format!(
                    "no key {key}: map {} to a key, ignore it, or create keys",
                    v.name
                )),
                Err(e) => Destination::Unknown(format!(
                    "{} names no key and cannot name a new one ({e}): map it or ignore it",
                    v.name
                )),
            },
        }
    };

    let destinations: Vec<Destination<'_>> = parsed.variables.iter().map(destination).collect();
    // The last variable for each key counts.
    let mut last_for_key: HashMap<&str, usize> = HashMap::new();
    for (i, d) in destinations.iter().enumerate() {
        match d {
            Destination::Existing(def) => {
                last_for_key.insert(def.key.as_str(), i);
            }
            Destination::New(key) => {
                last_for_key.insert(key.as_str(), i);
            }
            Destination::Ignored | Destination::Unknown(_) => {}
        }
    }

    let level = target.scope.level();
    let mut result = EnvPlan {
        rows: Vec::new(),
        new_keys: Vec::new(),
        writes: Vec::new(),
        created: 0,
        updated: 0,
        unchanged: 0,
        errors: Vec::new(),
        plan_hash: String::new(),
    };
    let mut rows: Vec<Row> = parsed
        .problems
        .iter()
        .map(|p| Row {
            line: p.line,
            name: None,
            key: None,
            status: RowStatus::ParseError,
            old: None,
            new: None,
            message: Some(p.message.clone()),
        })
        .collect();
    for (i, (variable, destination)) in parsed.variables.iter().zip(&destinations).enumerate() {
        let mut row = Row {
            line: variable.line,
            name: Some(variable.name.clone()),
            key: None,
            status: RowStatus::Ignored,
            old: None,
            new: None,
            message: None,
        };
        let created;
        let def = match destination {
            Destination::Ignored => {
                row.message = Some("ignored by the mapping".into());
                rows.push(row);
                continue;
            }
            Destination::Unknown(message) => {
                row.status = RowStatus::UnknownKey;
                row.message = Some(message.clone());
                rows.push(row);
                continue;
            }
            Destination::Existing(def) => *def,
            Destination::New(key) => {
                let (key_type, _) = infer(&variable.value);
                created = KeyDefinition::new(key.clone(), key_type);
                &created
            }
        };
        row.key = Some(def.key.to_string());
        let mask = |value: Value| if def.sensitive { json!(MASK) } else { value };
        if last_for_key.get(def.key.as_str()) != Some(&i) {
            let last = &parsed.variables[last_for_key[def.key.as_str()]];
            row.status = RowStatus::Duplicate;
            row.message = Some(format!(
                "line {} also sets {}; the last one counts",
                last.line, def.key
            ));
            rows.push(row);
            continue;
        }
        if !def.allows_level(level) {
            row.status = RowStatus::LevelNotAllowed;
            row.message = Some(format!(
                "{} cannot be set at the {level} level (allowed: {})",
                def.key,
                def.levels
                    .iter()
                    .map(|l| l.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            rows.push(row);
            continue;
        }
        let value = match value_for(def.key_type, &variable.value) {
            Ok(value) => value,
            Err(message) => {
                row.status = RowStatus::Invalid;
                row.message = Some(format!("{}: {message}", def.key));
                rows.push(row);
                continue;
            }
        };
        if let Err(e) = def.validate(&value) {
            row.status = RowStatus::Invalid;
            row.message = Some(format!("{}: {e}", def.key));
            rows.push(row);
            continue;
        }
        let current = target.current.get(&def.key);
        row.old = current.map(|c| mask(c.value.clone()));
        row.new = Some(mask(value.clone()));
        if current.is_some_and(|c| c.value == value) {
            row.status = RowStatus::Unchanged;
            result.unchanged += 1;
            rows.push(row);
            continue;
        }
        if matches!(destination, Destination::New(_)) {
            row.message = Some(format!(
                "creates the key {} ({}{})",
                def.key,
                def.key_type.as_str(),
                if def.sensitive { ", sensitive" } else { "" }
            ));
            result.new_keys.push(def.clone());
        }
        row.status = if current.is_some() {
            result.updated += 1;
            RowStatus::Update
        } else {
            result.created += 1;
            RowStatus::Create
        };
        if let Some(lock) = target.locked_above.get(&def.key) {
            row.status = RowStatus::LockedAbove;
            row.message = Some(format!(
                "locked at {lock}: stored here, but without effect while that lock holds"
            ));
        }
        result.writes.push(EnvWrite {
            key: def.key.clone(),
            value,
            expect_version: current.map_or(0, |c| c.version),
        });
        rows.push(row);
    }
    rows.sort_by_key(|r| r.line);
    result.errors = rows
        .iter()
        .filter(|r| r.status.is_error())
        .map(|r| Problem {
            path: format!("line {}", r.line),
            message: r.message.clone().unwrap_or_default(),
        })
        .collect();
    result.rows = rows;
    result.plan_hash = plan_hash(target.scope, &result.new_keys, &result.writes);
    Ok(result)
}

/// SHA-256 (hex) of what an apply writes: the scope, the keys it creates, and each entry's
/// value with the version it replaces.
fn plan_hash(scope: &Scope, new_keys: &[KeyDefinition], writes: &[EnvWrite]) -> String {
    let content = json!({
        "scope": scope.to_string(),
        "new_keys": new_keys,
        "writes": writes,
    });
    let digest = Sha256::digest(content.to_string().as_bytes());
    digest.iter().fold(String::with_capacity(64), |mut hex, b| {
        use std::fmt::Write;
        let _ = write!(hex, "{b:02x}");
        hex
    })
}

#[cfg(test)]
mod tests;
