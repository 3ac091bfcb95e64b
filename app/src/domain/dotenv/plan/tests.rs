use serde_json::json;

use super::*;
use crate::domain::dotenv::parse::parse;
use crate::domain::key::Constraints;
use crate::domain::level::Level;
use crate::domain::name::Slug;

fn key(name: &str, key_type: KeyType) -> KeyDefinition {
    KeyDefinition::new(ConfigKey::parse(name).unwrap(), key_type)
}

fn registry() -> Vec<KeyDefinition> {
    let mut provider = key("fax.backend.provider", KeyType::Enum);
    provider.constraints = Constraints {
        options: vec!["phaxio".into(), "sip".into()],
        ..Constraints::default()
    };
    let mut uploads = key("uploads.max_size_mb", KeyType::Integer);
    uploads.constraints = Constraints {
        min: Some(1.0),
        max: Some(100.0),
        ..Constraints::default()
    };
    uploads.levels = vec![Level::Global, Level::Tenant];
    vec![
        provider,
        uploads,
        key("fax.enabled", KeyType::Boolean),
        key("fax.api_token", KeyType::String),
        key("uploads.allowed_types", KeyType::Json),
        key("ui.ratio", KeyType::Float),
    ]
}

fn tenant() -> Scope {
    Scope::Tenant {
        tenant: Slug::parse("tenant", "mercy").unwrap(),
    }
}

struct Given {
    scope: Scope,
    keys: Vec<KeyDefinition>,
    current: HashMap<ConfigKey, Current>,
    locked_above: HashMap<ConfigKey, String>,
}

impl Given {
    fn new() -> Self {
        Given {
            scope: tenant(),
            keys: registry(),
            current: HashMap::new(),
            locked_above: HashMap::new(),
        }
    }

    fn with_entry(mut self, name: &str, value: Value, version: i64) -> Self {
        self.current
            .insert(ConfigKey::parse(name).unwrap(), Current { value, version });
        self
    }

    fn plan(&self, text: &str, mapping: &Mapping) -> EnvPlan {
        plan(
            &parse(text),
            mapping,
            &Target {
                scope: &self.scope,
                keys: &self.keys,
                current: &self.current,
                locked_above: &self.locked_above,
            },
        )
        .unwrap()
    }
}

fn statuses(plan: &EnvPlan) -> Vec<(usize, RowStatus)> {
    plan.rows.iter().map(|r| (r.line, r.status)).collect()
}

#[test]
fn names_match_keys_upper_cased_with_underscores() {
    let plan = Given::new().plan(
        "FAX_BACKEND_PROVIDER=sip\nfax_enabled=yes\nUPLOADS_MAX_SIZE_MB=30\n",
        &Mapping::default(),
    );
    assert_eq!(
        statuses(&plan),
        vec![
            (1, RowStatus::Create),
            (2, RowStatus::Create),
            (3, RowStatus::Create)
        ]
    );
    let writes: Vec<(&str, &Value)> = plan
        .writes
        .iter()
        .map(|w| (w.key.as_str(), &w.value))
        .collect();
    assert_eq!(
        writes,
        vec![
            ("fax.backend.provider", &json!("sip")),
            ("fax.enabled", &json!(true)),
            ("uploads.max_size_mb", &json!(30)),
        ]
    );
    assert_eq!((plan.created, plan.updated, plan.unchanged), (3, 0, 0));
    assert!(plan.errors.is_empty());
}

#[test]
fn values_take_their_keys_types() {
    let plan = Given::new().plan(
        "UPLOADS_ALLOWED_TYPES=[\"pdf\",\"png\"]\nUI_RATIO=1.5\nFAX_ENABLED=0\n",
        &Mapping::default(),
    );
    let values: Vec<&Value> = plan.writes.iter().map(|w| &w.value).collect();
    assert_eq!(
        values,
        vec![&json!(["pdf", "png"]), &json!(1.5), &json!(false)]
    );
}

#[test]
fn a_value_that_does_not_fit_is_invalid_and_names_the_key_and_type() {
    let plan = Given::new().plan(
        "UPLOADS_MAX_SIZE_MB=lots\nFAX_BACKEND_PROVIDER=fax-o-matic\nUPLOADS_ALLOWED_TYPES=pdf\nUI_RATIO=500\nUPLOADS_MAX_SIZE_MB_=1",
        &Mapping {
            ignore: vec!["UPLOADS_MAX_SIZE_MB_".into()],
            ..Mapping::default()
        },
    );
    let rows: Vec<(RowStatus, &str)> = plan
        .rows
        .iter()
        .map(|r| (r.status, r.message.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(rows[0].0, RowStatus::Invalid);
    assert_eq!(
        rows[0].1,
        "uploads.max_size_mb: expected integer, got \"lots\""
    );
    assert_eq!(rows[1].0, RowStatus::Invalid);
    assert!(
        rows[1]
            .1
            .starts_with("fax.backend.provider: expected one of")
    );
    assert_eq!(rows[2].0, RowStatus::Invalid);
    assert!(rows[2].1.contains("not valid JSON"), "{}", rows[2].1);
    assert_eq!(rows[3].0, RowStatus::Create);
    assert_eq!(rows[4].0, RowStatus::Ignored);
    assert_eq!(
        plan.errors
            .iter()
            .map(|p| p.path.as_str())
            .collect::<Vec<_>>(),
        vec!["line 1", "line 2", "line 3"]
    );
}

#[test]
fn strip_prefix_and_explicit_map() {
    let plan = Given::new().plan(
        "APP_FAX_ENABLED=true\nPROVIDER=phaxio\nAPP_UI_RATIO=2.0\n",
        &Mapping {
            strip_prefix: Some("APP_".into()),
            map: BTreeMap::from([("PROVIDER".into(), "fax.backend.provider".into())]),
            ..Mapping::default()
        },
    );
    let keys: Vec<Option<&str>> = plan.rows.iter().map(|r| r.key.as_deref()).collect();
    assert_eq!(
        keys,
        vec![
            Some("fax.enabled"),
            Some("fax.backend.provider"),
            Some("ui.ratio")
        ]
    );
    assert!(plan.errors.is_empty());
}

#[test]
fn unknown_names_are_errors_that_say_what_to_do() {
    let plan = Given::new().plan(
        "LEGACY_FLAG=1\nMAPPED=x\n",
        &Mapping {
            map: BTreeMap::from([("MAPPED".into(), "no.such.key".into())]),
            ..Mapping::default()
        },
    );
    assert_eq!(
        statuses(&plan),
        vec![(1, RowStatus::UnknownKey), (2, RowStatus::UnknownKey)]
    );
    assert_eq!(
        plan.rows[0].message.as_deref(),
        Some("no key legacy.flag: map LEGACY_FLAG to a key, ignore it, or create keys")
    );
    assert_eq!(
        plan.rows[1].message.as_deref(),
        Some("the mapping sends MAPPED to no.such.key, which is not a key")
    );
    assert_eq!(plan.errors.len(), 2);
}

#[test]
fn create_keys_infers_type_and_sensitivity() {
    let plan = Given::new().plan(
        "LEGACY_RETRIES=3\nLEGACY_MODE=fast\nSMTP_PASSWORD=hunter2\nLEGACY_ON=TRUE\nLEGACY_LIST=[1,2]\nLEGACY_RATIO=0.25\n",
        &Mapping {
            create_keys: true,
            ..Mapping::default()
        },
    );
    let created: Vec<(&str, KeyType, bool)> = plan
        .new_keys
        .iter()
        .map(|d| (d.key.as_str(), d.key_type, d.sensitive))
        .collect();
    assert_eq!(
        created,
        vec![
            ("legacy.retries", KeyType::Integer, false),
            ("legacy.mode", KeyType::String, false),
            ("smtp.password", KeyType::String, true),
            ("legacy.on", KeyType::Boolean, false),
            ("legacy.list", KeyType::Json, false),
            ("legacy.ratio", KeyType::Float, false),
        ]
    );
    // The secret's value never shows in a row.
    let secret = &plan.rows[2];
    assert_eq!(secret.new, Some(json!(MASK)));
    assert!(!format!("{:?}", plan.rows).contains("hunter2"));
    assert_eq!(plan.writes[2].value, json!("hunter2"));
}

#[test]
fn ambiguous_names_must_be_mapped() {
    let mut given = Given::new();
    given
        .keys
        .push(key("fax.backend_provider", KeyType::String));
    let plan = given.plan("FAX_BACKEND_PROVIDER=sip", &Mapping::default());
    assert_eq!(plan.rows[0].status, RowStatus::UnknownKey);
    assert!(
        plan.rows[0]
            .message
            .as_deref()
            .unwrap()
            .contains("fax.backend.provider and fax.backend_provider")
    );
}

#[test]
fn the_last_duplicate_counts_and_the_earlier_are_reported() {
    let plan = Given::new().plan(
        "FAX_ENABLED=true\nFAX_ENABLED=false\nAPP_FAX_ENABLED=true\n",
        &Mapping {
            strip_prefix: Some("APP_".into()),
            ..Mapping::default()
        },
    );
    assert_eq!(
        statuses(&plan),
        vec![
            (1, RowStatus::Duplicate),
            (2, RowStatus::Duplicate),
            (3, RowStatus::Create)
        ]
    );
    assert_eq!(
        plan.rows[0].message.as_deref(),
        Some("line 3 also sets fax.enabled; the last one counts")
    );
    assert_eq!(plan.writes.len(), 1);
    assert_eq!(plan.writes[0].value, json!(true));
    assert!(plan.errors.is_empty());
}

#[test]
fn levels_the_key_does_not_allow_are_refused() {
    let mut given = Given::new();
    given.scope = Scope::Department {
        tenant: Slug::parse("tenant", "mercy").unwrap(),
        department: Slug::parse("department", "medical").unwrap(),
    };
    let plan = given.plan("UPLOADS_MAX_SIZE_MB=20", &Mapping::default());
    assert_eq!(plan.rows[0].status, RowStatus::LevelNotAllowed);
    assert_eq!(
        plan.rows[0].message.as_deref(),
        Some("uploads.max_size_mb cannot be set at the department level (allowed: global, tenant)")
    );
}

#[test]
fn unchanged_update_and_locked_above() {
    let mut given = Given::new()
        .with_entry("fax.enabled", json!(true), 3)
        .with_entry("fax.backend.provider", json!("phaxio"), 7)
        .with_entry("fax.api_token", json!("old-secret"), 2);
    given
        .locked_above
        .insert(ConfigKey::parse("ui.ratio").unwrap(), "global".into());
    let plan = given.plan(
        "FAX_ENABLED=true\nFAX_BACKEND_PROVIDER=sip\nUI_RATIO=2\nFAX_API_TOKEN=new-secret\n",
        &Mapping::default(),
    );
    assert_eq!(
        statuses(&plan),
        vec![
            (1, RowStatus::Unchanged),
            (2, RowStatus::Update),
            (3, RowStatus::LockedAbove),
            (4, RowStatus::Update)
        ]
    );
    assert_eq!(plan.rows[1].old, Some(json!("phaxio")));
    assert_eq!(plan.rows[1].new, Some(json!("sip")));
    assert_eq!(
        plan.rows[2].message.as_deref(),
        Some("locked at global: stored here, but without effect while that lock holds")
    );
    assert_eq!(
        (plan.rows[3].old.clone(), plan.rows[3].new.clone()),
        (Some(json!(MASK)), Some(json!(MASK)))
    );
    assert_eq!((plan.created, plan.updated, plan.unchanged), (1, 2, 1));
    let versions: Vec<(&str, i64)> = plan
        .writes
        .iter()
        .map(|w| (w.key.as_str(), w.expect_version))
        .collect();
    assert_eq!(
        versions,
        vec![
            ("fax.backend.provider", 7),
            ("ui.ratio", 0),
            ("fax.api_token", 2)
        ]
    );
}

#[test]
fn parse_problems_are_rows_in_error() {
    let plan = Given::new().plan("FAX_ENABLED=true\nnot an assignment\n", &Mapping::default());
    assert_eq!(
        statuses(&plan),
        vec![(1, RowStatus::Create), (2, RowStatus::ParseError)]
    );
    assert_eq!(plan.errors.len(), 1);
    assert_eq!(plan.errors[0].path, "line 2");
}

#[test]
fn the_hash_changes_with_what_would_be_written_and_only_then() {
    let text = "FAX_BACKEND_PROVIDER=sip\n";
    let first = Given::new().plan(text, &Mapping::default());
    let again = Given::new().plan(text, &Mapping::default());
    assert_eq!(first.plan_hash, again.plan_hash);
    assert_eq!(first.plan_hash.len(), 64);
    // A comment or a reordering writes the same: same hash.
    let commented = Given::new().plan("# c\nFAX_BACKEND_PROVIDER=sip # x\n", &Mapping::default());
    assert_eq!(first.plan_hash, commented.plan_hash);
    // Another value, another scope's version, another scope: another hash.
    let other_value = Given::new().plan("FAX_BACKEND_PROVIDER=phaxio\n", &Mapping::default());
    assert_ne!(first.plan_hash, other_value.plan_hash);
    let moved = Given::new()
        .with_entry("fax.backend.provider", json!("phaxio"), 1)
        .plan(text, &Mapping::default());
    let moved_again = Given::new()
        .with_entry("fax.backend.provider", json!("phaxio"), 2)
        .plan(text, &Mapping::default());
    assert_ne!(moved.plan_hash, moved_again.plan_hash);
    let mut elsewhere = Given::new();
    elsewhere.scope = Scope::Global;
    assert_ne!(
        first.plan_hash,
        elsewhere.plan(text, &Mapping::default()).plan_hash
    );
}

#[test]
fn a_mapping_to_a_bad_key_name_names_the_field() {
    let err = plan(
        &parse("A=1"),
        &Mapping {
            map: BTreeMap::from([("A".into(), "Not A Key".into())]),
            ..Mapping::default()
        },
        &Target {
            scope: &tenant(),
            keys: &registry(),
            current: &HashMap::new(),
            locked_above: &HashMap::new(),
        },
    )
    .unwrap_err();
    assert_eq!(err.field, "mapping.map.A");
}

#[test]
fn names_and_keys_round_trip() {
    let key = ConfigKey::parse("fax.backend.provider").unwrap();
    assert_eq!(variable_name_for(&key), "FAX_BACKEND_PROVIDER");
    assert_eq!(key_name_for("FAX_BACKEND_PROVIDER"), "fax.backend.provider");
}
