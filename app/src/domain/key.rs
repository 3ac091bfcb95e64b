//! Key definitions: a key's type, constraints, default and where it may be set, and the
//! validation of values against them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::level::Level;
use super::name::ConfigKey;
use super::value::describe;

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyType {
    String,
    Integer,
    Float,
    Boolean,
    Json,
    Enum,
}

impl KeyType {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::String => "string",
            KeyType::Integer => "integer",
            KeyType::Float => "float",
            KeyType::Boolean => "boolean",
            KeyType::Json => "json",
            KeyType::Enum => "enum",
        }
    }

    /// A value typed into a form field, read as this type: text for strings and enums, a
    /// number or boolean when the text is one (else the text, which validation then refuses
    /// naming the type), JSON for json keys.
    pub fn value_from_text(self, text: &str) -> Result<Value, String> {
        let trimmed = text.trim();
        Ok(match self {
            KeyType::String | KeyType::Enum => Value::String(text.to_owned()),
            KeyType::Integer => trimmed
                .parse::<i64>()
                .map_or_else(|_| Value::String(text.to_owned()), Value::from),
            KeyType::Float => trimmed
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map_or_else(|| Value::String(text.to_owned()), Value::Number),
            KeyType::Boolean => match trimmed {
                "true" | "on" => Value::Bool(true),
                "false" | "off" => Value::Bool(false),
                _ => Value::String(text.to_owned()),
            },
            KeyType::Json => {
                serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?
            }
        })
    }

    fn is_number(self) -> bool {
        matches!(self, KeyType::Integer | KeyType::Float)
    }
}

/// Optional limits on a key's values; each applies to some types only.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Constraints {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    /// A regular expression the whole value must match (it is anchored at both ends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyDefinition {
    pub key: ConfigKey,
    pub key_type: KeyType,
    pub description: String,
    pub category: String,
    pub default: Option<Value>,
    pub constraints: Constraints,
    pub sensitive: bool,
    /// Where the key may be set, general to specific, without repeats.
    pub levels: Vec<Level>,
    pub user_editable: bool,
}

/// A value that does not fit its key. `got` never shows a sensitive value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected {expected}, got {got}")]
pub struct ValueError {
    pub expected: String,
    pub got: String,
}

/// A definition that contradicts itself; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct DefinitionError {
    pub field: &'static str,
    pub message: String,
}

impl KeyDefinition {
    /// A definition with the defaults of the document format: no constraints, every level,
    /// sensitive when the name suggests a secret.
    pub fn new(key: ConfigKey, key_type: KeyType) -> Self {
        let sensitive = key.looks_sensitive();
        KeyDefinition {
            key,
            key_type,
            description: String::new(),
            category: String::new(),
            default: None,
            constraints: Constraints::default(),
            sensitive,
            levels: Level::ALL.to_vec(),
            user_editable: false,
        }
    }

    pub fn allows_level(&self, level: Level) -> bool {
        self.levels.contains(&level)
    }

    /// Checks that the definition is coherent: constraints fit the type, the default fits
    /// the constraints, at least one level.
    pub fn check(&self) -> Result<(), DefinitionError> {
        let c = &self.constraints;
        let err = |field, message: String| Err(DefinitionError { field, message });
        let t = self.key_type.as_str();
        if (c.min.is_some() || c.max.is_some()) && !self.key_type.is_number() {
            return err(
                "min",
                format!("only integer and float keys take min/max, not {t}"),
            );
        }
        if let (Some(min), Some(max)) = (c.min, c.max)
            && min > max
        {
            return err("max", format!("max {max} is below min {min}"));
        }
        if (c.max_length.is_some() || c.pattern.is_some()) && self.key_type != KeyType::String {
            return err(
                "max_length",
                format!("only string keys take max_length/pattern, not {t}"),
            );
        }
        if let Some(pattern) = &c.pattern
            && let Err(e) = regex_lite::Regex::new(pattern)
        {
            return err(
                "pattern",
                format!("{pattern:?} is not a regular expression ({e})"),
            );
        }
        match (self.key_type, c.options.is_empty()) {
            (KeyType::Enum, true) => return err("options", "an enum key needs options".into()),
            (KeyType::Enum, false) => {
                let mut seen = std::collections::HashSet::new();
                if let Some(dup) = c.options.iter().find(|o| !seen.insert(o.as_str())) {
                    return err("options", format!("{dup:?} is listed twice"));
                }
            }
            (_, false) => return err("options", format!("only enum keys take options, not {t}")),
            (_, true) => {}
        }
        if self.levels.is_empty() {
            return err("levels", "a key needs at least one level".into());
        }
        if let Some(default) = &self.default
            && let Err(e) = self.validate(default)
        {
            return err("default", e.to_string());
        }
        Ok(())
    }

    /// Checks a value against the key's type and constraints.
    pub fn validate(&self, value: &Value) -> Result<(), ValueError> {
        let c = &self.constraints;
        let fail = |expected: String| {
            Err(ValueError {
                expected,
                got: describe(value, self.sensitive),
            })
        };
        match self.key_type {
            KeyType::Json => Ok(()),
            KeyType::Boolean => match value {
                Value::Bool(_) => Ok(()),
                _ => fail("boolean".into()),
            },
            KeyType::Integer | KeyType::Float => {
                let number = match value {
                    Value::Number(n) if self.key_type == KeyType::Float => n.as_f64(),
                    Value::Number(n) => n.as_i64().map(|i| i as f64),
                    _ => None,
                };
                let Some(number) = number else {
                    return fail(self.key_type.as_str().into());
                };
                let in_range =
                    c.min.is_none_or(|min| number >= min) && c.max.is_none_or(|max| number <= max);
                if in_range {
                    Ok(())
                } else {
                    fail(format!(
                        "{} {}",
                        self.key_type.as_str(),
                        range_text(c.min, c.max)
                    ))
                }
            }
            KeyType::String => {
                let Value::String(s) = value else {
                    return fail("string".into());
                };
                if let Some(max) = c.max_length
                    && s.chars().count() > max as usize
                {
                    return fail(format!("string of at most {max} characters"));
                }
                if let Some(pattern) = &c.pattern {
                    let anchored = format!("^(?:{pattern})$");
                    let matches = regex_lite::Regex::new(&anchored).is_ok_and(|re| re.is_match(s));
                    if !matches {
                        return fail(format!("string matching {pattern:?}"));
                    }
                }
                Ok(())
            }
            KeyType::Enum => match value {
                Value::String(s) if c.options.contains(s) => Ok(()),
                _ => fail(format!("one of {}", c.options.join(", "))),
            },
        }
    }
}

fn range_text(min: Option<f64>, max: Option<f64>) -> String {
    match (min, max) {
        (Some(min), Some(max)) => format!("between {min} and {max}"),
        (Some(min), None) => format!("of at least {min}"),
        (None, Some(max)) => format!("of at most {max}"),
        (None, None) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn def(name: &str, key_type: KeyType, constraints: Constraints) -> KeyDefinition {
        KeyDefinition {
            constraints,
            ..KeyDefinition::new(ConfigKey::parse(name).unwrap(), key_type)
        }
    }

    #[test]
    fn values_are_checked_against_type_and_constraints() {
        let size = def(
            "uploads.max_size_mb",
            KeyType::Integer,
            Constraints {
                min: Some(1.0),
                max: Some(100.0),
                ..Default::default()
            },
        );
        let provider = def(
            "fax.backend.provider",
            KeyType::Enum,
            Constraints {
                options: vec!["phaxio".into(), "sip".into()],
                ..Default::default()
            },
        );
        let color = def(
            "branding.color",
            KeyType::String,
            Constraints {
                pattern: Some("#[0-9A-Fa-f]{6}".into()),
                max_length: Some(7),
                ..Default::default()
            },
        );
        let ratio = def(
            "x.ratio",
            KeyType::Float,
            Constraints {
                max: Some(1.0),
                ..Default::default()
            },
        );
        let flag = def("features.chat", KeyType::Boolean, Constraints::default());
        let blob = def("x.blob", KeyType::Json, Constraints::default());

        let cases: Vec<(&KeyDefinition, Value, Option<&str>)> = vec![
            (&size, json!(20), None),
            (&size, json!(1), None),
            (&size, json!(100), None),
            (
                &size,
                json!(500),
                Some("expected integer between 1 and 100, got 500"),
            ),
            (&size, json!("abc"), Some("expected integer, got \"abc\"")),
            (&size, json!(2.5), Some("expected integer, got 2.5")),
            (&size, Value::Null, Some("expected integer, got null")),
            (&provider, json!("sip"), None),
            (
                &provider,
                json!("fax"),
                Some("expected one of phaxio, sip, got \"fax\""),
            ),
            (
                &provider,
                json!(1),
                Some("expected one of phaxio, sip, got 1"),
            ),
            (&color, json!("#2E7D99"), None),
            (
                &color,
                json!("x#2E7D99"),
                Some("expected string of at most 7 characters, got \"x#2E7D99\""),
            ),
            (
                &color,
                json!("#2E7D9Z"),
                Some("expected string matching \"#[0-9A-Fa-f]{6}\", got \"#2E7D9Z\""),
            ),
            (&ratio, json!(0.5), None),
            (&ratio, json!(1), None),
            (
                &ratio,
                json!(1.5),
                Some("expected float of at most 1, got 1.5"),
            ),
            (&flag, json!(true), None),
            (&flag, json!("true"), Some("expected boolean, got \"true\"")),
            (&blob, json!({"a": [1, 2]}), None),
        ];
        for (def, value, expected) in cases {
            let result = def.validate(&value);
            match expected {
                None => assert!(result.is_ok(), "{} {value}: {result:?}", def.key),
                Some(message) => {
                    assert_eq!(result.unwrap_err().to_string(), message, "{}", def.key)
                }
            }
        }
    }

    #[test]
    fn a_sensitive_value_is_never_echoed_in_an_error() {
        let key = def(
            "providers.phaxio.api_key",
            KeyType::String,
            Constraints {
                max_length: Some(4),
                ..Default::default()
            },
        );
        assert!(key.sensitive);
        let err = key
            .validate(&json!("sk_live_hunter2"))
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
        assert_eq!(
            err,
            "expected string of at most 4 characters, got a hidden value"
        );
    }

    #[test]
    fn definitions_must_be_coherent() {
        let mut enum_without_options = def("a", KeyType::Enum, Constraints::default());
        assert_eq!(enum_without_options.check().unwrap_err().field, "options");
        enum_without_options.constraints.options = vec!["x".into(), "x".into()];
        assert!(
            enum_without_options
                .check()
                .unwrap_err()
                .message
                .contains("twice")
        );

        let bounds = def(
            "a",
            KeyType::Integer,
            Constraints {
                min: Some(5.0),
                max: Some(1.0),
                ..Default::default()
            },
        );
        assert_eq!(
            bounds.check().unwrap_err().to_string(),
            "max: max 1 is below min 5"
        );

        let misplaced = def(
            "a",
            KeyType::Boolean,
            Constraints {
                min: Some(1.0),
                ..Default::default()
            },
        );
        assert_eq!(misplaced.check().unwrap_err().field, "min");

        let bad_pattern = def(
            "a",
            KeyType::String,
            Constraints {
                pattern: Some("(".into()),
                ..Default::default()
            },
        );
        assert_eq!(bad_pattern.check().unwrap_err().field, "pattern");

        let mut bad_default = def(
            "a",
            KeyType::Integer,
            Constraints {
                max: Some(3.0),
                ..Default::default()
            },
        );
        bad_default.default = Some(json!(4));
        assert_eq!(
            bad_default.check().unwrap_err().to_string(),
            "default: expected integer of at most 3, got 4"
        );

        let mut no_levels = def("a", KeyType::Json, Constraints::default());
        no_levels.levels.clear();
        assert_eq!(no_levels.check().unwrap_err().field, "levels");

        assert!(
            def("a", KeyType::Json, Constraints::default())
                .check()
                .is_ok()
        );
    }

    #[test]
    fn form_text_is_read_as_the_key_type() {
        let rows: Vec<(KeyType, &str, Result<Value, ()>)> = vec![
            (KeyType::String, "123", Ok(json!("123"))),
            (KeyType::Enum, "sip", Ok(json!("sip"))),
            (KeyType::Integer, " 42 ", Ok(json!(42))),
            (KeyType::Integer, "4.5", Ok(json!("4.5"))),
            (KeyType::Float, "2.5", Ok(json!(2.5))),
            (KeyType::Float, "fast", Ok(json!("fast"))),
            (KeyType::Boolean, "true", Ok(json!(true))),
            (KeyType::Boolean, "off", Ok(json!(false))),
            (KeyType::Boolean, "maybe", Ok(json!("maybe"))),
            (KeyType::Json, "[1, 2]", Ok(json!([1, 2]))),
            (KeyType::Json, "[1, 2", Err(())),
        ];
        for (key_type, text, expected) in rows {
            let got = key_type.value_from_text(text).map_err(|_| ());
            assert_eq!(got, expected, "{key_type:?} {text:?}");
        }
    }
}
