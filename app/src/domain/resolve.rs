//! The resolution engine (DESIGN §2).
//!
//! Rule: a key's candidates run general → specific: the key's default, then the entries of
//! global, tenant T, department T/D, each of the user's groups (ascending priority, ties by
//! ascending slug) and user U. Scanning in that order, each entry replaces the one before and a
//! locked entry ends the scan. So the most specific entry wins unless a more general entry is
//! locked (then the most general lock wins); with no entry the default applies; with no default
//! the key is unset. Every label and preview in Strata comes from [`effective`] and [`chain`],
//! which share [`applied`]; nothing else decides precedence.
//!
//! Templates (rule 5) are layers too: a tenant, department or group that follows a template
//! gets the template's entries as a layer of its own level and scope, just before its own
//! layer, so its own entries override the template's and a locked template entry locks at that
//! position. Those layers share the template's entries, so a template edit is one replacement.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};
use serde_json::Value;

use super::key::KeyDefinition;
use super::level::Level;
use super::name::{ConfigKey, Slug};
use super::scope::Scope;
use super::value::MASK;

/// A key's position in [`Keys`]; layers are addressed by it instead of by name.
pub type KeyIdx = u32;

/// One stored entry's value and lock.
#[derive(Clone, PartialEq)]
pub struct Cell {
    pub value: Value,
    pub locked: bool,
    pub version: i64,
}

// Values may be secrets: Debug shows the shape, never the value.
impl fmt::Debug for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cell")
            .field("locked", &self.locked)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// The key definitions of the platform, sorted by name (so outputs are sorted too).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Keys {
    defs: Vec<KeyDefinition>,
    index: HashMap<ConfigKey, KeyIdx>,
}

impl Keys {
    pub fn new(mut defs: Vec<KeyDefinition>) -> Self {
        defs.sort_by(|a, b| a.key.cmp(&b.key));
        defs.dedup_by(|a, b| a.key == b.key);
        let index = defs
            .iter()
            .enumerate()
            .map(|(i, d)| (d.key.clone(), i as KeyIdx))
            .collect();
        Keys { defs, index }
    }

    pub fn get(&self, key: &ConfigKey) -> Option<(KeyIdx, &KeyDefinition)> {
        let idx = *self.index.get(key)?;
        Some((idx, &self.defs[idx as usize]))
    }

    pub fn idx(&self, key: &str) -> Option<KeyIdx> {
        ConfigKey::parse(key)
            .ok()
            .and_then(|k| self.index.get(&k).copied())
    }

    pub fn defs(&self) -> &[KeyDefinition] {
        &self.defs
    }

    pub fn len(&self) -> usize {
        self.defs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.defs.is_empty()
    }

    /// Where each key here sits in `next` (none: `next` has no such key), by index here. Keys
    /// are sorted by name, so a key defined or deleted moves the ones after it.
    pub fn moves_to(&self, next: &Keys) -> KeyMoves {
        let to: Vec<Option<KeyIdx>> = self
            .defs
            .iter()
            .map(|d| next.index.get(&d.key).copied())
            .collect();
        let unmoved = to.iter().enumerate().all(|(i, t)| *t == Some(i as KeyIdx));
        KeyMoves { to, unmoved }
    }
}

/// How entries addressed by one [`Keys`] are addressed by another (see [`Keys::moves_to`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMoves {
    to: Vec<Option<KeyIdx>>,
    /// Every key keeps its index: entries need no rewriting.
    unmoved: bool,
}

/// The entries of one scope, sorted by key index; or, with `template`, the entries of the
/// template that scope follows.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    scope: Scope,
    scope_id: Option<String>,
    template: Option<Slug>,
    // Shared between a template and every layer that follows it; written copy-on-write.
    entries: Arc<Vec<(KeyIdx, Cell)>>,
}

impl Layer {
    pub fn new(scope: Scope) -> Self {
        let scope_id = scope.id();
        Layer {
            scope,
            scope_id,
            template: None,
            entries: Arc::default(),
        }
    }

    /// The layer `scope` gets from following the template `name`, whose entries are those of
    /// `template` (shared, not copied).
    pub fn following(scope: Scope, name: Slug, template: &Layer) -> Self {
        Layer {
            template: Some(name),
            entries: template.entries.clone(),
            ..Layer::new(scope)
        }
    }

    /// The template this layer comes from; none for a scope's own entries.
    pub fn template(&self) -> Option<&Slug> {
        self.template.as_ref()
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    pub fn level(&self) -> Level {
        self.scope.level()
    }

    pub fn get(&self, idx: KeyIdx) -> Option<&Cell> {
        self.entries
            .binary_search_by_key(&idx, |(i, _)| *i)
            .ok()
            .map(|pos| &self.entries[pos].1)
    }

    pub fn set(&mut self, idx: KeyIdx, cell: Cell) {
        let entries = Arc::make_mut(&mut self.entries);
        match entries.binary_search_by_key(&idx, |(i, _)| *i) {
            Ok(pos) => entries[pos].1 = cell,
            Err(pos) => entries.insert(pos, (idx, cell)),
        }
    }

    pub fn remove(&mut self, idx: KeyIdx) -> Option<Cell> {
        let pos = self.entries.binary_search_by_key(&idx, |(i, _)| *i).ok()?;
        Some(Arc::make_mut(&mut self.entries).remove(pos).1)
    }

    pub fn entries(&self) -> impl Iterator<Item = (KeyIdx, &Cell)> {
        self.entries.iter().map(|(i, c)| (*i, c))
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// This layer with its entries addressed as `moves` says; entries of keys that are gone
    /// are dropped. Unmoved entries stay shared.
    pub fn rekeyed(&self, moves: &KeyMoves) -> Layer {
        Layer {
            entries: rekey_entries(&self.entries, moves),
            ..self.clone()
        }
    }
}

fn rekey_entries(entries: &Arc<Vec<(KeyIdx, Cell)>>, moves: &KeyMoves) -> Arc<Vec<(KeyIdx, Cell)>> {
    if moves.unmoved {
        return entries.clone();
    }
    // Moves keep the order of names, so entries stay sorted by index.
    Arc::new(
        entries
            .iter()
            .filter_map(|(idx, cell)| {
                let to = moves.to.get(*idx as usize).copied().flatten()?;
                Some((to, cell.clone()))
            })
            .collect(),
    )
}

/// Where an effective value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source<'a> {
    /// No entry and no default.
    Unset,
    /// The key's default.
    Default,
    Entry {
        level: Level,
        scope: Option<&'a str>,
        /// The template the scope follows, when the entry is the template's.
        template: Option<&'a str>,
    },
}

impl<'a> Source<'a> {
    fn of(layer: &'a Layer) -> Self {
        Source::Entry {
            level: layer.level(),
            scope: layer.scope_id.as_deref(),
            template: layer.template.as_ref().map(Slug::as_str),
        }
    }

    /// The template that supplied the value, if one did.
    pub fn template(&self) -> Option<&'a str> {
        match self {
            Source::Entry { template, .. } => *template,
            _ => None,
        }
    }

    /// `default`, a level name, or none when unset (the wire form of `level`).
    pub fn level_name(&self) -> Option<&'static str> {
        match self {
            Source::Unset => None,
            Source::Default => Some("default"),
            Source::Entry { level, .. } => Some(level.as_str()),
        }
    }

    pub fn scope_id(&self) -> Option<&'a str> {
        match self {
            Source::Entry { scope, .. } => *scope,
            _ => None,
        }
    }
}

/// A key's effective value for one context.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Resolved<'a> {
    pub key: &'a KeyDefinition,
    pub value: Option<&'a Value>,
    pub source: Source<'a>,
    /// The applied entry is locked: no more specific level can override it.
    pub locked: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CandidateState {
    Applied,
    /// A more specific entry won.
    Overridden,
    /// A more general entry is locked.
    IgnoredLocked,
}

/// One step of a key's chain.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate<'a> {
    pub source: Source<'a>,
    pub value: &'a Value,
    pub locked: bool,
    pub state: CandidateState,
}

/// The precedence rule itself: among candidates ordered general → specific (each with its
/// lock), the applied one is the last before and including the first lock.
pub fn applied<T>(candidates: impl IntoIterator<Item = (T, bool)>) -> Option<T> {
    let mut applied = None;
    for (candidate, locked) in candidates {
        applied = Some(candidate);
        if locked {
            break;
        }
    }
    applied
}

/// Effective values of every key for the chain `layers` (general → specific, without the
/// defaults), in key order.
pub fn effective<'a>(keys: &'a Keys, layers: &[&'a Layer]) -> Vec<Resolved<'a>> {
    // Keys are visited in index order, so each layer is walked once with a cursor.
    let mut cursors = vec![0usize; layers.len()];
    let mut out = Vec::with_capacity(keys.len());
    for (idx, def) in keys.defs.iter().enumerate() {
        let idx = idx as KeyIdx;
        let mut cells = layers
            .iter()
            .zip(cursors.iter_mut())
            .filter_map(|(layer, cursor)| {
                let entries = &layer.entries;
                while *cursor < entries.len() && entries[*cursor].0 < idx {
                    *cursor += 1;
                }
                match entries.get(*cursor) {
                    Some((i, cell)) if *i == idx => Some(((*layer, cell), cell.locked)),
                    _ => None,
                }
            });
        let resolved = match applied(&mut cells) {
            Some((layer, cell)) => Resolved {
                key: def,
                value: Some(&cell.value),
                source: Source::of(layer),
                locked: cell.locked,
            },
            None => Resolved {
                key: def,
                value: def.default.as_ref(),
                source: if def.default.is_some() {
                    Source::Default
                } else {
                    Source::Unset
                },
                locked: false,
            },
        };
        out.push(resolved);
    }
    out
}

/// The chain of one key: the default (when there is one) and every entry of `layers`,
/// general → specific, each with its state.
pub fn chain<'a>(def: &'a KeyDefinition, idx: KeyIdx, layers: &[&'a Layer]) -> Vec<Candidate<'a>> {
    let entries: Vec<(&Layer, &Cell)> = layers
        .iter()
        .filter_map(|layer| layer.get(idx).map(|cell| (*layer, cell)))
        .collect();
    let winner = applied(
        entries
            .iter()
            .enumerate()
            .map(|(i, (_, cell))| (i, cell.locked)),
    );
    let mut out = Vec::with_capacity(entries.len() + 1);
    if let Some(default) = &def.default {
        out.push(Candidate {
            source: Source::Default,
            value: default,
            locked: false,
            state: if winner.is_some() {
                CandidateState::Overridden
            } else {
                CandidateState::Applied
            },
        });
    }
    for (i, (layer, cell)) in entries.into_iter().enumerate() {
        let state = match winner {
            Some(w) if i < w => CandidateState::Overridden,
            Some(w) if i == w => CandidateState::Applied,
            _ => CandidateState::IgnoredLocked,
        };
        out.push(Candidate {
            source: Source::of(layer),
            value: &cell.value,
            locked: cell.locked,
            state,
        });
    }
    out
}

/// A key where a scope's own entry differs from its template's: (definition, the template's
/// value, the scope's own).
pub type Overridden<'a> = (&'a KeyDefinition, &'a Value, &'a Value);

/// A user's place in the directory, as far as resolution needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub department: Option<Slug>,
    pub groups: Vec<Slug>,
}

/// A context's chain cut where users differ (see [`Snapshot::split_chain`]).
#[derive(Debug)]
pub struct SplitChain<'s, 'c> {
    /// What the shared part depends on besides the snapshot: the department and the groups
    /// in chain order (borrowed from the snapshot or the context).
    pub department: Option<&'c Slug>,
    pub groups: Vec<&'c Slug>,
    /// The user's own entries.
    pub own: Option<&'s Layer>,
}

/// Whose configuration to resolve within a snapshot's tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Context {
    /// A real user: their department, groups and own entries.
    User(Slug),
    /// A composed context without a user.
    WhatIf {
        department: Option<Slug>,
        groups: Vec<Slug>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContextError {
    #[error("user {0:?} was not found")]
    UnknownUser(String),
    #[error("department {0:?} was not found")]
    UnknownDepartment(String),
    #[error("group {0:?} was not found")]
    UnknownGroup(String),
}

/// Everything needed to resolve any context of one tenant (or of the platform users, when
/// `tenant` is none), held in memory so reads never go to the database per key.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Increases with every change that can alter a resolution here (ETags derive from it).
    pub version: u64,
    pub tenant: Option<Slug>,
    pub keys: Arc<Keys>,
    pub global: Arc<Layer>,
    /// This tenant's tenant, department, group and user layers that hold entries.
    pub layers: HashMap<Scope, Layer>,
    /// The template layer of each tenant, department and group here that follows a template
    /// (see [`Layer::following`]).
    pub followed: HashMap<Scope, Layer>,
    pub departments: HashSet<Slug>,
    /// Priority of each group of the tenant.
    pub groups: HashMap<Slug, i64>,
    pub users: HashMap<Slug, Placement>,
}

impl Snapshot {
    /// Whether two snapshots resolve every context alike (their versions aside).
    pub fn same_content(&self, other: &Snapshot) -> bool {
        self.tenant == other.tenant
            && self.keys == other.keys
            && self.global == other.global
            && self.layers == other.layers
            && self.followed == other.followed
            && self.departments == other.departments
            && self.groups == other.groups
            && self.users == other.users
    }

    /// Replaces the entry of key `idx` at `scope` with `cell` (removes it when none), keeping
    /// a layer only while it holds entries, as a full load builds them.
    pub fn set_entry(&mut self, scope: &Scope, idx: KeyIdx, cell: Option<Cell>) {
        match cell {
            Some(cell) => self
                .layers
                .entry(scope.clone())
                .or_insert_with(|| Layer::new(scope.clone()))
                .set(idx, cell),
            None => {
                if let Some(layer) = self.layers.get_mut(scope) {
                    layer.remove(idx);
                    if layer.is_empty() {
                        self.layers.remove(scope);
                    }
                }
            }
        }
    }

    /// This snapshot over the key definitions `keys` (a key defined, changed or deleted):
    /// every layer's entries moved to their keys' new places, entries of deleted keys dropped,
    /// `global` (already moved once, since every snapshot shares it) as its global layer. The
    /// layers following one template keep sharing its entries: `templates` holds each
    /// template's moved entries for the next snapshot.
    pub fn rekeyed(
        &self,
        keys: Arc<Keys>,
        moves: &KeyMoves,
        global: Arc<Layer>,
        templates: &mut HashMap<Slug, Arc<Vec<(KeyIdx, Cell)>>>,
    ) -> Snapshot {
        let layers = self
            .layers
            .iter()
            .map(|(scope, layer)| (scope.clone(), layer.rekeyed(moves)))
            .filter(|(_, layer)| !layer.is_empty())
            .collect();
        let followed = self
            .followed
            .iter()
            .map(|(scope, layer)| {
                let entries = match &layer.template {
                    Some(name) => templates
                        .entry(name.clone())
                        .or_insert_with(|| rekey_entries(&layer.entries, moves))
                        .clone(),
                    None => rekey_entries(&layer.entries, moves),
                };
                let layer = Layer {
                    entries,
                    ..layer.clone()
                };
                (scope.clone(), layer)
            })
            .collect();
        Snapshot {
            version: self.version,
            tenant: self.tenant.clone(),
            keys,
            global,
            layers,
            followed,
            departments: self.departments.clone(),
            groups: self.groups.clone(),
            users: self.users.clone(),
        }
    }

    /// Points every layer that follows the template `name` at `template`'s entries (a
    /// template edit: every scope here that follows it changes at once).
    pub fn replace_template(&mut self, name: &Slug, template: &Layer) {
        for layer in self.followed.values_mut() {
            if layer.template.as_ref() == Some(name) {
                layer.entries = template.entries.clone();
            }
        }
    }

    /// The drift of each scope here that follows the template `name`: the keys where the
    /// scope's own entry holds another value than the template's (definition, template value,
    /// own value), in key order.
    pub fn drift(&self, name: &Slug) -> Vec<(Scope, Vec<Overridden<'_>>)> {
        let mut out: Vec<_> = self
            .followed
            .iter()
            .filter(|(_, layer)| layer.template.as_ref() == Some(name))
            .map(|(scope, template)| {
                let own = self.layers.get(scope);
                let overridden = template
                    .entries()
                    .filter_map(|(idx, cell)| {
                        let mine = own?.get(idx)?;
                        (mine.value != cell.value)
                            .then(|| (&self.keys.defs[idx as usize], &cell.value, &mine.value))
                    })
                    .collect();
                (scope.clone(), overridden)
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// The own entry of key `idx` at `scope` (a global one from the shared global layer).
    pub fn entry(&self, scope: &Scope, idx: KeyIdx) -> Option<&Cell> {
        match scope {
            Scope::Global => self.global.get(idx),
            scope => self.layers.get(scope)?.get(idx),
        }
    }

    /// Whether any scope here follows the template `name`.
    pub fn follows(&self, name: &Slug) -> bool {
        self.followed
            .values()
            .any(|layer| layer.template.as_ref() == Some(name))
    }

    /// The layers of a context, general → specific (without the defaults).
    pub fn chain_layers(&self, context: &Context) -> Result<Vec<&Layer>, ContextError> {
        let split = self.split_chain(context)?;
        let mut layers = self.shared_layers(&split);
        layers.extend(split.own);
        Ok(layers)
    }

    /// The chain of a context cut where users differ: what the layers every context of the
    /// same department and groups shares depend on (see [`Self::shared_layers`]), and the
    /// user's own layer when the context is a user with entries. Users never follow
    /// templates, so nothing of theirs is shared. Checks the context; finds no shared layer.
    pub fn split_chain<'s, 'c>(
        &'s self,
        context: &'c Context,
    ) -> Result<SplitChain<'s, 'c>, ContextError>
    where
        's: 'c,
    {
        let (user, department, groups) = match context {
            Context::User(user) => {
                let placement = self
                    .users
                    .get(user)
                    .ok_or_else(|| ContextError::UnknownUser(user.to_string()))?;
                (Some(user), placement.department.as_ref(), &placement.groups)
            }
            Context::WhatIf { department, groups } => (None, department.as_ref(), groups),
        };
        if let Some(d) = department
            && !self.departments.contains(d)
        {
            return Err(ContextError::UnknownDepartment(d.to_string()));
        }
        let mut ordered: Vec<(i64, &Slug)> = Vec::with_capacity(groups.len());
        for g in groups {
            let priority = self
                .groups
                .get(g)
                .ok_or_else(|| ContextError::UnknownGroup(g.to_string()))?;
            ordered.push((*priority, g));
        }
        // Ascending priority, ties by ascending slug: the later one wins.
        ordered.sort();
        ordered.dedup();
        let own = user.and_then(|u| self.layers.get(&Scope::User { user: u.clone() }));
        Ok(SplitChain {
            department,
            groups: ordered.into_iter().map(|(_, g)| g).collect(),
            own,
        })
    }

    /// The layers a split chain's contexts share, general → specific: global, then the
    /// tenant, department and groups, each after the template it follows.
    pub fn shared_layers(&self, split: &SplitChain<'_, '_>) -> Vec<&Layer> {
        let mut layers = Vec::with_capacity(4 + 2 * split.groups.len());
        layers.push(self.global.as_ref());
        let mut push = |scope: Scope| {
            // A followed template sits just before the scope's own entries.
            if let Some(layer) = self.followed.get(&scope) {
                layers.push(layer);
            }
            if let Some(layer) = self.layers.get(&scope) {
                layers.push(layer);
            }
        };
        if let Some(t) = &self.tenant {
            push(Scope::Tenant { tenant: t.clone() });
            if let Some(d) = split.department {
                push(Scope::Department {
                    tenant: t.clone(),
                    department: d.clone(),
                });
            }
            for g in &split.groups {
                push(Scope::Group {
                    tenant: t.clone(),
                    group: (*g).clone(),
                });
            }
        }
        layers
    }

    /// The layers from the global level down to `scope` (inclusive), general → specific: what
    /// an entry at `scope` sits on. A user scope takes the user's whole chain.
    pub fn layers_down_to(&self, scope: &Scope) -> Result<Vec<&Layer>, ContextError> {
        let context = match scope {
            Scope::Global => return Ok(vec![self.global.as_ref()]),
            Scope::Tenant { .. } => Context::WhatIf {
                department: None,
                groups: Vec::new(),
            },
            Scope::Department { department, .. } => Context::WhatIf {
                department: Some(department.clone()),
                groups: Vec::new(),
            },
            Scope::Group { group, .. } => Context::WhatIf {
                department: None,
                groups: vec![group.clone()],
            },
            Scope::User { user } => Context::User(user.clone()),
        };
        self.chain_layers(&context)
    }

    /// Effective configuration of `context`.
    pub fn effective(&self, context: &Context) -> Result<Vec<Resolved<'_>>, ContextError> {
        Ok(effective(&self.keys, &self.chain_layers(context)?))
    }

    /// The chain of `key` for `context`; `None` when the key is not defined.
    pub fn chain(
        &self,
        key: &ConfigKey,
        context: &Context,
    ) -> Result<Option<Vec<Candidate<'_>>>, ContextError> {
        let layers = self.chain_layers(context)?;
        Ok(self
            .keys
            .get(key)
            .map(|(idx, def)| chain(def, idx, &layers)))
    }
}

/// The wire form of an effective configuration: `{"key": {"value", "level", "scope"}}` (and
/// `"template"` where a template supplied the value), keys sorted, sensitive values masked
/// unless `reveal`.
pub struct EffectiveView<'a> {
    pub resolved: &'a [Resolved<'a>],
    pub reveal: bool,
}

impl Serialize for EffectiveView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.resolved.len()))?;
        for r in self.resolved {
            map.serialize_entry(
                r.key.key.as_str(),
                &ResolvedView {
                    value: r.value,
                    masked: r.key.sensitive && !self.reveal,
                    source: r.source,
                },
            )?;
        }
        map.end()
    }
}

impl EffectiveView<'_> {
    /// The bytes `serde_json::to_vec(self)` gives, written directly: `/effective` answers
    /// 200-key objects for random users, and escaping every key, level and scope name through
    /// serde was most of its cost. Names made of plain characters (slugs, keys, levels always
    /// are) are copied as they are; anything else, and every value, goes through serde_json.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 * self.resolved.len() + 2);
        out.push(b'{');
        for (i, r) in self.resolved.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_resolved(&mut out, r, self.reveal);
        }
        out.push(b'}');
        out
    }
}

/// One member of the effective object: `"key":{"value", "level", "scope", "template"?}`.
fn write_resolved(out: &mut Vec<u8>, r: &Resolved<'_>, reveal: bool) {
    write_name(out, r.key.key.as_str());
    out.extend_from_slice(b":{\"value\":");
    match (r.value, r.key.sensitive && !reveal) {
        (Some(_), true) => write_name(out, MASK),
        (Some(value), false) => write_json(out, value),
        (None, _) => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"level\":");
    write_optional_name(out, r.source.level_name());
    out.extend_from_slice(b",\"scope\":");
    write_optional_name(out, r.source.scope_id());
    if let Some(template) = r.source.template() {
        out.extend_from_slice(b",\"template\":");
        write_name(out, template);
    }
    out.push(b'}');
}

/// The effective configuration of a chain's shared layers (see [`Snapshot::split_chain`]),
/// written as [`EffectiveView::to_json`] writes it with secrets masked, from which the answer
/// of each user on that chain is made by writing in the user's own entries. Users of one
/// department and groups share everything but their own few entries, so a user's answer
/// costs a copy instead of a resolution. The rule it relies on: an own entry (the last
/// layer) applies exactly where the shared layers' applied entry is not locked.
#[derive(Debug)]
pub struct RenderedShared {
    keys: Arc<Keys>,
    body: Vec<u8>,
    /// Each key's member of `body`, as a byte range.
    spans: Vec<(usize, usize)>,
    locked: Vec<bool>,
}

impl RenderedShared {
    pub fn new(keys: Arc<Keys>, shared: &[&Layer]) -> Self {
        let resolved = effective(&keys, shared);
        let mut body = Vec::with_capacity(64 * resolved.len() + 2);
        let mut spans = Vec::with_capacity(resolved.len());
        body.push(b'{');
        for (i, r) in resolved.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            let start = body.len();
            write_resolved(&mut body, r, false);
            spans.push((start, body.len()));
        }
        body.push(b'}');
        let locked = resolved.iter().map(|r| r.locked).collect();
        RenderedShared {
            keys,
            body,
            spans,
            locked,
        }
    }

    /// The effective configuration (masked JSON) of the chain with `own` as its last layer.
    /// `own` must come from the snapshot this was rendered from.
    pub fn with_own(&self, own: Option<&Layer>) -> Vec<u8> {
        let Some(own) = own else {
            return self.body.clone();
        };
        let mut out = Vec::with_capacity(self.body.len() + 64 * own.entries.len());
        let mut copied = 0;
        for (idx, cell) in own.entries() {
            let i = idx as usize;
            if self.locked[i] {
                continue;
            }
            let (start, end) = self.spans[i];
            out.extend_from_slice(&self.body[copied..start]);
            let resolved = Resolved {
                key: &self.keys.defs[i],
                value: Some(&cell.value),
                source: Source::of(own),
                locked: cell.locked,
            };
            write_resolved(&mut out, &resolved, false);
            copied = end;
        }
        out.extend_from_slice(&self.body[copied..]);
        out
    }

    /// Roughly the bytes this holds (for a cache's budget).
    pub fn weight(&self) -> usize {
        self.body.len() + self.spans.len() * (2 * std::mem::size_of::<usize>() + 1)
    }
}

/// `name` as a JSON string.
fn write_name(out: &mut Vec<u8>, name: &str) {
    let plain = name.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\');
    if plain {
        out.push(b'"');
        out.extend_from_slice(name.as_bytes());
        out.push(b'"');
    } else {
        write_json(out, name);
    }
}

fn write_optional_name(out: &mut Vec<u8>, name: Option<&str>) {
    match name {
        Some(name) => write_name(out, name),
        None => out.extend_from_slice(b"null"),
    }
}

fn write_json<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Writing JSON into a Vec fails only for maps with non-string keys, which a `Value` and a
    // `str` cannot hold.
    serde_json::to_writer(&mut *out, value).expect("JSON values serialise");
}

struct ResolvedView<'a> {
    value: Option<&'a Value>,
    masked: bool,
    source: Source<'a>,
}

impl Serialize for ResolvedView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Resolved", 3)?;
        match (self.value, self.masked) {
            (Some(_), true) => s.serialize_field("value", MASK)?,
            (value, _) => s.serialize_field("value", &value)?,
        }
        s.serialize_field("level", &self.source.level_name())?;
        s.serialize_field("scope", &self.source.scope_id())?;
        match self.source.template() {
            Some(template) => s.serialize_field("template", template)?,
            None => s.skip_field("template")?,
        }
        s.end()
    }
}

/// The wire form of a chain: `[{"level", "scope", "template"?, "value", "state", "locked"}]`.
pub struct ChainView<'a> {
    pub chain: &'a [Candidate<'a>],
    pub sensitive: bool,
    pub reveal: bool,
}

impl Serialize for ChainView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(Some(self.chain.len()))?;
        for c in self.chain {
            seq.serialize_element(&CandidateView {
                candidate: c,
                masked: self.sensitive && !self.reveal,
            })?;
        }
        seq.end()
    }
}

struct CandidateView<'a> {
    candidate: &'a Candidate<'a>,
    masked: bool,
}

impl Serialize for CandidateView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let c = self.candidate;
        let mut s = serializer.serialize_struct("Candidate", 5)?;
        s.serialize_field("level", &c.source.level_name())?;
        s.serialize_field("scope", &c.source.scope_id())?;
        match c.source.template() {
            Some(template) => s.serialize_field("template", template)?,
            None => s.skip_field("template")?,
        }
        if self.masked {
            s.serialize_field("value", MASK)?;
        } else {
            s.serialize_field("value", c.value)?;
        }
        s.serialize_field("state", &c.state)?;
        s.serialize_field("locked", &c.locked)?;
        s.end()
    }
}

#[cfg(test)]
mod tests;
