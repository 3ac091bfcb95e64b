//! Approvals (DESIGN §5): which changes need review, and the life of a change request.
//!
//! Rule: a rule of the approval policy matches an operation when its level (if it names one)
//! is the operation's level, its tenant (if it names one) is the tenant the operation's scope
//! lies in, and, for a rule about sensitive keys only, the key is sensitive. A change needs the
//! largest number of approvals any matching rule asks of any of its operations; zero means it
//! may be written directly. A request goes `draft` → `in_review` → `approved` → `applied`, or
//! ends `rejected`, `cancelled` or `conflicted`. Only its author edits, submits or cancels it;
//! an edit sends it back to review and clears its approvals. A reviewer is anyone else who may
//! write every scope of it; one approval each; it is approved once it holds as many approvals
//! as the policy asks now. Applying needs an approved request (or one that needs no approval,
//! in review) and someone who may write every scope of it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::level::Level;
use super::name::Slug;

/// The most approvals a rule may ask for.
pub const MAX_APPROVALS: u32 = 5;

/// One row of the approval policy.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRule {
    /// Only operations at this level (none: every level).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<Level>,
    /// Only operations inside this tenant (none: every tenant and the global level).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>))]
    pub tenant: Option<Slug>,
    /// Only operations on sensitive keys.
    #[serde(default)]
    pub sensitive_only: bool,
    /// Approvals a matching change needs (1 to [`MAX_APPROVALS`]).
    pub approvals: u32,
}

/// Where an operation lands, as the policy looks at it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OpPlace {
    pub level: Level,
    /// The tenant its scope lies in (a user's tenant for a user scope; none for global and
    /// platform users).
    pub tenant: Option<Slug>,
    pub sensitive: bool,
}

impl ApprovalRule {
    pub fn matches(&self, place: &OpPlace) -> bool {
        self.level.is_none_or(|l| l == place.level)
            && self
                .tenant
                .as_ref()
                .is_none_or(|t| place.tenant.as_ref() == Some(t))
            && (!self.sensitive_only || place.sensitive)
    }

    /// What is wrong with this rule, naming the field (`rules[i].…` is the caller's).
    pub fn check(&self) -> Result<(), String> {
        if self.approvals == 0 || self.approvals > MAX_APPROVALS {
            return Err(format!(
                "approvals: must be between 1 and {MAX_APPROVALS}, got {}",
                self.approvals
            ));
        }
        if self.tenant.is_some() && self.level == Some(Level::Global) {
            return Err("tenant: a rule for the global level cannot name a tenant".into());
        }
        Ok(())
    }

    /// How the console and messages describe it.
    pub fn describe(&self) -> String {
        let mut what = match self.level {
            Some(level) => format!("{level}-level changes"),
            None => "changes at any level".into(),
        };
        if self.sensitive_only {
            what.push_str(" to sensitive keys");
        }
        if let Some(tenant) = &self.tenant {
            what.push_str(&format!(" in tenant {tenant}"));
        }
        let n = self.approvals;
        format!("{what} need {n} approval{}", if n == 1 { "" } else { "s" })
    }
}

/// Approvals a change made of operations at `places` needs under `rules`.
pub fn required<'a>(rules: &[ApprovalRule], places: impl IntoIterator<Item = &'a OpPlace>) -> u32 {
    places
        .into_iter()
        .flat_map(|place| rules.iter().filter(move |r| r.matches(place)))
        .map(|r| r.approvals)
        .max()
        .unwrap_or(0)
}

/// The rule that asks most of `place`, for a message that says why approval is needed.
pub fn strictest<'a>(rules: &'a [ApprovalRule], place: &OpPlace) -> Option<&'a ApprovalRule> {
    rules
        .iter()
        .filter(|r| r.matches(place))
        .max_by_key(|r| r.approvals)
}

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeState {
    Draft,
    InReview,
    Approved,
    Applied,
    Rejected,
    Cancelled,
    Conflicted,
}

impl ChangeState {
    pub const ALL: [ChangeState; 7] = [
        ChangeState::Draft,
        ChangeState::InReview,
        ChangeState::Approved,
        ChangeState::Applied,
        ChangeState::Rejected,
        ChangeState::Cancelled,
        ChangeState::Conflicted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChangeState::Draft => "draft",
            ChangeState::InReview => "in_review",
            ChangeState::Approved => "approved",
            ChangeState::Applied => "applied",
            ChangeState::Rejected => "rejected",
            ChangeState::Cancelled => "cancelled",
            ChangeState::Conflicted => "conflicted",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ChangeState::Draft => "Draft",
            ChangeState::InReview => "In review",
            ChangeState::Approved => "Approved",
            ChangeState::Applied => "Applied",
            ChangeState::Rejected => "Rejected",
            ChangeState::Cancelled => "Cancelled",
            ChangeState::Conflicted => "Conflicted",
        }
    }

    /// Whether nothing more can happen to it but comments.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ChangeState::Applied | ChangeState::Rejected | ChangeState::Cancelled
        )
    }
}

impl fmt::Display for ChangeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ChangeState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ChangeState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "{s:?} is not a state: expected one of draft, in_review, approved, applied, rejected, cancelled, conflicted"
                )
            })
    }
}

/// What someone does to a change request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    Edit,
    Submit,
    Approve,
    Reject,
    Apply,
    Cancel,
    Comment,
}

impl Transition {
    pub const ALL: [Transition; 7] = [
        Transition::Edit,
        Transition::Submit,
        Transition::Approve,
        Transition::Reject,
        Transition::Apply,
        Transition::Cancel,
        Transition::Comment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Transition::Edit => "edit",
            Transition::Submit => "submit",
            Transition::Approve => "approve",
            Transition::Reject => "reject",
            Transition::Apply => "apply",
            Transition::Cancel => "cancel",
            Transition::Comment => "comment",
        }
    }
}

impl FromStr for Transition {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Transition::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not an action on a change request"))
    }
}

/// Who asks, as far as a transition cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Role {
    /// The request's author.
    pub author: bool,
    /// May write every scope of the request (and holds `config_write`).
    pub writes_all: bool,
    /// Has approved it in its current round already.
    pub approved: bool,
}

/// Where a request stands, as far as a transition cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub state: ChangeState,
    /// Approvals in the current round.
    pub approvals: u32,
    /// What the policy asks now.
    pub required: u32,
}

/// Why a transition may not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// This person may not do it (whatever the state).
    #[error("{0}")]
    NotAllowed(String),
    /// Not in the state the request is in.
    #[error("{0}")]
    WrongState(String),
}

/// The state `transition` leads to, or why it may not happen. Applying answers `Applied`; the
/// caller turns it into `Conflicted` when an entry moved.
pub fn next(
    standing: Standing,
    role: Role,
    transition: Transition,
) -> Result<ChangeState, Refusal> {
    use ChangeState::*;
    let state = standing.state;
    let refused = |why: &str| Err(Refusal::NotAllowed(why.to_owned()));
    let wrong = |why: String| Err(Refusal::WrongState(why));
    match transition {
        Transition::Comment => {
            if role.author || role.writes_all {
                Ok(state)
            } else {
                refused("only its author and those who may approve it comment on a change request")
            }
        }
        _ if state.is_final() => wrong(format!("this change request is {}", state.as_str())),
        Transition::Edit => {
            if !role.author {
                refused("only its author edits a change request")
            } else if state == Draft || state == Conflicted {
                // A conflicted request is reworked as a draft and submitted again.
                Ok(Draft)
            } else {
                // An edit is a new proposal: earlier approvals no longer hold.
                Ok(InReview)
            }
        }
        Transition::Submit => {
            if !role.author {
                refused("only its author submits a change request")
            } else if state != Draft && state != Conflicted {
                wrong(format!(
                    "only a draft is submitted; this one is {}",
                    state.as_str()
                ))
            } else if standing.required == 0 {
                Ok(Approved)
            } else {
                Ok(InReview)
            }
        }
        Transition::Approve => {
            if role.author {
                refused("you may not approve your own change request")
            } else if !role.writes_all {
                refused("only admins who may write every scope of a change request approve it")
            } else if state != InReview && state != Approved {
                wrong(format!(
                    "only a request in review is approved; this one is {}",
                    state.as_str()
                ))
            } else if role.approved {
                refused("you have approved this change request already")
            } else if standing.approvals + 1 >= standing.required {
                Ok(Approved)
            } else {
                Ok(InReview)
            }
        }
        Transition::Reject => {
            if role.author {
                refused("you may not reject your own change request; cancel it instead")
            } else if !role.writes_all {
                refused("only admins who may write every scope of a change request reject it")
            } else if state != InReview && state != Approved {
                wrong(format!(
                    "only a request in review is rejected; this one is {}",
                    state.as_str()
                ))
            } else {
                Ok(Rejected)
            }
        }
        Transition::Apply => {
            if !role.writes_all {
                refused("only admins who may write every scope of a change request apply it")
            } else if state != Approved && state != InReview {
                wrong(format!(
                    "only an approved request is applied; this one is {}",
                    state.as_str()
                ))
            } else if standing.approvals < standing.required {
                wrong(format!(
                    "this change request needs {} approval{} and has {}",
                    standing.required,
                    if standing.required == 1 { "" } else { "s" },
                    standing.approvals
                ))
            } else {
                Ok(Applied)
            }
        }
        Transition::Cancel => {
            if role.author {
                Ok(Cancelled)
            } else {
                refused("only its author cancels a change request")
            }
        }
    }
}

#[cfg(test)]
mod tests;
