//! `.env` files: reading them ([`parse`]), planning their import into a scope ([`plan`]),
//! and (here) writing an effective configuration as one (`strata resolve --format env`, the
//! API's `format=env`, the console's download). Rule for writing: one `NAME=value` line per key that has a
//! value, sorted by key; the name is the key upper-cased with dots as underscores; strings
//! bare, other values as JSON; quoted for a POSIX shell only when needed.

pub mod parse;
pub mod plan;

use serde_json::{Map, Value};

/// `value` quoted for a POSIX shell when it holds anything but plain characters.
pub fn shell_quote(value: &str) -> String {
    if !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:#@".contains(c))
    {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

/// `effective` is the `resolve --format json` object: `{key: {"value", "level", "scope"}}`.
pub fn render(effective: &Map<String, Value>) -> String {
    let mut names: Vec<&String> = effective.keys().collect();
    names.sort();
    let mut out = String::new();
    for name in names {
        let value = &effective[name]["value"];
        let text = match value {
            Value::Null => continue,
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        out.push_str(&name.to_uppercase().replace('.', "_"));
        out.push('=');
        out.push_str(&shell_quote(&text));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn values_are_quoted_only_when_needed() {
        assert_eq!(shell_quote("sip"), "sip");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn one_line_per_key_with_a_value() {
        let effective = json!({
            "ui.theme": {"value": "dark", "level": "user", "scope": "u"},
            "fax.retry_attempts": {"value": 3, "level": "default", "scope": null},
            "unset.key": {"value": null, "level": null, "scope": null},
            "uploads.allowed_types": {"value": ["pdf"], "level": "default", "scope": null}
        });
        assert_eq!(
            render(effective.as_object().unwrap()),
            "FAX_RETRY_ATTEMPTS=3\nUI_THEME=dark\nUPLOADS_ALLOWED_TYPES='[\"pdf\"]'\n"
        );
    }
}
