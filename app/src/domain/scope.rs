//! Where an entry is set: a level plus the tenant, department, group or user it applies to.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::level::Level;
use super::name::{NameError, Slug};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "level", rename_all = "lowercase")]
pub enum Scope {
    Global,
    Tenant { tenant: Slug },
    Department { tenant: Slug, department: Slug },
    Group { tenant: Slug, group: Slug },
    User { user: Slug },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error(
        "scope {0:?} is not valid: expected global, tenant:T, department:T/D, group:T/G or user:U"
    )]
    Malformed(String),
    #[error("scope {scope:?} is not valid: {source}")]
    BadName { scope: String, source: NameError },
}

impl Scope {
    pub fn level(&self) -> Level {
        match self {
            Scope::Global => Level::Global,
            Scope::Tenant { .. } => Level::Tenant,
            Scope::Department { .. } => Level::Department,
            Scope::Group { .. } => Level::Group,
            Scope::User { .. } => Level::User,
        }
    }

    /// The tenant this scope belongs to; user scopes answer through the user's record.
    pub fn tenant(&self) -> Option<&Slug> {
        match self {
            Scope::Tenant { tenant }
            | Scope::Department { tenant, .. }
            | Scope::Group { tenant, .. } => Some(tenant),
            Scope::Global | Scope::User { .. } => None,
        }
    }

    /// The scope id as DESIGN §1 writes it: none for global, `T`, `T/D`, `T/G` or `U`.
    pub fn id(&self) -> Option<String> {
        match self {
            Scope::Global => None,
            Scope::Tenant { tenant } => Some(tenant.to_string()),
            Scope::Department { tenant, department } => Some(format!("{tenant}/{department}")),
            Scope::Group { tenant, group } => Some(format!("{tenant}/{group}")),
            Scope::User { user } => Some(user.to_string()),
        }
    }

    /// Builds a scope from a level and the ids given separately (CLI flags, documents).
    pub fn from_parts(
        level: Level,
        tenant: Option<&str>,
        department: Option<&str>,
        group: Option<&str>,
        user: Option<&str>,
    ) -> Result<Scope, String> {
        let need = |value: Option<&str>, flag: &'static str, what: &'static str| {
            let value = value.ok_or_else(|| format!("a {level}-level scope needs {flag}"))?;
            Slug::parse(what, value).map_err(|e| e.to_string())
        };
        let forbid = |value: Option<&str>, flag: &'static str| match value {
            Some(_) => Err(format!("{flag} does not belong to a {level}-level scope")),
            None => Ok(()),
        };
        Ok(match level {
            Level::Global => {
                forbid(tenant, "tenant")?;
                forbid(department, "department")?;
                forbid(group, "group")?;
                forbid(user, "user")?;
                Scope::Global
            }
            Level::Tenant => {
                forbid(department, "department")?;
                forbid(group, "group")?;
                forbid(user, "user")?;
                Scope::Tenant {
                    tenant: need(tenant, "tenant", "tenant")?,
                }
            }
            Level::Department => {
                forbid(group, "group")?;
                forbid(user, "user")?;
                Scope::Department {
                    tenant: need(tenant, "tenant", "tenant")?,
                    department: need(department, "department", "department")?,
                }
            }
            Level::Group => {
                forbid(department, "department")?;
                forbid(user, "user")?;
                Scope::Group {
                    tenant: need(tenant, "tenant", "tenant")?,
                    group: need(group, "group", "group")?,
                }
            }
            Level::User => {
                forbid(tenant, "tenant")?;
                forbid(department, "department")?;
                forbid(group, "group")?;
                Scope::User {
                    user: need(user, "user", "user")?,
                }
            }
        })
    }
}

/// The API's form: `global`, `tenant:T`, `department:T/D`, `group:T/G`, `user:U`.
impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.id() {
            None => f.write_str("global"),
            Some(id) => write!(f, "{}:{id}", self.level()),
        }
    }
}

impl FromStr for Scope {
    type Err = ScopeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let malformed = || ScopeError::Malformed(s.to_owned());
        if s == "global" {
            return Ok(Scope::Global);
        }
        let (level, id) = s.split_once(':').ok_or_else(malformed)?;
        let level: Level = level.parse().map_err(|_| malformed())?;
        let (first, second) = match id.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (id, None),
        };
        let parts = match (level, second) {
            (Level::Tenant, None) => Scope::from_parts(level, Some(first), None, None, None),
            (Level::Department, Some(d)) => {
                Scope::from_parts(level, Some(first), Some(d), None, None)
            }
            (Level::Group, Some(g)) => Scope::from_parts(level, Some(first), None, Some(g), None),
            (Level::User, None) => Scope::from_parts(level, None, None, None, Some(first)),
            _ => return Err(malformed()),
        };
        parts.map_err(|_| {
            // Re-run the name checks to report which name was wrong.
            let name_error = [Some(first), second]
                .into_iter()
                .flatten()
                .find_map(|n| Slug::parse("id", n).err());
            match name_error {
                Some(source) => ScopeError::BadName {
                    scope: s.to_owned(),
                    source,
                },
                None => malformed(),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slug(s: &str) -> Slug {
        Slug::parse("id", s).unwrap()
    }

    #[test]
    fn api_form_round_trips() {
        let scopes = [
            Scope::Global,
            Scope::Tenant {
                tenant: slug("mercy"),
            },
            Scope::Department {
                tenant: slug("mercy"),
                department: slug("medical"),
            },
            Scope::Group {
                tenant: slug("mercy"),
                group: slug("doctors"),
            },
            Scope::User {
                user: slug("user123"),
            },
        ];
        let texts = [
            "global",
            "tenant:mercy",
            "department:mercy/medical",
            "group:mercy/doctors",
            "user:user123",
        ];
        for (scope, text) in scopes.iter().zip(texts) {
            assert_eq!(scope.to_string(), text);
            assert_eq!(&text.parse::<Scope>().unwrap(), scope);
        }
        assert_eq!(scopes[2].id().as_deref(), Some("mercy/medical"));
        assert_eq!(scopes[0].id(), None);
    }

    #[test]
    fn malformed_scopes_are_refused_with_the_expected_forms() {
        for bad in [
            "",
            "tenant",
            "tenant:",
            "tenant:a/b",
            "department:a",
            "user:a/b",
            "planet:x",
            "global:x",
        ] {
            let err = bad.parse::<Scope>().unwrap_err().to_string();
            assert!(err.contains("is not valid"), "{bad}: {err}");
        }
        let err = "tenant:Mercy".parse::<Scope>().unwrap_err().to_string();
        assert!(err.contains("\"Mercy\""), "{err}");
    }

    #[test]
    fn parts_name_the_missing_or_extra_flag() {
        assert_eq!(
            Scope::from_parts(Level::Department, Some("t"), None, None, None).unwrap_err(),
            "a department-level scope needs department"
        );
        assert_eq!(
            Scope::from_parts(Level::Global, Some("t"), None, None, None).unwrap_err(),
            "tenant does not belong to a global-level scope"
        );
    }
}
