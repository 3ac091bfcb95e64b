//! Server settings: read once from `STRATA_*` variables at start-up and validated, so a bad
//! value stops the process with one clear line instead of failing later.

use std::net::SocketAddr;
use std::path::PathBuf;

use app::backend::crypto::SecretBox;
use app::backend::db::DEFAULT_DATABASE_URL;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Environment {
    /// Plain-HTTP cookies and generated keys are acceptable.
    Development,
    /// Insecure settings are refused.
    Production,
}

/// A setting whose value must never be printed (Debug shows only that it is set).
#[derive(Clone, PartialEq, Eq)]
pub struct SecretSetting(pub String);

impl std::fmt::Debug for SecretSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretSetting(..)")
    }
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
    /// Where the development master key is kept when `STRATA_MASTER_KEY` is unset.
    pub data_dir: PathBuf,
    /// `STRATA_MASTER_KEY`: base64 of 32 bytes; seals sensitive values.
    pub master_key: Option<SecretSetting>,
    /// `STRATA_OLD_MASTER_KEYS`: comma-separated earlier keys, still accepted for reading.
    pub old_master_keys: Vec<SecretSetting>,
    /// `STRATA_ADMIN_PASSWORD`: the password of the first super admin, created at start-up
    /// when none exists (otherwise a random one is generated and logged once).
    pub admin_password: Option<SecretSetting>,
    /// Sessions end after this long without a request (`STRATA_SESSION_IDLE_SECONDS`, 30 min).
    pub session_idle: std::time::Duration,
    /// Sessions end this long after sign-in (`STRATA_SESSION_MAX_HOURS`, 12 h).
    pub session_max_age: chrono::Duration,
    /// How often the server checks for changes made by other processes (replicas, the CLI).
    pub refresh_interval: std::time::Duration,
    /// `STRATA_TRUSTED_PROXIES`: peers whose `X-Forwarded-For` names the client (CIDRs).
    pub trusted_proxies: Vec<ipnet::IpNet>,
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

        let data_dir = PathBuf::from(get("STRATA_DATA_DIR").unwrap_or_else(|| "data".into()));

        // Key values are never echoed in messages.
        let master_key = get("STRATA_MASTER_KEY").map(SecretSetting);
        let old_master_keys: Vec<SecretSetting> = get("STRATA_OLD_MASTER_KEYS")
            .map(|v| {
                v.split(',')
                    .map(|k| SecretSetting(k.trim().to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let key_error = |name: &'static str| SettingsError {
            name,
            value: "(hidden)".into(),
            reason: "expected 32 bytes in base64 (e.g. from `openssl rand -base64 32`)".into(),
        };
        if let Some(key) = &master_key {
            SecretBox::from_base64(&key.0, &[]).map_err(|_| key_error("STRATA_MASTER_KEY"))?;
        }
        for key in &old_master_keys {
            SecretBox::from_base64(&key.0, &[]).map_err(|_| key_error("STRATA_OLD_MASTER_KEYS"))?;
        }
        if environment == Environment::Production && master_key.is_none() {
            return Err(SettingsError {
                name: "STRATA_MASTER_KEY",
                value: String::new(),
                reason: "is required when STRATA_ENV=production".into(),
            });
        }

        let refresh_ms = match get("STRATA_REFRESH_MS") {
            None => 1000,
            Some(raw) => raw
                .parse::<u64>()
                .ok()
                .filter(|ms| (50..=60_000).contains(ms))
                .ok_or_else(|| {
                    invalid(
                        "STRATA_REFRESH_MS",
                        &raw,
                        "expected milliseconds between 50 and 60000",
                    )
                })?,
        };

        let number = |name: &'static str, default: u64, range: std::ops::RangeInclusive<u64>| {
            match get(name) {
                None => Ok(default),
                Some(raw) => raw
                    .parse::<u64>()
                    .ok()
                    .filter(|n| range.contains(n))
                    .ok_or_else(|| {
                        invalid(
                            name,
                            &raw,
                            &format!(
                                "expected a whole number from {} to {}",
                                range.start(),
                                range.end()
                            ),
                        )
                    }),
            }
        };
        let session_idle = std::time::Duration::from_secs(number(
            "STRATA_SESSION_IDLE_SECONDS",
            1800,
            5..=86_400,
        )?);
        let session_max_age =
            chrono::Duration::hours(number("STRATA_SESSION_MAX_HOURS", 12, 1..=720)? as i64);

        let admin_password = get("STRATA_ADMIN_PASSWORD").map(SecretSetting);
        if let Some(p) = &admin_password
            && p.0.chars().count() < 12
        {
            return Err(SettingsError {
                name: "STRATA_ADMIN_PASSWORD",
                value: "(hidden)".into(),
                reason: "must be at least 12 characters".into(),
            });
        }

        let trusted_proxies = match get("STRATA_TRUSTED_PROXIES") {
            None => Vec::new(),
            Some(raw) => parse_networks(&raw)
                .map_err(|reason| invalid("STRATA_TRUSTED_PROXIES", &raw, &reason))?,
        };

        Ok(Settings {
            trusted_proxies,
            session_idle,
            session_max_age,
            admin_password,
            refresh_interval: std::time::Duration::from_millis(refresh_ms),
            environment,
            addr,
            database_url,
            site_root,
            log_filter,
            data_dir,
            master_key,
            old_master_keys,
        })
    }
}

/// Comma-separated networks (`10.0.0.0/8`) or single addresses (`127.0.0.1`, `::1`).
fn parse_networks(raw: &str) -> Result<Vec<ipnet::IpNet>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            part.parse::<ipnet::IpNet>()
                .or_else(|_| part.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map(|net| net.trunc())
                .map_err(|_| {
                    format!("{part:?} is not an address or network; expected e.g. 10.0.0.0/8,::1")
                })
        })
        .collect()
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
            ("STRATA_REFRESH_MS", "10", "between 50 and 60000"),
            ("STRATA_SESSION_IDLE_SECONDS", "1", "from 5 to 86400"),
            ("STRATA_SESSION_MAX_HOURS", "0", "from 1 to 720"),
            ("STRATA_REFRESH_MS", "soon", "between 50 and 60000"),
            (
                "STRATA_TRUSTED_PROXIES",
                "10.0.0.0/8,proxy",
                "\"proxy\" is not",
            ),
            ("STRATA_TRUSTED_PROXIES", "10.0.0.0/33", "is not an address"),
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
    fn trusted_proxies_are_networks_or_addresses() {
        assert!(settings(&[]).unwrap().trusted_proxies.is_empty());
        let s = settings(&[("STRATA_TRUSTED_PROXIES", "10.1.2.3/8, 127.0.0.1,::1")]).unwrap();
        let shown: Vec<String> = s.trusted_proxies.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["10.0.0.0/8", "127.0.0.1/32", "::1/128"]);
    }

    #[test]
    fn production_requires_a_master_key() {
        let err = settings(&[("STRATA_ENV", "production")]).unwrap_err();
        assert_eq!(err.name, "STRATA_MASTER_KEY");
        let key = SecretBox::generate_key();
        let s = settings(&[("STRATA_ENV", "production"), ("STRATA_MASTER_KEY", &key)]).unwrap();
        assert_eq!(s.environment, Environment::Production);
        assert_eq!(s.master_key, Some(SecretSetting(key.clone())));
        assert!(
            !format!("{s:?}").contains(&key),
            "Debug must not print the key"
        );
    }

    #[test]
    fn bad_master_keys_are_refused_without_echoing_them() {
        for name in ["STRATA_MASTER_KEY", "STRATA_OLD_MASTER_KEYS"] {
            let err = settings(&[(name, "c2hvcnQ=")]).unwrap_err();
            assert_eq!(err.name, name);
            assert!(!err.to_string().contains("c2hvcnQ="), "{err}");
            assert!(err.reason.contains("32 bytes"));
        }
    }
}
