//! The approval rule table by table, and the request life cycle against every role.

use proptest::prelude::*;

use super::*;

fn slug(s: &str) -> Slug {
    Slug::parse("tenant", s).unwrap()
}

fn place(level: Level, tenant: Option<&str>, sensitive: bool) -> OpPlace {
    OpPlace {
        level,
        tenant: tenant.map(slug),
        sensitive,
    }
}

fn rule(level: Option<Level>, tenant: Option<&str>, sensitive_only: bool, n: u32) -> ApprovalRule {
    ApprovalRule {
        level,
        tenant: tenant.map(slug),
        sensitive_only,
        approvals: n,
    }
}

#[test]
fn a_change_needs_the_most_any_matching_rule_asks() {
    let rules = vec![
        rule(Some(Level::Global), None, false, 2),
        rule(Some(Level::Department), Some("t1"), false, 1),
        rule(None, None, true, 3),
        rule(None, Some("t2"), false, 1),
    ];
    let cases: &[(&[OpPlace], u32)] = &[
        (&[], 0),
        (&[place(Level::Global, None, false)], 2),
        (&[place(Level::Global, None, true)], 3),
        (&[place(Level::Department, Some("t1"), false)], 1),
        // Another tenant's department: no rule names it.
        (&[place(Level::Department, Some("t3"), false)], 0),
        (&[place(Level::User, Some("t1"), false)], 0),
        (&[place(Level::User, Some("t2"), false)], 1),
        (&[place(Level::User, None, true)], 3),
        // The strictest operation decides for the whole change.
        (
            &[
                place(Level::Department, Some("t1"), false),
                place(Level::Global, None, false),
            ],
            2,
        ),
    ];
    for (places, want) in cases {
        assert_eq!(required(&rules, places.iter()), *want, "{places:?}");
    }
    assert_eq!(required(&[], [place(Level::Global, None, true)].iter()), 0);
}

#[test]
fn the_strictest_rule_explains_the_requirement() {
    let rules = vec![rule(None, None, false, 1), rule(None, None, true, 2)];
    let strict = strictest(&rules, &place(Level::Tenant, Some("t1"), true)).unwrap();
    assert_eq!(strict.approvals, 2);
    assert_eq!(
        strict.describe(),
        "changes at any level to sensitive keys need 2 approvals"
    );
    assert_eq!(
        rule(Some(Level::Department), Some("t1"), false, 1).describe(),
        "department-level changes in tenant t1 need 1 approval"
    );
    assert!(strictest(&rules[1..], &place(Level::Tenant, None, false)).is_none());
}

#[test]
fn rules_are_checked_field_by_field() {
    assert!(rule(None, None, false, 1).check().is_ok());
    assert!(
        rule(None, None, false, 0)
            .check()
            .unwrap_err()
            .starts_with("approvals:")
    );
    assert!(
        rule(None, None, false, MAX_APPROVALS + 1)
            .check()
            .unwrap_err()
            .starts_with("approvals:")
    );
    assert!(
        rule(Some(Level::Global), Some("t1"), false, 1)
            .check()
            .unwrap_err()
            .starts_with("tenant:")
    );
}

#[test]
fn states_and_transitions_read_back_from_their_names() {
    for state in ChangeState::ALL {
        assert_eq!(state.as_str().parse::<ChangeState>(), Ok(state));
    }
    for t in Transition::ALL {
        assert_eq!(t.as_str().parse::<Transition>(), Ok(t));
    }
    assert!("merged".parse::<ChangeState>().is_err());
    assert!("merge".parse::<Transition>().is_err());
}

const AUTHOR: Role = Role {
    author: true,
    writes_all: true,
    approved: false,
};
const REVIEWER: Role = Role {
    author: false,
    writes_all: true,
    approved: false,
};
const BYSTANDER: Role = Role {
    author: false,
    writes_all: false,
    approved: false,
};

fn standing(state: ChangeState, approvals: u32, required: u32) -> Standing {
    Standing {
        state,
        approvals,
        required,
    }
}

#[test]
fn the_life_cycle_table() {
    use ChangeState::*;
    use Transition::*;
    let ok = |s: Standing, r: Role, t: Transition| next(s, r, t).unwrap();
    // Submitting: to review, or straight to approved when nothing is asked.
    assert_eq!(ok(standing(Draft, 0, 1), AUTHOR, Submit), InReview);
    assert_eq!(ok(standing(Draft, 0, 0), AUTHOR, Submit), Approved);
    assert_eq!(ok(standing(Conflicted, 0, 1), AUTHOR, Submit), InReview);
    assert!(next(standing(Draft, 0, 1), REVIEWER, Submit).is_err());
    assert!(next(standing(InReview, 0, 1), AUTHOR, Submit).is_err());
    // Approving: by someone else who may write it all, once each, until enough.
    assert_eq!(ok(standing(InReview, 0, 1), REVIEWER, Approve), Approved);
    assert_eq!(ok(standing(InReview, 0, 2), REVIEWER, Approve), InReview);
    assert_eq!(ok(standing(InReview, 1, 2), REVIEWER, Approve), Approved);
    assert_eq!(
        next(standing(InReview, 0, 1), AUTHOR, Approve)
            .unwrap_err()
            .to_string(),
        "you may not approve your own change request"
    );
    assert!(next(standing(InReview, 0, 1), BYSTANDER, Approve).is_err());
    let again = Role {
        approved: true,
        ..REVIEWER
    };
    assert!(next(standing(InReview, 1, 2), again, Approve).is_err());
    assert!(next(standing(Draft, 0, 1), REVIEWER, Approve).is_err());
    // Rejecting ends it; the author cancels instead.
    assert_eq!(ok(standing(InReview, 0, 1), REVIEWER, Reject), Rejected);
    assert!(next(standing(InReview, 0, 1), AUTHOR, Reject).is_err());
    assert!(next(standing(InReview, 0, 1), BYSTANDER, Reject).is_err());
    // Applying needs the approvals the policy asks now.
    assert_eq!(ok(standing(Approved, 1, 1), AUTHOR, Apply), Applied);
    assert_eq!(ok(standing(Approved, 1, 1), REVIEWER, Apply), Applied);
    assert_eq!(
        next(standing(Approved, 1, 2), AUTHOR, Apply).unwrap_err(),
        Refusal::WrongState("this change request needs 2 approvals and has 1".into())
    );
    assert_eq!(ok(standing(InReview, 0, 0), AUTHOR, Apply), Applied);
    assert!(next(standing(Approved, 1, 1), BYSTANDER, Apply).is_err());
    assert!(next(standing(Draft, 0, 0), AUTHOR, Apply).is_err());
    assert!(next(standing(Conflicted, 1, 1), AUTHOR, Apply).is_err());
    // Editing: the author's; a reviewed request goes back to review.
    assert_eq!(ok(standing(Draft, 0, 1), AUTHOR, Edit), Draft);
    assert_eq!(ok(standing(Approved, 1, 1), AUTHOR, Edit), InReview);
    assert_eq!(ok(standing(Conflicted, 1, 1), AUTHOR, Edit), Draft);
    assert!(next(standing(Draft, 0, 1), REVIEWER, Edit).is_err());
    // Cancelling: the author's, until it is final.
    assert_eq!(ok(standing(Approved, 1, 1), AUTHOR, Cancel), Cancelled);
    assert!(next(standing(InReview, 0, 1), REVIEWER, Cancel).is_err());
    // Comments: author and reviewers, whatever the state; no one else.
    assert_eq!(ok(standing(Applied, 1, 1), REVIEWER, Comment), Applied);
    assert!(next(standing(InReview, 0, 1), BYSTANDER, Comment).is_err());
}

fn any_state() -> impl Strategy<Value = ChangeState> {
    proptest::sample::select(ChangeState::ALL.to_vec())
}

fn any_transition() -> impl Strategy<Value = Transition> {
    proptest::sample::select(Transition::ALL.to_vec())
}

fn any_role() -> impl Strategy<Value = Role> {
    (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(author, writes_all, approved)| Role {
        author,
        writes_all,
        approved,
    })
}

proptest! {
    /// Whatever happens, a final request stays final, nothing reaches `applied` short of the
    /// approvals asked, no author approves their own request, and only someone who may write
    /// every scope applies or approves.
    #[test]
    fn the_life_cycle_keeps_its_promises(
        state in any_state(),
        role in any_role(),
        transition in any_transition(),
        approvals in 0u32..4,
        required_now in 0u32..4,
    ) {
        let standing = standing(state, approvals, required_now);
        if let Ok(to) = next(standing, role, transition) {
            if state.is_final() {
                prop_assert_eq!(to, state);
                prop_assert_eq!(transition, Transition::Comment);
            }
            if to == ChangeState::Applied && state != ChangeState::Applied {
                prop_assert!(approvals >= required_now);
                prop_assert!(role.writes_all);
            }
            if transition == Transition::Approve {
                prop_assert!(!role.author && role.writes_all && !role.approved);
            }
            if to == ChangeState::Approved && transition == Transition::Approve {
                prop_assert!(approvals + 1 >= required_now);
            }
            if matches!(transition, Transition::Edit | Transition::Submit | Transition::Cancel) {
                prop_assert!(role.author);
            }
        }
    }

    /// Adding a rule never lowers what a change needs.
    #[test]
    fn more_rules_never_ask_less(
        levels in proptest::collection::vec(0usize..5, 1..4),
        sensitive in any::<bool>(),
        extra_level in proptest::option::of(0usize..5),
        extra_n in 1u32..=MAX_APPROVALS,
    ) {
        let places: Vec<OpPlace> = levels
            .iter()
            .map(|i| place(Level::ALL[*i], Some("t1"), sensitive))
            .collect();
        let mut rules = vec![rule(Some(Level::Department), None, false, 1)];
        let before = required(&rules, places.iter());
        rules.push(rule(extra_level.map(|i| Level::ALL[i]), None, false, extra_n));
        let after = required(&rules, places.iter());
        prop_assert!(after >= before);
        if extra_level.is_none_or(|i| levels.contains(&i)) {
            prop_assert!(after >= extra_n);
        }
    }
}
