//! Identifiers: slugs for tenants, departments, groups and users; dotted names for keys.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("{what} {value:?} is not valid: {reason}")]
    Invalid {
        what: &'static str,
        value: String,
        reason: &'static str,
    },
}

/// The id of a tenant, department, group or user: `[a-z0-9][a-z0-9_-]{0,63}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Slug(String);

impl Slug {
    pub const MAX_LEN: usize = 64;

    /// Checks `value` as the id of a `what` (used in the message).
    pub fn parse(what: &'static str, value: &str) -> Result<Self, NameError> {
        let invalid = |reason| NameError::Invalid {
            what,
            value: value.to_owned(),
            reason,
        };
        let mut chars = value.chars();
        match chars.next() {
            None => return Err(invalid("it is empty")),
            Some(c) if !(c.is_ascii_lowercase() || c.is_ascii_digit()) => {
                return Err(invalid("it must start with a lowercase letter or a digit"));
            }
            Some(_) => {}
        }
        if value.len() > Self::MAX_LEN {
            return Err(invalid("it is longer than 64 characters"));
        }
        if !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-') {
            return Err(invalid(
                "only lowercase letters, digits, '_' and '-' are allowed",
            ));
        }
        Ok(Slug(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Slug {
    type Error = NameError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Slug::parse("id", &value)
    }
}

impl From<Slug> for String {
    fn from(value: Slug) -> Self {
        value.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A key's dotted name: `[a-z0-9_]+(\.[a-z0-9_]+)*`, at most 200 characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ConfigKey(String);

impl ConfigKey {
    pub const MAX_LEN: usize = 200;

    pub fn parse(value: &str) -> Result<Self, NameError> {
        let invalid = |reason| NameError::Invalid {
            what: "key",
            value: value.to_owned(),
            reason,
        };
        if value.is_empty() {
            return Err(invalid("it is empty"));
        }
        if value.len() > Self::MAX_LEN {
            return Err(invalid("it is longer than 200 characters"));
        }
        for segment in value.split('.') {
            if segment.is_empty() {
                return Err(invalid("it has an empty segment between dots"));
            }
            if !segment
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                return Err(invalid(
                    "segments may hold only lowercase letters, digits and '_'",
                ));
            }
        }
        Ok(ConfigKey(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Keys whose names suggest a secret are sensitive unless their definition says otherwise.
    pub fn looks_sensitive(&self) -> bool {
        const MARKERS: [&str; 8] = [
            "api_key",
            "api_secret",
            "password",
            "token",
            "secret",
            "credentials",
            "private_key",
            "oauth_",
        ];
        MARKERS.iter().any(|m| self.0.contains(m))
    }
}

impl TryFrom<String> for ConfigKey {
    type Error = NameError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        ConfigKey::parse(&value)
    }
}

impl From<ConfigKey> for String {
    fn from(value: ConfigKey) -> Self {
        value.0
    }
}

impl fmt::Display for ConfigKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        for ok in ["a", "mercy_hospital", "it", "0", "a-b_c9", &"x".repeat(64)] {
            assert!(Slug::parse("tenant", ok).is_ok(), "{ok}");
        }
        let cases = [
            ("", "it is empty"),
            ("_a", "must start with"),
            ("-a", "must start with"),
            ("Mercy", "must start with"),
            ("a b", "only lowercase"),
            ("aB", "only lowercase"),
            ("a.b", "only lowercase"),
        ];
        for (bad, reason) in cases {
            let err = Slug::parse("tenant", bad).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("tenant {bad:?} is not valid")),
                "{err}"
            );
            assert!(err.contains(reason), "{err}");
        }
        assert!(
            Slug::parse("tenant", &"x".repeat(65))
                .unwrap_err()
                .to_string()
                .contains("64")
        );
    }

    #[test]
    fn key_names() {
        for ok in [
            "fax",
            "fax.backend.provider",
            "a_b.c_1",
            "0.1",
            &"k".repeat(200),
        ] {
            assert!(ConfigKey::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".a",
            "a.",
            "a..b",
            "A.b",
            "a-b",
            "a b",
            "fax.Backend",
            &"k".repeat(201),
        ] {
            assert!(ConfigKey::parse(bad).is_err(), "{bad:?}");
        }
        let err = ConfigKey::parse("a..b").unwrap_err().to_string();
        assert_eq!(
            err,
            "key \"a..b\" is not valid: it has an empty segment between dots"
        );
    }

    #[test]
    fn sensitivity_by_name() {
        for (name, sensitive) in [
            ("providers.phaxio.api_key", true),
            ("db.password", true),
            ("auth.oauth_client", true),
            ("sso.private_key", true),
            ("x.api_secret", true),
            ("cloud.credentials", true),
            ("slack.token", true),
            ("fax.backend.provider", false),
            ("uploads.max_size_mb", false),
        ] {
            assert_eq!(
                ConfigKey::parse(name).unwrap().looks_sensitive(),
                sensitive,
                "{name}"
            );
        }
    }

    #[test]
    fn serde_validates() {
        assert!(serde_json::from_str::<Slug>("\"Bad\"").is_err());
        assert_eq!(
            serde_json::from_str::<Slug>("\"ok\"").unwrap().as_str(),
            "ok"
        );
        assert!(serde_json::from_str::<ConfigKey>("\"a..b\"").is_err());
    }
}
