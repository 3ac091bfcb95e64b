//! What a committed change touches, read off its audit events (every change writes them, so
//! nothing can change unnoticed).
//!
//! Rule: an entry change touches that one entry of its scope's tenant's snapshot (a global
//! entry touches the global layer every snapshot shares; a key definition touches every
//! snapshot); a tenant, department or group change touches that tenant's snapshot; a user
//! created or changed in place touches that user's row of their tenant's snapshot, a user
//! deleted or moved the snapshots of the tenant they are in and of the one they left; either
//! touches their credentials; passwords, traits, disabling and
//! token revocations touch credentials only. A template entry change touches the snapshots of
//! whatever follows that template (a template's own description or skeleton touches none: it
//! resolves nothing). Sign-ins, reveals, token creation, key rotations, the approval policy
//! and a change request's reviews touch nothing (an applied request's entry events do): they
//! get no revision and no replica reloads for them. An action this rule does not know touches
//! everything, so a new kind of change is never missed, only published too widely.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::audit_chain::AuditRecord;

/// More single entries than this, and a change touches their snapshots instead.
pub const MAX_ENTRIES: usize = 64;

/// What one change touched. A row naming something this build does not know is refused
/// (`deny_unknown_fields`), so a replica of an older build takes it to touch everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Touched {
    /// Every snapshot (a global entry without its key, an unknown action).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub everything: bool,
    /// The snapshots of these tenants (`None`: the platform users').
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub snapshots: BTreeSet<Option<String>>,
    /// Single entries of a snapshot, `(snapshot, scope, key)`: a replica re-reads just those
    /// rows (unless the snapshot is rebuilt anyway).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub entries: BTreeSet<(Option<String>, String, String)>,
    /// Users created or changed without moving, `(snapshot, user)`: a replica re-reads just
    /// their rows and puts them in place (unless the snapshot is rebuilt anyway).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub users: BTreeSet<(Option<String>, String)>,
    /// Global entries, by key: the global layer every snapshot shares, re-read row by row.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub global: BTreeSet<String>,
    /// Templates whose entries changed, by name: the snapshots of the scopes that follow them.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub templates: BTreeSet<String>,
    /// Key definitions defined, changed or deleted, by name: every snapshot moves to the new
    /// definitions in memory (re-reading the definitions, no tenant's rows).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub keys: BTreeSet<String>,
    /// Credentials: who a session or a token acts as.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub accounts: bool,
}

impl Touched {
    /// Whether the change needs a revision at all.
    pub fn is_empty(&self) -> bool {
        !self.everything
            && self.snapshots.is_empty()
            && self.entries.is_empty()
            && self.users.is_empty()
            && self.global.is_empty()
            && self.templates.is_empty()
            && self.keys.is_empty()
            && !self.accounts
    }

    /// Whether any snapshot must catch up.
    pub fn any_snapshot(&self) -> bool {
        self.everything
            || !self.snapshots.is_empty()
            || !self.entries.is_empty()
            || !self.users.is_empty()
            || !self.global.is_empty()
            || !self.templates.is_empty()
            || !self.keys.is_empty()
    }

    pub fn merge(&mut self, other: Touched) {
        self.everything |= other.everything;
        self.accounts |= other.accounts;
        self.snapshots.extend(other.snapshots);
        self.entries.extend(other.entries);
        self.users.extend(other.users);
        self.global.extend(other.global);
        self.templates.extend(other.templates);
        self.keys.extend(other.keys);
        if self.global.len() > MAX_ENTRIES {
            self.global.clear();
            self.everything = true;
        }
        if self.entries.len() > MAX_ENTRIES {
            // Past this many, re-reading row by row costs more than rebuilding their
            // snapshots, and the change row would grow with the change (a bulk import).
            let entries = std::mem::take(&mut self.entries);
            self.snapshots
                .extend(entries.into_iter().map(|(snapshot, _, _)| snapshot));
        }
        if self.users.len() > MAX_ENTRIES {
            // A bulk import's users: their snapshots are rebuilt.
            let users = std::mem::take(&mut self.users);
            self.snapshots
                .extend(users.into_iter().map(|(snapshot, _)| snapshot));
        }
    }

    /// What `event` touches.
    pub fn of(event: &AuditRecord) -> Touched {
        let tenant = || BTreeSet::from([event.tenant.clone()]);
        let mut touched = Touched::default();
        match event.action.as_str() {
            "entry.set" | "entry.lock" | "entry.unlock" | "entry.unset" => {
                match (event.level.as_deref(), &event.scope, &event.key) {
                    (Some("global"), _, Some(key)) => {
                        touched.global.insert(key.clone());
                    }
                    (Some("global"), _, None) => touched.everything = true,
                    (Some(level), Some(scope), Some(key)) => {
                        touched.entries.insert((
                            event.tenant.clone(),
                            format!("{level}:{scope}"),
                            key.clone(),
                        ));
                    }
                    // An entry event that does not say where: its whole snapshot.
                    _ => touched.snapshots = tenant(),
                }
            }
            "key.create" | "key.update" | "key.delete" => match &event.key {
                Some(key) => {
                    touched.keys.insert(key.clone());
                }
                None => touched.everything = true,
            },
            "template.entry.set" | "template.entry.unset" => match &event.scope {
                Some(template) => {
                    touched.templates.insert(template.clone());
                }
                None => touched.everything = true,
            },
            "template.create" | "template.update" | "template.delete" => {}
            "tenant.create" | "tenant.update" | "tenant.delete" | "department.create"
            | "department.update" | "department.delete" | "group.create" | "group.update"
            | "group.delete" => touched.snapshots = tenant(),
            "user.create" | "user.update" | "user.delete" => {
                let left = former_tenant(event).filter(|left| *left != event.tenant);
                match (&event.scope, left) {
                    // Where a user sits in the snapshot they stay in: that row alone.
                    (Some(user), None) if event.action != "user.delete" => {
                        touched.users.insert((event.tenant.clone(), user.clone()));
                    }
                    (_, left) => {
                        touched.snapshots = tenant();
                        touched.snapshots.extend(left);
                    }
                }
                touched.accounts = true;
            }
            "user.password" | "user.traits" | "user.disable" | "token.revoke" => {
                touched.accounts = true
            }
            "login.success" | "login.failure" | "login.throttled" | "token.revoked_use"
            | "token.create" | "secret.reveal" | "master_key.rotate" | "import" | "import.env"
            // A change request's life touches nothing until it is applied, and then its
            // entries' own events say what they touch.
            | "approval_policy.update" | "change.create" | "change.edit" | "change.submit"
            | "change.approve" | "change.reject" | "change.apply" | "change.cancel"
            | "change.comment" | "change.conflict" => {}
            _ => touched.everything = true,
        }
        touched
    }

    /// What all of `events`, one transaction's, touch.
    pub fn of_all<'a>(events: impl IntoIterator<Item = &'a AuditRecord>) -> Touched {
        let mut touched = Touched::default();
        for event in events {
            touched.merge(Touched::of(event));
        }
        touched
    }
}

/// The tenant a changed user was in before, as their event's old value records it.
fn former_tenant(event: &AuditRecord) -> Option<Option<String>> {
    let old: serde_json::Value = serde_json::from_str(event.old_value.as_deref()?).ok()?;
    let tenant = old.as_object()?.get("tenant")?;
    Some(tenant.as_str().map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_entry_touches_its_followers_and_its_description_nothing() {
        let entry = AuditRecord {
            action: "template.entry.set".into(),
            scope: Some("healthcare".into()),
            key: Some("hipaa.enabled".into()),
            ..Default::default()
        };
        let touched = Touched::of(&entry);
        assert_eq!(touched.templates, BTreeSet::from(["healthcare".to_owned()]));
        assert!(touched.any_snapshot() && !touched.everything);
        for action in ["template.create", "template.update", "template.delete"] {
            assert!(
                Touched::of(&event(action, None, None)).is_empty(),
                "{action}"
            );
        }
    }

    fn event(action: &str, level: Option<&str>, tenant: Option<&str>) -> AuditRecord {
        AuditRecord {
            action: action.into(),
            level: level.map(str::to_owned),
            tenant: tenant.map(str::to_owned),
            ..Default::default()
        }
    }

    fn entry(
        action: &str,
        level: &str,
        tenant: Option<&str>,
        scope: &str,
        key: &str,
    ) -> AuditRecord {
        AuditRecord {
            scope: Some(scope.into()),
            key: Some(key.into()),
            ..event(action, Some(level), tenant)
        }
    }

    fn snapshots(names: &[Option<&str>]) -> BTreeSet<Option<String>> {
        names.iter().map(|n| n.map(str::to_owned)).collect()
    }

    #[test]
    fn each_kind_of_event_touches_what_it_changes() {
        let cases: Vec<(AuditRecord, Touched)> = vec![
            (
                entry("entry.set", "tenant", Some("t1"), "t1", "k"),
                Touched {
                    entries: BTreeSet::from([(Some("t1".into()), "tenant:t1".into(), "k".into())]),
                    ..Default::default()
                },
            ),
            (
                entry("entry.unset", "user", None, "root", "k"),
                Touched {
                    entries: BTreeSet::from([(None, "user:root".into(), "k".into())]),
                    ..Default::default()
                },
            ),
            (
                event("entry.set", Some("group"), Some("t1")),
                Touched {
                    snapshots: snapshots(&[Some("t1")]),
                    ..Default::default()
                },
            ),
            (
                event("entry.lock", Some("global"), None),
                Touched {
                    everything: true,
                    ..Default::default()
                },
            ),
            (
                entry("entry.set", "global", None, "", "k"),
                Touched {
                    global: BTreeSet::from(["k".to_owned()]),
                    ..Default::default()
                },
            ),
            (
                event("key.update", None, None),
                Touched {
                    everything: true,
                    ..Default::default()
                },
            ),
            (
                AuditRecord {
                    key: Some("ui.theme".into()),
                    ..event("key.delete", None, None)
                },
                Touched {
                    keys: BTreeSet::from(["ui.theme".to_owned()]),
                    ..Default::default()
                },
            ),
            (
                event("group.create", Some("group"), Some("t2")),
                Touched {
                    snapshots: snapshots(&[Some("t2")]),
                    ..Default::default()
                },
            ),
            (
                event("user.password", Some("user"), Some("t1")),
                Touched {
                    accounts: true,
                    ..Default::default()
                },
            ),
            (
                event("token.revoke", None, Some("t1")),
                Touched {
                    accounts: true,
                    ..Default::default()
                },
            ),
            (
                event("login.failure", Some("user"), Some("t1")),
                Touched::default(),
            ),
            (event("secret.reveal", None, Some("t1")), Touched::default()),
            (event("token.create", None, None), Touched::default()),
            (
                event("something.new", None, None),
                Touched {
                    everything: true,
                    ..Default::default()
                },
            ),
        ];
        for (event, expected) in cases {
            assert_eq!(Touched::of(&event), expected, "{}", event.action);
        }
    }

    #[test]
    fn a_user_created_or_changed_in_place_touches_their_row_and_a_delete_their_snapshot() {
        let of = |action: &str, tenant: Option<&str>, old: Option<&str>| AuditRecord {
            scope: Some("user".into()),
            old_value: old.map(str::to_owned),
            ..event(action, Some("user"), tenant)
        };
        let row =
            |tenant: Option<&str>| BTreeSet::from([(tenant.map(str::to_owned), "user".to_owned())]);
        let created = Touched::of(&of("user.create", Some("t1"), None));
        assert_eq!(created.users, row(Some("t1")));
        assert!(created.snapshots.is_empty() && created.accounts);
        let renamed = of(
            "user.update",
            Some("t1"),
            Some(r#"{"name":"Pat","tenant":"t1"}"#),
        );
        assert_eq!(Touched::of(&renamed).users, row(Some("t1")));
        let platform = Touched::of(&of("user.create", None, None));
        assert_eq!(platform.users, row(None));
        let deleted = Touched::of(&of("user.delete", Some("t1"), None));
        assert!(deleted.users.is_empty());
        assert_eq!(deleted.snapshots, snapshots(&[Some("t1")]));
        // A bulk import's users: their snapshots instead, once past the limit.
        let many: Vec<AuditRecord> = (0..=MAX_ENTRIES)
            .map(|i| AuditRecord {
                scope: Some(format!("u{i}")),
                ..event("user.create", Some("user"), Some("t2"))
            })
            .collect();
        let touched = Touched::of_all(&many);
        assert!(touched.users.is_empty());
        assert_eq!(touched.snapshots, snapshots(&[Some("t2")]));
        let json = serde_json::to_string(&created).unwrap();
        assert_eq!(serde_json::from_str::<Touched>(&json).unwrap(), created);
    }

    #[test]
    fn a_user_moved_between_tenants_touches_both() {
        let moved = AuditRecord {
            old_value: Some(r#"{"name":"Pat","tenant":"t1"}"#.into()),
            ..event("user.update", Some("user"), Some("t2"))
        };
        let touched = Touched::of(&moved);
        assert_eq!(touched.snapshots, snapshots(&[Some("t1"), Some("t2")]));
        assert!(touched.accounts);
        let to_platform = AuditRecord {
            old_value: Some(r#"{"tenant":"t1"}"#.into()),
            ..event("user.update", Some("user"), None)
        };
        assert_eq!(
            Touched::of(&to_platform).snapshots,
            snapshots(&[None, Some("t1")])
        );
    }

    #[test]
    fn a_transaction_touches_what_its_events_touch_together() {
        let events = [
            event("login.success", Some("user"), Some("t1")),
            event("group.update", Some("group"), Some("t1")),
            entry("entry.set", "tenant", Some("t3"), "t3", "k"),
            event("user.disable", Some("user"), Some("t1")),
        ];
        let touched = Touched::of_all(&events);
        assert_eq!(touched.snapshots, snapshots(&[Some("t1")]));
        assert_eq!(touched.entries.len(), 1);
        assert!(touched.accounts && !touched.everything);
        assert!(Touched::of_all(&events[..1]).is_empty());
        let json = serde_json::to_string(&touched).unwrap();
        assert_eq!(serde_json::from_str::<Touched>(&json).unwrap(), touched);
    }

    #[test]
    fn a_change_of_many_entries_touches_their_snapshots_instead() {
        let few: Vec<AuditRecord> = (0..MAX_ENTRIES)
            .map(|i| entry("entry.set", "tenant", Some("t1"), "t1", &format!("k{i}")))
            .collect();
        let touched = Touched::of_all(&few);
        assert_eq!(touched.entries.len(), MAX_ENTRIES);
        assert!(touched.snapshots.is_empty());
        // One more, in another tenant: both tenants' snapshots, and no entries.
        let mut many = few;
        many.push(entry("entry.set", "user", Some("t2"), "u9", "k"));
        let touched = Touched::of_all(&many);
        assert!(touched.entries.is_empty());
        assert_eq!(touched.snapshots, snapshots(&[Some("t1"), Some("t2")]));
        assert!(!touched.everything);
    }
}
