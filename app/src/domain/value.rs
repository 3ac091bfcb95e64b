//! How values are shown where they must be short, and how secrets are hidden.

use serde_json::Value;

/// What a viewer without `secrets_read` sees instead of a sensitive value.
pub const MASK: &str = "••••••";

/// A short rendering of `value` for messages; a sensitive value is never shown.
pub fn describe(value: &Value, sensitive: bool) -> String {
    if sensitive {
        return "a hidden value".into();
    }
    const LIMIT: usize = 80;
    let text = value.to_string();
    if text.chars().count() <= LIMIT {
        text
    } else {
        let cut: String = text.chars().take(LIMIT).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn long_values_are_cut_and_secrets_hidden() {
        assert_eq!(describe(&json!("abc"), false), "\"abc\"");
        let long = describe(&json!("x".repeat(200)), false);
        assert_eq!(long.chars().count(), 81);
        assert!(long.ends_with('…'));
        assert_eq!(describe(&json!("hunter2"), true), "a hidden value");
    }
}
