//! The five levels a value can be set at, from general to specific.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Global,
    Tenant,
    Department,
    Group,
    User,
}

impl Level {
    /// General to specific.
    pub const ALL: [Level; 5] = [
        Level::Global,
        Level::Tenant,
        Level::Department,
        Level::Group,
        Level::User,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Global => "global",
            Level::Tenant => "tenant",
            Level::Department => "department",
            Level::Group => "group",
            Level::User => "user",
        }
    }

    /// The label the console shows.
    pub fn label(self) -> &'static str {
        match self {
            Level::Global => "Global",
            Level::Tenant => "Tenant",
            Level::Department => "Department",
            Level::Group => "Group",
            Level::User => "User",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("level {0:?} is not valid: expected global, tenant, department, group or user")]
pub struct UnknownLevel(pub String);

impl FromStr for Level {
    type Err = UnknownLevel;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Level::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| UnknownLevel(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_orders_general_to_specific() {
        for level in Level::ALL {
            assert_eq!(level.as_str().parse::<Level>().unwrap(), level);
            assert_eq!(
                serde_json::to_string(&level).unwrap(),
                format!("\"{level}\"")
            );
        }
        assert!(Level::Global < Level::Tenant && Level::Group < Level::User);
        assert!("default".parse::<Level>().is_err());
    }
}
