//! Effective values as the OpenFeature Remote Evaluation Protocol (OFREP) reports a flag
//! evaluation, so any OpenFeature SDK with the OFREP provider reads Strata.
//!
//! Rule: the value is the effective value (a sensitive one masked: OFREP never reveals); the
//! reason is `TARGETING_MATCH` when an entry supplied it and `STATIC` when the key's default
//! did; the variant names the source level; metadata gives `level`, `scope` (when an entry
//! supplied it) and `locked`. A key with neither entry nor default has no value: the reason is
//! `DEFAULT` and the value is left out, so the application's own default applies.

use serde_json::{Map, Value, json};

use super::key::KeyType;
use super::resolve::{Resolved, Source};
use super::value::MASK;

/// One flag's evaluation: `{"key", "value"?, "reason", "variant", "metadata"}`.
pub fn evaluation(resolved: &Resolved<'_>) -> Value {
    let mut out = Map::new();
    out.insert("key".into(), json!(resolved.key.key.as_str()));
    let (reason, variant) = match resolved.source {
        Source::Unset => ("DEFAULT", "unset"),
        Source::Default => ("STATIC", "default"),
        Source::Entry { level, .. } => ("TARGETING_MATCH", level.as_str()),
    };
    if let Some(value) = resolved.value {
        let shown = match value {
            _ if resolved.key.sensitive => json!(MASK),
            // A float key's whole number (`30`) is still a float to a typed SDK (`30.0`).
            Value::Number(n) if resolved.key.key_type == KeyType::Float => {
                n.as_f64().map_or_else(|| value.clone(), |f| json!(f))
            }
            _ => value.clone(),
        };
        out.insert("value".into(), shown);
    }
    out.insert("reason".into(), json!(reason));
    out.insert("variant".into(), json!(variant));
    // Metadata values are booleans, strings or numbers only: no null scope.
    let mut metadata = Map::new();
    metadata.insert("level".into(), json!(variant));
    if let Some(scope) = resolved.source.scope_id() {
        metadata.insert("scope".into(), json!(scope));
    }
    if let Some(template) = resolved.source.template() {
        metadata.insert("template".into(), json!(template));
    }
    metadata.insert("locked".into(), json!(resolved.locked));
    out.insert("metadata".into(), Value::Object(metadata));
    Value::Object(out)
}

/// Every flag of an effective configuration, as the bulk evaluation's `{"flags": [...]}`.
pub fn bulk(resolved: &[Resolved<'_>]) -> Value {
    json!({"flags": resolved.iter().map(evaluation).collect::<Vec<_>>()})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::key::KeyDefinition;
    use crate::domain::level::Level;
    use crate::domain::name::ConfigKey;

    fn key(name: &str, sensitive: bool) -> KeyDefinition {
        let mut def = KeyDefinition::new(ConfigKey::parse(name).unwrap(), KeyType::String);
        def.sensitive = sensitive;
        def
    }

    #[test]
    fn evaluations_report_value_reason_variant_and_metadata_by_source() {
        let plain = key("branding.color", false);
        let secret = key("providers.api_key", true);
        let (red, token) = (json!("#ff0000"), json!("sk_live_123"));
        let cases = [
            (
                Resolved {
                    key: &plain,
                    value: Some(&red),
                    source: Source::Entry {
                        level: Level::Tenant,
                        scope: Some("mercy"),
                        template: None,
                    },
                    locked: true,
                },
                json!({"key": "branding.color", "value": "#ff0000", "reason": "TARGETING_MATCH",
                    "variant": "tenant", "metadata": {"level": "tenant", "scope": "mercy", "locked": true}}),
            ),
            (
                Resolved {
                    key: &plain,
                    value: Some(&red),
                    source: Source::Default,
                    locked: false,
                },
                json!({"key": "branding.color", "value": "#ff0000", "reason": "STATIC",
                    "variant": "default", "metadata": {"level": "default", "locked": false}}),
            ),
            (
                Resolved {
                    key: &plain,
                    value: None,
                    source: Source::Unset,
                    locked: false,
                },
                json!({"key": "branding.color", "reason": "DEFAULT",
                    "variant": "unset", "metadata": {"level": "unset", "locked": false}}),
            ),
            (
                Resolved {
                    key: &secret,
                    value: Some(&token),
                    source: Source::Entry {
                        level: Level::Global,
                        scope: None,
                        template: None,
                    },
                    locked: false,
                },
                json!({"key": "providers.api_key", "value": MASK, "reason": "TARGETING_MATCH",
                    "variant": "global", "metadata": {"level": "global", "locked": false}}),
            ),
        ];
        for (resolved, expected) in cases {
            assert_eq!(evaluation(&resolved), expected);
        }
        // A float key's whole number goes out as a float.
        let timeout = KeyDefinition::new(ConfigKey::parse("net.timeout").unwrap(), KeyType::Float);
        let thirty = json!(30);
        let shown = evaluation(&Resolved {
            key: &timeout,
            value: Some(&thirty),
            source: Source::Default,
            locked: false,
        });
        assert_eq!(serde_json::to_string(&shown["value"]).unwrap(), "30.0");
    }
}
