use serde_json::json;

use super::*;

fn no_secrets(_: &str, _: &str) -> Result<Value, String> {
    Err("no secrets expected here".into())
}

fn parse(value: Value) -> Document {
    serde_json::from_value(value).unwrap()
}

/// The example of CLI-AND-FORMAT.md.
fn contract_example() -> Value {
    json!({
      "format": "strata/v1",
      "keys": [
        {"key": "fax.backend.provider", "type": "enum", "options": ["phaxio", "sip"],
         "default": "phaxio", "description": "Fax provider", "category": "Fax",
         "levels": ["global", "tenant", "department", "group", "user"],
         "sensitive": false, "user_editable": false},
        {"key": "uploads.max_size_mb", "type": "integer", "min": 1, "max": 100, "default": 10,
         "levels": ["global", "tenant"]}
      ],
      "tenants": [
        {"id": "mercy_hospital", "name": "Mercy Hospital Network",
         "departments": [{"id": "medical", "name": "Medical"}],
         "groups": [{"id": "doctors", "name": "Doctors", "priority": 10}]}
      ],
      "users": [
        {"id": "root", "name": "Platform admin", "traits": ["admin_capable", "super_admin", "config_write"]},
        {"id": "user123", "name": "Dr. Who", "tenant": "mercy_hospital", "department": "medical",
         "groups": ["doctors"], "traits": []}
      ],
      "entries": [
        {"level": "global", "key": "fax.backend.provider", "value": "phaxio"},
        {"level": "tenant", "tenant": "mercy_hospital", "key": "uploads.max_size_mb", "value": 20, "locked": true},
        {"level": "department", "tenant": "mercy_hospital", "department": "medical", "key": "fax.backend.provider", "value": "phaxio"},
        {"level": "group", "tenant": "mercy_hospital", "group": "doctors", "key": "fax.backend.provider", "value": "sip"},
        {"level": "user", "user": "user123", "key": "fax.backend.provider", "value": "phaxio"}
      ]
    })
}

#[test]
fn the_contract_example_is_valid() {
    let plan = validate(&parse(contract_example()), &Catalog::default(), &no_secrets).unwrap();
    assert_eq!(plan.keys.len(), 2);
    let size = &plan.keys[1];
    assert_eq!(size.levels, vec![Level::Global, Level::Tenant]);
    assert_eq!(size.constraints.min, Some(1.0));
    assert!(!size.sensitive);
    assert_eq!(
        plan.tenants[0].groups,
        vec![ScopePlan {
            slug: Slug::parse("g", "doctors").unwrap(),
            name: "Doctors".into(),
            priority: 10,
            template: None,
        }]
    );
    assert_eq!(plan.users[0].traits.len(), 3);
    assert_eq!(plan.users[1].groups.len(), 1);
    assert_eq!(plan.entries.len(), 5);
    assert!(plan.entries[1].locked);
    assert_eq!(
        plan.entries[3].scope.to_string(),
        "group:mercy_hospital/doctors"
    );
}

#[test]
fn every_problem_is_reported_with_its_path() {
    let mut doc = contract_example();
    doc["entries"][3]["value"] = json!("abc");
    doc["entries"][1]["value"] = json!("abc");
    doc["entries"][4]["user"] = json!("nobody");
    doc["users"][1]["groups"] = json!(["surgeons"]);
    doc["keys"][1]["min"] = json!(500);
    let problems = validate(&parse(doc), &Catalog::default(), &no_secrets).unwrap_err();
    let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        vec![
            "keys[1].max: max 100 is below min 500",
            "users[1].groups[0]: group \"surgeons\" does not exist in tenant mercy_hospital",
            "entries[1].key: key uploads.max_size_mb is not defined",
            "entries[3].value: expected one of phaxio, sip, got \"abc\"",
            "entries[4]: user nobody does not exist",
        ]
    );
}

#[test]
fn the_integer_example_of_the_contract() {
    let mut doc = contract_example();
    doc["entries"][1]["value"] = json!("abc");
    let problems = validate(&parse(doc), &Catalog::default(), &no_secrets).unwrap_err();
    assert_eq!(
        problems[0].to_string(),
        "entries[1].value: expected integer, got \"abc\""
    );
}

#[test]
fn references_and_duplicates_are_checked() {
    let doc = parse(json!({
        "format": "strata/v1",
        "keys": [
            {"key": "a", "type": "string"},
            {"key": "a", "type": "string"},
            {"key": "B", "type": "text", "levels": ["planet"]},
            {"key": "t.only", "type": "boolean", "levels": ["tenant"]}
        ],
        "tenants": [{"id": "t", "name": "T", "departments": [{"id": "d", "name": ""}]}, {"id": "t", "name": "again"}],
        "users": [
            {"id": "p", "name": "Platform", "department": "d"},
            {"id": "u", "name": "U", "tenant": "t", "traits": ["wizard"]},
            {"id": "u", "name": "again"}
        ],
        "entries": [
            {"level": "global", "key": "t.only", "value": true},
            {"level": "department", "tenant": "t", "key": "a", "value": "x"},
            {"level": "group", "tenant": "t", "group": "nope", "key": "a", "value": "x"},
            {"level": "tenant", "tenant": "t", "key": "a", "value": "x"},
            {"level": "tenant", "tenant": "t", "key": "a", "value": "y"},
            {"level": "moon", "key": "a", "value": "x"}
        ]
    }));
    let problems = validate(&doc, &Catalog::default(), &no_secrets).unwrap_err();
    let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "keys[1].key",
            "keys[2].key",
            "keys[2].type",
            "keys[2].levels[0]",
            "tenants[0].departments[0].name",
            "tenants[1].id",
            "users[0].department",
            "users[1].traits[0]",
            "users[2].id",
            "entries[0].level",
            "entries[1]",
            "entries[2]",
            "entries[4]",
            "entries[5].level",
        ],
        "{problems:#?}"
    );
}

#[test]
fn references_may_point_at_what_already_exists() {
    let t = Slug::parse("t", "mercy").unwrap();
    let mut catalog = Catalog::default();
    let key = KeyDefinition::new(ConfigKey::parse("a").unwrap(), KeyType::Integer);
    catalog.keys.insert(key.key.clone(), key);
    catalog.tenants.insert(
        t.clone(),
        (
            HashSet::from([Slug::parse("d", "medical").unwrap()]),
            HashSet::new(),
        ),
    );
    catalog
        .users
        .insert(Slug::parse("u", "alice").unwrap(), Some(t));
    let doc = parse(json!({
        "format": "strata/v1",
        "entries": [
            {"level": "department", "tenant": "mercy", "department": "medical", "key": "a", "value": 3},
            {"level": "user", "user": "alice", "key": "a", "value": 4}
        ]
    }));
    assert_eq!(
        validate(&doc, &catalog, &no_secrets).unwrap().entries.len(),
        2
    );
}

#[test]
fn sealed_values_of_sensitive_keys_are_opened() {
    let doc = parse(json!({
        "format": "strata/v1",
        "keys": [
            {"key": "providers.api_key", "type": "string", "max_length": 10},
            {"key": "providers.api_secret", "type": "string"}
        ],
        "entries": [
            {"level": "global", "key": "providers.api_key", "value": {"encrypted": "good"}},
            {"level": "global", "key": "providers.api_secret", "value": {"encrypted": "bad"}}
        ]
    }));
    let open = |key: &str, sealed: &str| -> Result<Value, String> {
        assert!(key.starts_with("providers."));
        match sealed {
            "good" => Ok(json!("s3cret")),
            _ => Err("the encrypted value is damaged".into()),
        }
    };
    let problems = validate(&doc, &Catalog::default(), &open).unwrap_err();
    assert_eq!(problems.len(), 1);
    assert_eq!(
        problems[0].to_string(),
        "entries[1].value: the encrypted value is damaged"
    );
    let mut doc = doc;
    doc.entries.pop();
    let plan = validate(&doc, &Catalog::default(), &open).unwrap();
    assert!(plan.keys[0].sensitive, "sensitive by name");
    assert_eq!(plan.entries[0].value, json!("s3cret"));
}

#[test]
fn a_wrong_format_and_unknown_fields_are_refused() {
    let doc = parse(json!({"format": "strata/v2"}));
    let problems = validate(&doc, &Catalog::default(), &no_secrets).unwrap_err();
    assert_eq!(
        problems[0].to_string(),
        "format: expected \"strata/v1\", got \"strata/v2\""
    );
    assert!(
        serde_json::from_value::<Document>(json!({"format": "strata/v1", "extra": 1})).is_err()
    );
}

#[test]
fn key_definitions_round_trip_through_the_document_form() {
    let plan = validate(&parse(contract_example()), &Catalog::default(), &no_secrets).unwrap();
    for def in &plan.keys {
        let doc = key_doc(def, def.default.clone());
        let text = serde_json::to_value(&doc).unwrap();
        let back = validate(
            &parse(json!({"format": "strata/v1", "keys": [text]})),
            &Catalog::default(),
            &no_secrets,
        )
        .unwrap();
        assert_eq!(&back.keys[0], def);
    }
    let size = key_doc(&plan.keys[1], None);
    assert_eq!(serde_json::to_value(size).unwrap()["min"], json!(1));
}

#[test]
fn whole_numbers_may_be_written_as_floats() {
    let group = |priority: Value| {
        serde_json::from_value::<GroupDoc>(json!({"id": "g", "name": "G", "priority": priority}))
            .map(|g| g.priority)
            .map_err(|e| e.to_string())
    };
    assert_eq!(group(json!(7)), Ok(7));
    assert_eq!(group(json!(-398.0)), Ok(-398));
    assert_eq!(group(json!(i64::MIN)), Ok(i64::MIN));
    assert!(
        group(json!(1.5))
            .unwrap_err()
            .contains("expected a whole number")
    );
    assert!(group(json!(u64::MAX)).unwrap_err().contains("out of range"));
    assert!(
        group(json!(1e300))
            .unwrap_err()
            .contains("expected a whole number")
    );
    let key = |max_length: Value| {
        serde_json::from_value::<KeyDoc>(
            json!({"key": "k", "type": "string", "max_length": max_length}),
        )
        .map(|k| k.max_length)
        .map_err(|e| e.to_string())
    };
    assert_eq!(key(json!(12.0)), Ok(Some(12)));
    assert_eq!(key(Value::Null), Ok(None));
    assert!(key(json!(-1)).unwrap_err().contains("out of range"));
}

/// The contract example with `templates`, its tenant replaced by `tenant` (keeping the
/// example's department and group where `tenant` lists none).
fn with_templates(templates: Value, mut tenant: Value) -> Document {
    let mut doc = contract_example();
    for field in ["departments", "groups"] {
        if tenant.get(field).is_none() {
            tenant[field] = doc["tenants"][0][field].clone();
        }
    }
    doc["templates"] = templates;
    doc["tenants"] = json!([tenant]);
    parse(doc)
}

fn problems_of(doc: &Document) -> Vec<(String, String)> {
    validate(doc, &Catalog::default(), &no_secrets)
        .unwrap_err()
        .into_iter()
        .map(|p| (p.path, p.message))
        .collect()
}

#[test]
fn templates_are_checked_and_followed_by_scopes_of_their_level() {
    let templates = json!([
        {"name": "clinic", "target_level": "tenant",
         "entries": [{"key": "uploads.max_size_mb", "value": 50, "locked": true}],
         "departments": [{"id": "front", "name": "Front desk", "template": "desk"}]},
        {"name": "desk", "target_level": "department",
         "entries": [{"key": "fax.backend.provider", "value": "sip"}]}
    ]);
    let tenant = json!({"id": "mercy_hospital", "name": "Mercy", "template": "clinic",
        "departments": [{"id": "medical", "name": "Medical", "template": "desk"}],
        "groups": [{"id": "doctors", "name": "Doctors", "priority": 10}]});
    let plan = validate(
        &with_templates(templates, tenant),
        &Catalog::default(),
        &no_secrets,
    )
    .unwrap();
    assert_eq!(plan.templates.len(), 2);
    assert_eq!(plan.templates[0].level, Level::Tenant);
    assert_eq!(plan.templates[0].entries[0].value, json!(50));
    assert_eq!(
        plan.tenants[0].template.as_ref().unwrap().as_str(),
        "clinic"
    );
    assert_eq!(
        plan.tenants[0].departments[0]
            .template
            .as_ref()
            .unwrap()
            .as_str(),
        "desk"
    );

    // Each mistake is named by its path.
    let templates = json!([
        {"name": "clinic", "target_level": "user", "entries": []},
        {"name": "desk", "target_level": "department",
         "entries": [{"key": "fax.backend.provider", "value": "fax"},
                     {"key": "nope.key", "value": 1}],
         "groups": [{"id": "g", "name": "G"}]},
        {"name": "groupish", "target_level": "group"}
    ]);
    let tenant = json!({"id": "mercy_hospital", "name": "Mercy", "template": "groupish",
        "departments": [{"id": "medical", "name": "Medical", "template": "missing"}]});
    let problems = problems_of(&with_templates(templates, tenant));
    let paths: Vec<&str> = problems.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "templates[0].target_level",
            "templates[1].entries[0].value",
            "templates[1].entries[1].key",
            "templates[1]",
            "tenants[0].template",
            "tenants[0].departments[0].template",
        ],
        "{problems:?}"
    );
    assert!(problems[4].1.contains("group template"), "{problems:?}");
}

#[test]
fn an_older_documents_plan_becomes_its_tenant_template() {
    let tenant = json!({"id": "mercy_hospital", "name": "Mercy", "plan": "enterprise"});
    let plan = validate(
        &with_templates(json!([]), tenant),
        &Catalog::default(),
        &no_secrets,
    )
    .unwrap();
    assert_eq!(
        plan.tenants[0].template.as_ref().unwrap().as_str(),
        "enterprise"
    );
    assert_eq!(plan.templates.len(), 1);
    assert_eq!(plan.templates[0].level, Level::Tenant);
    assert!(plan.templates[0].entries.is_empty());
    // Giving both, differently, is a mistake.
    let tenant = json!({"id": "mercy_hospital", "name": "Mercy", "plan": "a", "template": "b"});
    let problems = problems_of(&with_templates(json!([]), tenant));
    assert_eq!(problems[0].0, "tenants[0].plan");
}
