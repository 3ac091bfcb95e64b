//! The rules of names, keys, scopes and display names as JSON Schema, for the OpenAPI document
//! (server build only). Each pattern is the parser's rule written as a regular expression; the
//! tests below hold each pattern and its parser together, so the document says exactly what
//! the server accepts.

use std::borrow::Cow;

use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::{RefOr, schema::ArrayBuilder};
use utoipa::{PartialSchema, ToSchema};

use super::name::{ConfigKey, Slug};

/// [`Slug::parse`]: a lowercase letter or digit, then letters, digits, `_` or `-`; at most 64.
pub const SLUG_PATTERN: &str = "^[a-z0-9][a-z0-9_-]{0,63}$";
/// [`ConfigKey::parse`]: dot-separated segments of lowercase letters, digits and `_`.
pub const KEY_PATTERN: &str = "^[a-z0-9_]+(\\.[a-z0-9_]+)*$";
/// `Scope::from_str`: `global`, `tenant:T`, `department:T/D`, `group:T/G` or `user:U`.
pub const SCOPE_PATTERN: &str = "^(global|tenant:[a-z0-9][a-z0-9_-]{0,63}|(department|group):[a-z0-9][a-z0-9_-]{0,63}/[a-z0-9][a-z0-9_-]{0,63}|user:[a-z0-9][a-z0-9_-]{0,63})$";
/// Somewhere a character that is not blank, as `char::is_whitespace` (and so `str::trim`)
/// sees blanks: names must not be blank.
pub const NOT_BLANK_PATTERN: &str =
    "[^\\t-\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
/// Longest display name, in characters.
pub const MAX_NAME_CHARS: usize = 200;

fn string(pattern: &str, max_length: usize, description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .pattern(Some(pattern))
        .min_length(Some(1))
        .max_length(Some(max_length))
        .description(Some(description))
}

impl PartialSchema for Slug {
    fn schema() -> RefOr<Schema> {
        string(
            SLUG_PATTERN,
            Slug::MAX_LEN,
            "An id: a lowercase letter or digit, then lowercase letters, digits, `_` or `-`",
        )
        .into()
    }
}

impl ToSchema for Slug {
    fn name() -> Cow<'static, str> {
        "Slug".into()
    }
}

impl PartialSchema for ConfigKey {
    fn schema() -> RefOr<Schema> {
        string(
            KEY_PATTERN,
            ConfigKey::MAX_LEN,
            "A dotted key name: segments of lowercase letters, digits and `_`",
        )
        .into()
    }
}

impl ToSchema for ConfigKey {
    fn name() -> Cow<'static, str> {
        "KeyName".into()
    }
}

/// A scope as text: `global`, `tenant:T`, `department:T/D`, `group:T/G` or `user:U`.
pub struct ScopeText;

impl PartialSchema for ScopeText {
    fn schema() -> RefOr<Schema> {
        string(
            SCOPE_PATTERN,
            8 + 2 * Slug::MAX_LEN + 1,
            "`global`, `tenant:T`, `department:T/D`, `group:T/G` or `user:U`",
        )
        .into()
    }
}

impl ToSchema for ScopeText {
    fn name() -> Cow<'static, str> {
        "Scope".into()
    }
}

/// A display name: not blank, at most 200 characters.
pub struct DisplayName;

impl PartialSchema for DisplayName {
    fn schema() -> RefOr<Schema> {
        string(
            NOT_BLANK_PATTERN,
            MAX_NAME_CHARS,
            "A display name: not blank, at most 200 characters",
        )
        .into()
    }
}

impl ToSchema for DisplayName {
    fn name() -> Cow<'static, str> {
        "DisplayName".into()
    }
}

/// Ids of a list: each a [`Slug`], none twice.
pub struct SlugSet;

impl PartialSchema for SlugSet {
    fn schema() -> RefOr<Schema> {
        ArrayBuilder::new()
            .items(Slug::schema())
            .unique_items(true)
            .into()
    }
}

impl ToSchema for SlugSet {
    fn name() -> Cow<'static, str> {
        "SlugSet".into()
    }
}

#[cfg(test)]
mod tests {
    use regex_lite::Regex;

    use super::*;
    use crate::domain::scope::Scope;

    /// Names the parsers and the patterns must agree on: good ones, edge lengths, and every
    /// way of being wrong the parsers know.
    fn samples() -> Vec<String> {
        let mut out: Vec<String> = [
            "",
            "a",
            "0",
            "a-b",
            "a_b",
            "-a",
            "_a",
            "A",
            "aB",
            "a.b",
            "a..b",
            ".a",
            "a.",
            "a b",
            "a/b",
            "é",
            "a\n",
            "mercy_hospital",
            "fax.backend.provider",
            "x_1.y_2",
            "a:b",
            "global",
            "tenant:t",
            "tenant:",
            "department:t/d",
            "department:t",
            "group:t/g",
            "group:t/",
            "user:u",
            "user:u/x",
            "tenant:T",
            "Global",
            "global:x",
            "user:-u",
            " ",
            "\t",
            "\u{85}",
            "\u{a0}",
            "\u{3000}",
            "\u{feff}",
            " x ",
            "x",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        for n in [63, 64, 65, 199, 200, 201] {
            out.push("a".repeat(n));
            out.push(format!("tenant:{}", "a".repeat(n)));
        }
        out
    }

    fn matches(pattern: &str, text: &str) -> bool {
        Regex::new(pattern).unwrap().is_match(text)
    }

    #[test]
    fn the_patterns_accept_exactly_what_the_parsers_accept() {
        for s in samples() {
            assert_eq!(
                matches(SLUG_PATTERN, &s),
                Slug::parse("id", &s).is_ok(),
                "slug {s:?}"
            );
            let key_ok = ConfigKey::parse(&s).is_ok();
            let key_schema = matches(KEY_PATTERN, &s) && s.chars().count() <= ConfigKey::MAX_LEN;
            assert_eq!(key_schema, key_ok, "key {s:?}");
            assert_eq!(
                matches(SCOPE_PATTERN, &s),
                s.parse::<Scope>().is_ok(),
                "scope {s:?}"
            );
            let name_ok = !s.trim().is_empty();
            assert_eq!(matches(NOT_BLANK_PATTERN, &s), name_ok, "name {s:?}");
        }
        // Every blank char::is_whitespace knows is blank to the pattern, and nothing else.
        for c in (0..=0x3000u32).filter_map(char::from_u32) {
            assert_eq!(
                matches(NOT_BLANK_PATTERN, &c.to_string()),
                !c.is_whitespace(),
                "{c:?}"
            );
        }
    }
}
