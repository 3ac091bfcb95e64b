//! The traits an account can hold (DESIGN §3). What each one permits is the policy's business.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trait {
    AdminCapable,
    ConfigWrite,
    SuperAdmin,
    TenantAdmin,
    DeptAdmin,
    SecretsRead,
}

impl Trait {
    pub const ALL: [Trait; 6] = [
        Trait::AdminCapable,
        Trait::ConfigWrite,
        Trait::SuperAdmin,
        Trait::TenantAdmin,
        Trait::DeptAdmin,
        Trait::SecretsRead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Trait::AdminCapable => "admin_capable",
            Trait::ConfigWrite => "config_write",
            Trait::SuperAdmin => "super_admin",
            Trait::TenantAdmin => "tenant_admin",
            Trait::DeptAdmin => "dept_admin",
            Trait::SecretsRead => "secrets_read",
        }
    }
}

impl fmt::Display for Trait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "trait {0:?} is not valid: expected admin_capable, config_write, super_admin, tenant_admin, dept_admin or secrets_read"
)]
pub struct UnknownTrait(pub String);

impl FromStr for Trait {
    type Err = UnknownTrait;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Trait::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownTrait(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in Trait::ALL {
            assert_eq!(t.as_str().parse::<Trait>().unwrap(), t);
            assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{t}\""));
        }
        assert!(
            "admin"
                .parse::<Trait>()
                .unwrap_err()
                .to_string()
                .contains("\"admin\"")
        );
    }
}
