//! Server settings: read once from `STRATA_*` variables at start-up and validated, so a bad
//! value stops the process with one clear line instead of failing later.

use std::net::SocketAddr;
use std::path::PathBuf;

use app::backend::db::DEFAULT_DATABASE_URL;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Environment {
    /// Plain-HTTP cookies and generated keys are acceptable.
    Development,
    /// Insecure settings are refused.
    Production,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub environment: Environment,
    /// Where `strata serve` listens (`STRATA_ADDR`).
    pub addr: SocketAddr,
    /// `STRATA_DATABASE_URL`, else `DATABASE_URL`, else the embedded SQLite file.
    pub database_url: String,
    /// The built site (`pkg/` with the wasm, JS and CSS) served as static files.
    pub site_root: PathBuf,
    /// A tracing filter such as `info` or `info,strata=debug`.
    pub log_filter: String,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{name}={value:?} is not valid: {reason}")]
pub struct SettingsError {
    pub name: &'static str,
    pub value: String,
    pub reason: String,
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`; an empty value counts as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());

        let environment = match get("STRATA_ENV").as_deref() {
            None | Some("development") => Environment::Development,
            Some("production") => Environment::Production,
            Some(other) => {
                return Err(invalid(
                    "STRATA_ENV",
                    other,
                    "expected `development` or `production`",
                ));
            }
        };

        let addr = match get("STRATA_ADDR") {
            None => SocketAddr::from(([127, 0, 0, 1], 3000)),
            Some(raw) => raw.parse().map_err(|_| {
                invalid(
                    "STRATA_ADDR",
                    &raw,
                    "expected HOST:PORT with an IP address, such as 127.0.0.1:3000",
                )
            })?,
        };

        let (database_var, database_url) = match (get("STRATA_DATABASE_URL"), get("DATABASE_URL")) {
            (Some(url), _) => ("STRATA_DATABASE_URL", url),
            (None, Some(url)) => ("DATABASE_URL", url),
            (None, None) => ("STRATA_DATABASE_URL", DEFAULT_DATABASE_URL.to_owned()),
        };
        validate_database_url(&database_url)
            .map_err(|reason| invalid(database_var, &database_url, reason))?;

        let site_root =
            PathBuf::from(get("STRATA_SITE_ROOT").unwrap_or_else(|| "target/site".into()));

        let log_filter = get("STRATA_LOG").unwrap_or_else(|| "info".into());
        tracing_subscriber::EnvFilter::try_new(&log_filter).map_err(|e| {
            invalid(
                "STRATA_LOG",
                &log_filter,
                &format!("not a tracing filter ({e})"),
            )
        })?;

        Ok(Settings {
            environment,
            addr,
            database_url,
            site_root,
            log_filter,
        })
    }
}

/// Accepts the two supported databases; anything else fails here rather than at first use.
pub fn validate_database_url(url: &str) -> Result<(), &'static str> {
    if url.starts_with("sqlite:")
        || url.starts_with("postgres://")
        || url.starts_with("postgresql://")
    {
        Ok(())
    } else {
        Err("expected a sqlite: or postgres:// URL")
    }
}

fn invalid(name: &'static str, value: &str, reason: &str) -> SettingsError {
    SettingsError {
        name,
        value: value.to_owned(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        Settings::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn defaults_serve_the_embedded_database_on_loopback() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.environment, Environment::Development);
        assert_eq!(s.addr.to_string(), "127.0.0.1:3000");
        assert_eq!(s.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(s.site_root, PathBuf::from("target/site"));
        assert_eq!(s.log_filter, "info");
    }

    #[test]
    fn strata_database_url_wins_over_database_url() {
        let s = settings(&[
            ("DATABASE_URL", "postgres://a/b"),
            ("STRATA_DATABASE_URL", "sqlite://x.db"),
        ])
        .unwrap();
        assert_eq!(s.database_url, "sqlite://x.db");
        let s = settings(&[("DATABASE_URL", "postgres://a/b")]).unwrap();
        assert_eq!(s.database_url, "postgres://a/b");
    }

    #[test]
    fn empty_values_count_as_unset() {
        let s = settings(&[("STRATA_ADDR", ""), ("STRATA_ENV", " ")]).unwrap();
        assert_eq!(s.addr.to_string(), "127.0.0.1:3000");
        assert_eq!(s.environment, Environment::Development);
    }

    #[test]
    fn bad_values_name_the_setting_and_the_expectation() {
        let cases = [
            (
                "STRATA_ENV",
                "prod",
                "expected `development` or `production`",
            ),
            ("STRATA_ADDR", "localhost", "expected HOST:PORT"),
            ("STRATA_ADDR", "127.0.0.1:99999", "expected HOST:PORT"),
            (
                "STRATA_DATABASE_URL",
                "mysql://x",
                "expected a sqlite: or postgres://",
            ),
            (
                "DATABASE_URL",
                "data.db",
                "expected a sqlite: or postgres://",
            ),
            ("STRATA_LOG", "info,=[", "not a tracing filter"),
        ];
        for (name, value, expected) in cases {
            let err = settings(&[(name, value)]).unwrap_err();
            assert_eq!(err.name, name);
            assert_eq!(err.value, value);
            assert!(err.reason.contains(expected), "{name}: {}", err.reason);
            assert!(
                err.to_string()
                    .starts_with(&format!("{name}=\"{value}\" is not valid"))
            );
        }
    }

    #[test]
    fn production_is_recognised() {
        let s = settings(&[("STRATA_ENV", "production")]).unwrap();
        assert_eq!(s.environment, Environment::Production);
    }
}
