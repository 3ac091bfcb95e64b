//! Whom a change affects, computed from the snapshots before it is made (DESIGN §5, Impact).
//!
//! Rule: a change is a list of entry operations, on scopes and on templates, applied in order
//! ([`Patches`]); a template edit reaches every scope that follows the template. A user is
//! affected when the effective value of a key the change touches differs before and after,
//! both decided by [`applied`], the one precedence rule. An entry is newly shadowed when, on
//! the chain of some user, it was not below a lock before the change and is after it. An
//! override is newly redundant when, after the change and not before, its value equals what
//! its scope inherits: for a user's entry, what their department and groups give them; for a
//! global, tenant, department or group entry, what the layers above it give (its template
//! included; the default for a global one). Template entries are the template's, not
//! overrides: they are never listed.
//!
//! Users of one department and groups share everything but their own entries, so each such
//! placement is resolved once per key and each user costs one look at their own layer.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;

use super::name::{ConfigKey, Slug};
use super::resolve::{Cell, Context, KeyIdx, Snapshot, applied};
use super::scope::Scope;

/// What one operation does to the entry of a key at a scope.
#[derive(Debug, Clone, PartialEq)]
pub enum OpKind {
    /// Sets the value (an existing entry keeps its lock).
    Set(Value),
    Unset,
    Lock,
    Unlock,
}

/// One operation of a change, on a key the snapshots know by `key`.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryOp {
    pub scope: Scope,
    pub key: KeyIdx,
    pub kind: OpKind,
}

/// One operation on an entry of a template (every scope that follows it sees the result).
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateOp {
    pub template: Slug,
    pub key: KeyIdx,
    pub kind: OpKind,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImpactError {
    /// Locking or unlocking needs an entry to lock.
    #[error("ops[{0}]: there is no entry to lock or unlock at that scope")]
    NoEntry(usize),
    /// The same, in a template.
    #[error("ops[{0}]: the template has no entry to lock or unlock")]
    NoTemplateEntry(usize),
}

/// The entries a change leaves behind, where it differs from the snapshots: `None` where it
/// removes one.
#[derive(Debug, Clone, Default)]
pub struct Patches {
    cells: HashMap<(Scope, KeyIdx), Option<Cell>>,
    /// The entries of templates, where the change edits them.
    templates: HashMap<(Slug, KeyIdx), Option<Cell>>,
}

/// Applies one operation to the entry `slot` holds; `false` when it locks or unlocks nothing.
fn apply_op(slot: &mut Option<Cell>, kind: &OpKind) -> bool {
    match (kind, slot.as_mut()) {
        (OpKind::Set(value), Some(cell)) => cell.value = value.clone(),
        (OpKind::Set(value), None) => {
            *slot = Some(Cell {
                value: value.clone(),
                locked: false,
                version: 0,
            })
        }
        (OpKind::Unset, _) => *slot = None,
        (OpKind::Lock | OpKind::Unlock, Some(cell)) => cell.locked = *kind == OpKind::Lock,
        (OpKind::Lock | OpKind::Unlock, None) => return false,
    }
    true
}

impl Patches {
    /// Applies `ops` in order over the entries `current` finds (an entry's scope and key →
    /// its cell in the snapshots).
    pub fn new(
        ops: &[EntryOp],
        current: impl Fn(&Scope, KeyIdx) -> Option<Cell>,
    ) -> Result<Patches, ImpactError> {
        let mut cells: HashMap<(Scope, KeyIdx), Option<Cell>> = HashMap::new();
        for (i, op) in ops.iter().enumerate() {
            let slot = cells
                .entry((op.scope.clone(), op.key))
                .or_insert_with(|| current(&op.scope, op.key));
            if !apply_op(slot, &op.kind) {
                return Err(ImpactError::NoEntry(i));
            }
        }
        Ok(Patches {
            cells,
            templates: HashMap::new(),
        })
    }

    /// Adds template edits: `ops` applied in order over the template entries `current` finds
    /// (a template's name and key → its entry).
    pub fn with_templates(
        mut self,
        ops: &[TemplateOp],
        current: impl Fn(&Slug, KeyIdx) -> Option<Cell>,
    ) -> Result<Patches, ImpactError> {
        for (i, op) in ops.iter().enumerate() {
            let slot = self
                .templates
                .entry((op.template.clone(), op.key))
                .or_insert_with(|| current(&op.template, op.key));
            if !apply_op(slot, &op.kind) {
                return Err(ImpactError::NoTemplateEntry(i));
            }
        }
        Ok(self)
    }

    /// The keys the change touches.
    pub fn keys(&self) -> BTreeSet<KeyIdx> {
        self.cells
            .keys()
            .map(|(_, k)| *k)
            .chain(self.templates.keys().map(|(_, k)| *k))
            .collect()
    }

    /// The templates the change edits (their followers' snapshots are reached).
    pub fn templates(&self) -> BTreeSet<&Slug> {
        self.templates.keys().map(|(t, _)| t).collect()
    }

    /// Whether the change touches the global level (then every snapshot is affected).
    pub fn touches_global(&self) -> bool {
        self.cells.keys().any(|(s, _)| *s == Scope::Global)
    }

    /// The tenants whose snapshots the change touches below the global level (`None`: a
    /// platform user's; users are placed by `tenant_of`).
    pub fn tenants(
        &self,
        tenant_of: impl Fn(&Slug) -> Option<Option<Slug>>,
    ) -> BTreeSet<Option<Slug>> {
        self.cells
            .keys()
            .filter_map(|(scope, _)| match scope {
                Scope::Global => None,
                Scope::User { user } => tenant_of(user),
                other => Some(other.tenant().cloned()),
            })
            .collect()
    }

    /// The change's entry of `key` at `scope` (with the scope as stored here), when the change
    /// touches it: `Some((scope, None))` where it removes it.
    fn get(&self, scope: &Scope, key: KeyIdx) -> Option<(&Scope, Option<&Cell>)> {
        self.cells
            .get_key_value(&(scope.clone(), key))
            .map(|((scope, _), cell)| (scope, cell.as_ref()))
    }

    /// The change's entry of `key` in template `name`, when it edits it.
    fn template(&self, name: &Slug, key: KeyIdx) -> Option<Option<&Cell>> {
        self.templates.get(&(name.clone(), key)).map(Option::as_ref)
    }
}

/// One user's value of one key, before and after.
#[derive(Debug, Clone, PartialEq)]
pub struct Changed {
    pub tenant: Option<Slug>,
    pub user: Slug,
    pub key: ConfigKey,
    pub from: Option<Value>,
    pub to: Option<Value>,
}

/// Whom a change affects (see the module's rule).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Impact {
    pub users_affected: usize,
    /// Users affected per tenant (`None`: platform users).
    pub by_tenant: BTreeMap<Option<Slug>, usize>,
    /// Users whose value of each touched key changes (every touched key, zero included).
    pub by_key: BTreeMap<ConfigKey, usize>,
    /// The first changed values by tenant, user and key, at most the sample size asked for.
    pub sample: Vec<Changed>,
    /// Entries a new lock would hide, by scope and key.
    pub newly_shadowed: BTreeSet<(Scope, ConfigKey)>,
    /// Overrides the change makes equal to what they inherit.
    pub redundant: BTreeSet<(Scope, ConfigKey)>,
}

/// A candidate of a chain: the scope of an own entry (`None` for a template's) and the cell.
type Candidates<'a> = Vec<(Option<&'a Scope>, &'a Cell)>;

/// The impact of `patches` on the users of `snapshots` (those the change can reach: every
/// snapshot for a global change, else those of [`Patches::tenants`] and those in which a scope
/// follows a template of [`Patches::templates`]).
pub fn impact(snapshots: &[&Snapshot], patches: &Patches, sample: usize) -> Impact {
    let keys = patches.keys();
    let mut out = Impact::default();
    if let Some(first) = snapshots.first() {
        for &k in &keys {
            out.by_key
                .insert(first.keys.defs()[k as usize].key.clone(), 0);
        }
    }
    let mut changed: Vec<Changed> = Vec::new();
    if let Some(first) = snapshots.first() {
        global_redundancy(first, patches, &keys, &mut out);
    }
    for snapshot in snapshots {
        let tenant = snapshot.tenant.as_ref();
        let mut affected: BTreeSet<&Slug> = BTreeSet::new();
        scope_redundancy(snapshot, patches, &keys, &mut out);
        // Users by placement: department and groups in chain order.
        let mut placements: HashMap<(Option<&Slug>, Vec<&Slug>), Vec<&Slug>> = HashMap::new();
        let contexts: Vec<(Context, &Slug)> = snapshot
            .users
            .keys()
            .map(|u| (Context::User(u.clone()), u))
            .collect();
        for (context, user) in &contexts {
            // Users come from the snapshot itself, so their placement is known.
            if let Ok(split) = snapshot.split_chain(context) {
                placements
                    .entry((split.department, split.groups))
                    .or_default()
                    .push(user);
            }
        }
        for ((department, groups), users) in &placements {
            for &k in &keys {
                let def = &snapshot.keys.defs()[k as usize];
                let shared_before = shared_candidates(snapshot, None, *department, groups, k);
                let shared_after =
                    shared_candidates(snapshot, Some(patches), *department, groups, k);
                let lock_before = first_lock(&shared_before);
                let lock_after = first_lock(&shared_after);
                shadowed(
                    &shared_before,
                    &shared_after,
                    &def.key,
                    &mut out.newly_shadowed,
                );
                let base_before = applied_of(&shared_before).or(def.default.as_ref());
                let base_after = applied_of(&shared_after).or(def.default.as_ref());
                for &user in users {
                    let scope = Scope::User { user: user.clone() };
                    let own_before = snapshot.layers.get(&scope).and_then(|layer| layer.get(k));
                    let own_after = match patches.get(&scope, k) {
                        Some((_, patched)) => patched,
                        None => own_before,
                    };
                    let from = with_own(own_before, lock_before.is_some(), base_before);
                    let to = with_own(own_after, lock_after.is_some(), base_after);
                    if from != to {
                        affected.insert(user);
                        *out.by_key.entry(def.key.clone()).or_default() += 1;
                        changed.push(Changed {
                            tenant: tenant.cloned(),
                            user: user.clone(),
                            key: def.key.clone(),
                            from: from.cloned(),
                            to: to.cloned(),
                        });
                    }
                    if let Some(cell) = own_after {
                        let hidden_before = own_before.is_some() && lock_before.is_some();
                        if lock_after.is_some() && !hidden_before {
                            out.newly_shadowed.insert((scope.clone(), def.key.clone()));
                        }
                        let redundant_after =
                            lock_after.is_none() && Some(&cell.value) == base_after;
                        let redundant_before = own_before.is_some_and(|c| {
                            lock_before.is_none() && Some(&c.value) == base_before
                        });
                        if redundant_after && !redundant_before {
                            out.redundant.insert((scope, def.key.clone()));
                        }
                    }
                }
            }
        }
        if !affected.is_empty() {
            out.users_affected += affected.len();
            *out.by_tenant.entry(tenant.cloned()).or_default() += affected.len();
        }
    }
    changed.sort_by(|a, b| (&a.tenant, &a.user, &a.key).cmp(&(&b.tenant, &b.user, &b.key)));
    changed.truncate(sample);
    out.sample = changed;
    out
}

/// A user's value: their own entry unless the shared part is locked, else the shared value.
fn with_own<'a>(
    own: Option<&'a Cell>,
    locked: bool,
    shared: Option<&'a Value>,
) -> Option<&'a Value> {
    match own {
        Some(cell) if !locked => Some(&cell.value),
        _ => shared,
    }
}

/// The candidates of key `k` on the shared part of a chain (global; the tenant, department
/// and groups, each after its template), with the change applied when `patches` is given.
fn shared_candidates<'a>(
    snapshot: &'a Snapshot,
    patches: Option<&'a Patches>,
    department: Option<&Slug>,
    groups: &[&Slug],
    k: KeyIdx,
) -> Candidates<'a> {
    // A scope's own entry: the change's where it touches it, else the snapshot's (the scope
    // borrowed from wherever the entry lives).
    let own = |scope: &Scope| -> Option<(&'a Scope, &'a Cell)> {
        match patches.and_then(|p| p.get(scope, k)) {
            Some((stored, patched)) => patched.map(|cell| (stored, cell)),
            None => {
                let layer = match scope {
                    Scope::Global => snapshot.global.as_ref(),
                    scope => snapshot.layers.get(scope)?,
                };
                Some((layer.scope(), layer.get(k)?))
            }
        }
    };
    let mut out: Candidates<'a> = Vec::new();
    out.extend(own(&Scope::Global).map(|(s, c)| (Some(s), c)));
    let Some(tenant) = &snapshot.tenant else {
        return out;
    };
    let mut scopes = vec![Scope::Tenant {
        tenant: tenant.clone(),
    }];
    scopes.extend(department.map(|d| Scope::Department {
        tenant: tenant.clone(),
        department: d.clone(),
    }));
    scopes.extend(groups.iter().map(|g| Scope::Group {
        tenant: tenant.clone(),
        group: (*g).clone(),
    }));
    for scope in scopes {
        if let Some(layer) = snapshot.followed.get(&scope) {
            // The template's entry as the change leaves it, where it edits the template.
            let edited = patches
                .zip(layer.template())
                .and_then(|(p, t)| p.template(t, k));
            if let Some(cell) = edited.unwrap_or_else(|| layer.get(k)) {
                out.push((None, cell));
            }
        }
        out.extend(own(&scope).map(|(s, c)| (Some(s), c)));
    }
    out
}

fn first_lock(candidates: &Candidates<'_>) -> Option<usize> {
    candidates.iter().position(|(_, cell)| cell.locked)
}

fn applied_of<'a>(candidates: &Candidates<'a>) -> Option<&'a Value> {
    applied(
        candidates
            .iter()
            .map(|(_, cell)| (&cell.value, cell.locked)),
    )
}

/// Own entries of the shared part that a lock hides after the change and not before.
fn shadowed(
    before: &Candidates<'_>,
    after: &Candidates<'_>,
    key: &ConfigKey,
    out: &mut BTreeSet<(Scope, ConfigKey)>,
) {
    let Some(lock) = first_lock(after) else {
        return;
    };
    let hidden_before: BTreeSet<&Scope> = match first_lock(before) {
        Some(l) => before[l + 1..].iter().filter_map(|(s, _)| *s).collect(),
        None => BTreeSet::new(),
    };
    for (scope, _) in &after[lock + 1..] {
        if let Some(scope) = scope
            && !hidden_before.contains(scope)
        {
            out.insert(((*scope).clone(), key.clone()));
        }
    }
}

/// Whether the global entry of a touched key becomes equal to the key's default.
fn global_redundancy(
    snapshot: &Snapshot,
    patches: &Patches,
    keys: &BTreeSet<KeyIdx>,
    out: &mut Impact,
) {
    for &k in keys {
        let Some((_, after)) = patches.get(&Scope::Global, k) else {
            continue;
        };
        let def = &snapshot.keys.defs()[k as usize];
        let equal =
            |cell: Option<&Cell>| cell.is_some_and(|c| def.default.as_ref() == Some(&c.value));
        if equal(after) && !equal(snapshot.global.get(k)) {
            out.redundant.insert((Scope::Global, def.key.clone()));
        }
    }
}

/// The tenant, department and group entries of touched keys that become equal to what the
/// layers above them give.
fn scope_redundancy(
    snapshot: &Snapshot,
    patches: &Patches,
    keys: &BTreeSet<KeyIdx>,
    out: &mut Impact,
) {
    let Some(tenant) = &snapshot.tenant else {
        return;
    };
    let mut scopes = vec![Scope::Tenant {
        tenant: tenant.clone(),
    }];
    scopes.extend(snapshot.departments.iter().map(|d| Scope::Department {
        tenant: tenant.clone(),
        department: d.clone(),
    }));
    scopes.extend(snapshot.groups.keys().map(|g| Scope::Group {
        tenant: tenant.clone(),
        group: g.clone(),
    }));
    for scope in scopes {
        let (department, group) = match &scope {
            Scope::Department { department, .. } => (Some(department), None),
            Scope::Group { group, .. } => (None, Some(group)),
            _ => (None, None),
        };
        let groups: Vec<&Slug> = group.into_iter().collect();
        for &k in keys {
            let def = &snapshot.keys.defs()[k as usize];
            let state = |patches: Option<&Patches>| {
                let chain = shared_candidates(snapshot, patches, department, &groups, k);
                // The scope's own entry is the last candidate when it has one.
                match chain.split_last() {
                    Some(((Some(s), cell), above)) if **s == scope => {
                        let above: Candidates<'_> = above.to_vec();
                        first_lock(&above).is_none()
                            && applied_of(&above).or(def.default.as_ref()) == Some(&cell.value)
                    }
                    _ => false,
                }
            };
            if state(Some(patches)) && !state(None) {
                out.redundant.insert((scope.clone(), def.key.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests;
