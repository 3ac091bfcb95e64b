//! What the editor says about a key at one scope, read off the key's chain from the
//! resolution engine (nothing here re-implements precedence).
//!
//! Rule: with an entry at the scope, the key is "Locked by" the applied entry when a more
//! general lock wins over it, "Overridden" when it sits over a more general entry, and "Set
//! here" otherwise. Without one, it is "Locked by" the applied entry when that is locked (an
//! entry here would be ignored), "Inherited from" the applied source (perhaps the default),
//! or not set at all. An unlocked entry that applies is redundant when, without it, the step
//! before it in the chain (a more general entry, its template's, or the default) would apply
//! with the same value: removing it would change nothing.

use serde::{Deserialize, Serialize};

use super::resolve::{Candidate, CandidateState, Source};
use super::scope::Scope;

/// Where a value comes from, as the console names it (`tenant mercy_hospital`, `default`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// `default` or a level name.
    pub level: String,
    pub scope: Option<String>,
    /// The template the scope follows, when the value is the template's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
}

impl Origin {
    /// Where `source` says a value comes from; none when unset.
    pub fn of(source: &Source<'_>) -> Option<Origin> {
        Some(Origin {
            level: source.level_name()?.to_owned(),
            scope: source.scope_id().map(str::to_owned),
            template: source.template().map(str::to_owned),
        })
    }

    pub fn describe(&self) -> String {
        match (&self.template, &self.scope) {
            (Some(template), _) => format!("template {template}"),
            (None, Some(scope)) => format!("{} {scope}", self.level),
            (None, None) => self.level.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Label {
    SetHere,
    Overridden,
    Inherited(Origin),
    LockedBy(Origin),
    NotSet,
}

impl Label {
    /// The words on the badge.
    pub fn text(&self) -> String {
        match self {
            Label::SetHere => "Set here".into(),
            Label::Overridden => "Overridden".into(),
            Label::Inherited(origin) => format!("Inherited from {}", origin.describe()),
            Label::LockedBy(origin) => format!("Locked by {}", origin.describe()),
            Label::NotSet => "Not set".into(),
        }
    }

    /// A short class name for styling (`set-here`, `inherited`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Label::SetHere => "set-here",
            Label::Overridden => "overridden",
            Label::Inherited(_) => "inherited",
            Label::LockedBy(_) => "locked",
            Label::NotSet => "not-set",
        }
    }
}

fn is_at(candidate: &Candidate<'_>, scope: &Scope) -> bool {
    match candidate.source {
        // A template's entry at the scope is inherited, not the scope's own.
        Source::Entry {
            level,
            scope: id,
            template: None,
        } => level == scope.level() && id.map(str::to_owned) == scope.id(),
        _ => false,
    }
}

/// The label of a key at `scope`, given its chain for the layers down to `scope`.
pub fn label(chain: &[Candidate<'_>], scope: &Scope) -> Label {
    let applied = chain.iter().find(|c| c.state == CandidateState::Applied);
    let here = chain.iter().position(|c| is_at(c, scope));
    match (here, applied) {
        (Some(i), _) if chain[i].state == CandidateState::IgnoredLocked => applied
            .and_then(|a| Origin::of(&a.source))
            .map_or(Label::SetHere, Label::LockedBy),
        (Some(i), _) => {
            let over_entry = chain[..i]
                .iter()
                .any(|c| matches!(c.source, Source::Entry { .. }));
            if over_entry {
                Label::Overridden
            } else {
                Label::SetHere
            }
        }
        (None, Some(a)) => match Origin::of(&a.source) {
            Some(origin) if a.locked => Label::LockedBy(origin),
            Some(origin) => Label::Inherited(origin),
            None => Label::NotSet,
        },
        (None, None) => Label::NotSet,
    }
}

/// Whether the scope's own entry only repeats what the scope would inherit without it (see
/// the module's rule). A lock is never redundant: it binds the levels below.
pub fn redundant(chain: &[Candidate<'_>], scope: &Scope) -> bool {
    match chain {
        [.., before, here] => {
            is_at(here, scope)
                && here.state == CandidateState::Applied
                && !here.locked
                && before.value == here.value
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::domain::level::Level;

    fn entry(
        level: Level,
        scope: Option<&'static str>,
        locked: bool,
        state: CandidateState,
    ) -> Candidate<'static> {
        static VALUE: Value = Value::Null;
        Candidate {
            source: Source::Entry {
                level,
                scope,
                template: None,
            },
            value: &VALUE,
            locked,
            state,
        }
    }

    fn default(state: CandidateState) -> Candidate<'static> {
        static VALUE: Value = Value::Bool(true);
        Candidate {
            source: Source::Default,
            value: &VALUE,
            locked: false,
            state,
        }
    }

    fn origin(level: &str, scope: Option<&str>) -> Origin {
        Origin {
            level: level.into(),
            scope: scope.map(str::to_owned),
            template: None,
        }
    }

    #[test]
    fn labels_follow_the_chain() {
        use CandidateState::{Applied as A, IgnoredLocked as I, Overridden as O};
        let tenant: Scope = "tenant:t".parse().unwrap();
        let department: Scope = "department:t/d".parse().unwrap();
        let rows: Vec<(&str, Vec<Candidate<'static>>, &Scope, Label)> = vec![
            ("nothing anywhere", vec![], &tenant, Label::NotSet),
            (
                "only the default",
                vec![default(A)],
                &tenant,
                Label::Inherited(origin("default", None)),
            ),
            (
                "set here over the default only",
                vec![default(O), entry(Level::Tenant, Some("t"), false, A)],
                &tenant,
                Label::SetHere,
            ),
            (
                "set here over a global entry",
                vec![
                    entry(Level::Global, None, false, O),
                    entry(Level::Tenant, Some("t"), false, A),
                ],
                &tenant,
                Label::Overridden,
            ),
            (
                "inherited from the tenant",
                vec![default(O), entry(Level::Tenant, Some("t"), false, A)],
                &department,
                Label::Inherited(origin("tenant", Some("t"))),
            ),
            (
                "a tenant lock above an entry here",
                vec![
                    entry(Level::Tenant, Some("t"), true, A),
                    entry(Level::Department, Some("t/d"), false, I),
                ],
                &department,
                Label::LockedBy(origin("tenant", Some("t"))),
            ),
            (
                "a tenant lock, nothing here",
                vec![default(O), entry(Level::Tenant, Some("t"), true, A)],
                &department,
                Label::LockedBy(origin("tenant", Some("t"))),
            ),
            (
                "locked here is still set here",
                vec![default(O), entry(Level::Tenant, Some("t"), true, A)],
                &tenant,
                Label::SetHere,
            ),
        ];
        for (name, chain, scope, expected) in rows {
            assert_eq!(label(&chain, scope), expected, "{name}");
        }
        assert_eq!(
            Label::LockedBy(origin("tenant", Some("t"))).text(),
            "Locked by tenant t"
        );
        assert_eq!(
            Label::Inherited(origin("default", None)).text(),
            "Inherited from default"
        );
    }

    #[test]
    fn an_entry_is_redundant_only_where_removing_it_changes_nothing() {
        use CandidateState::{Applied as A, IgnoredLocked as I, Overridden as O};
        static TRUE: Value = Value::Bool(true);
        static FALSE: Value = Value::Bool(false);
        let valued = |level, scope, value: &'static Value, locked, state| Candidate {
            value,
            ..entry(level, scope, locked, state)
        };
        let tenant: Scope = "tenant:t".parse().unwrap();
        let department: Scope = "department:t/d".parse().unwrap();
        let rows: Vec<(&str, Vec<Candidate<'static>>, &Scope, bool)> = vec![
            (
                "equal to the default",
                vec![
                    default(O),
                    valued(Level::Tenant, Some("t"), &TRUE, false, A),
                ],
                &tenant,
                true,
            ),
            (
                "different from the default",
                vec![
                    default(O),
                    valued(Level::Tenant, Some("t"), &FALSE, false, A),
                ],
                &tenant,
                false,
            ),
            (
                "equal to the global entry over it",
                vec![
                    default(O),
                    valued(Level::Global, None, &FALSE, false, O),
                    valued(Level::Tenant, Some("t"), &FALSE, false, A),
                ],
                &tenant,
                true,
            ),
            (
                "equal, but locked: it binds the levels below",
                vec![default(O), valued(Level::Tenant, Some("t"), &TRUE, true, A)],
                &tenant,
                false,
            ),
            (
                "under a lock: ignored, not redundant",
                vec![
                    valued(Level::Tenant, Some("t"), &TRUE, true, A),
                    valued(Level::Department, Some("t/d"), &TRUE, false, I),
                ],
                &department,
                false,
            ),
            (
                "the last step is another scope's",
                vec![
                    default(O),
                    valued(Level::Tenant, Some("t"), &TRUE, false, A),
                ],
                &department,
                false,
            ),
            (
                "nothing before it",
                vec![valued(Level::Tenant, Some("t"), &TRUE, false, A)],
                &tenant,
                false,
            ),
        ];
        for (name, chain, scope, expected) in rows {
            assert_eq!(redundant(&chain, scope), expected, "{name}");
        }
    }
}
