//! The in-memory snapshots the server resolves from: one per tenant plus one for platform
//! users. Every change is applied to them in place (only what it touched is re-read), and a
//! tenant's snapshot keeps its version unless its content changed, so its ETag changes exactly
//! when something in its chains did. A catch-up is staged on a copy and installed at once.
//!
//! Rule for versions: the revision (the change feed's counter) and the rows are read in one
//! consistent read (one database snapshot), and a changed tenant takes that revision as its
//! version. So a tenant's version `v` always stands for the tenant as the database held it at
//! revision `v`, and two replicas that hold one version of a tenant hold the same content.
//!
//! Writes by other processes (another replica, the CLI) are noticed through the change feed:
//! every change that touches configuration or credentials gets a revision and a row saying what
//! it touched. Sign-ins and reveals get none, so they cost a replica nothing.
//!
//! Each revision caught up with is published to whoever follows it ([`Snapshots::subscribe`]:
//! watch streams, long polls), and the snapshots it replaced stay in a short history, so a
//! watcher that reconnects can be told what changed since the revision it last saw.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait,
    IsolationLevel, QueryFilter, TransactionTrait,
};

use super::crypto::SecretBox;
use super::entity::{audit_head, change};
use super::state::{
    Loaded, load, load_entry, load_keys, load_templates, load_tenants, load_user, template_layer,
};
use crate::domain::change::Touched;
use crate::domain::name::{ConfigKey, Slug};
use crate::domain::resolve::{Cell, Keys, Layer};
use crate::domain::resolve::{Placement, Snapshot};
use crate::domain::scope::Scope;

/// More single entries than this in one catch-up, and their snapshots are rebuilt instead.
const MAX_SINGLE_ENTRIES: usize = crate::domain::change::MAX_ENTRIES;

/// An entry re-read for its snapshot: where it is, and its cell (none: removed).
type EntryCell = (Scope, ConfigKey, Option<Cell>);

/// How many replaced snapshots are kept for watchers that resume: enough for the last minutes
/// of ordinary single-tenant writes; a global change or a key definition replaces every
/// tenant's at once, and a watcher that was away over it gets a fresh snapshot.
const HISTORY: usize = 128;

/// What the snapshots have caught up with, as published to followers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Published {
    /// The revision caught up with.
    pub revision: i64,
    /// The last revision that changed credentials (who a session or token acts as).
    pub accounts_revision: i64,
    /// The process is stopping: followers should finish (open streams would hold it up).
    pub closing: bool,
}

#[derive(Debug)]
pub struct Snapshots {
    by_tenant: RwLock<BTreeMap<Option<Slug>, Arc<Snapshot>>>,
    /// Each user's tenant, to find the snapshot that holds them.
    user_tenant: RwLock<HashMap<Slug, Option<Slug>>>,
    // Reloads run one at a time so a slow one cannot overwrite a newer one.
    reloading: tokio::sync::Mutex<()>,
    /// When they were last loaded, and last found to match the database (for `/metrics`).
    loaded_at: RwLock<Option<Instant>>,
    checked_at: RwLock<Option<Instant>>,
    /// The revision the installed snapshots have caught up with (-1: never loaded), published
    /// to watchers.
    published: tokio::sync::watch::Sender<Published>,
    /// Snapshots replaced lately, oldest first.
    history: std::sync::Mutex<std::collections::VecDeque<Arc<Snapshot>>>,
    /// Loads of every snapshot from the database: start-up and recovery only, so anything
    /// more says changes are not being applied in place (for `/metrics`).
    full_loads: std::sync::atomic::AtomicU64,
}

impl Default for Snapshots {
    fn default() -> Self {
        Snapshots {
            by_tenant: RwLock::default(),
            user_tenant: RwLock::default(),
            reloading: tokio::sync::Mutex::default(),
            loaded_at: RwLock::default(),
            checked_at: RwLock::default(),
            published: tokio::sync::watch::Sender::new(Published {
                revision: -1,
                accounts_revision: -1,
                closing: false,
            }),
            history: std::sync::Mutex::default(),
            full_loads: std::sync::atomic::AtomicU64::default(),
        }
    }
}

/// One catch-up's changes, made step by step on a copy of the installed snapshots (a map of
/// shared pointers: cheap to copy) and installed at once by [`Snapshots::install_stage`].
struct Stage {
    map: BTreeMap<Option<Slug>, Arc<Snapshot>>,
    /// The revision caught up with.
    version: u64,
    /// Snapshots changed by an earlier step of this catch-up: a later step keeps their
    /// version (one version, one content) and the history keeps what they replaced once.
    stepped: BTreeSet<Option<Slug>>,
    /// The snapshots replaced, for the history.
    replaced: Vec<Arc<Snapshot>>,
    /// Where the users of rebuilt snapshots now are.
    users: Option<Rehomed>,
    /// Users put in place one by one, with the tenant they are in.
    placed: Vec<(Slug, Option<Slug>)>,
}

/// The snapshots rebuilt, and each user of them with the tenant they are now in.
struct Rehomed {
    snapshots: Vec<Option<Slug>>,
    users: Vec<(Slug, Option<Slug>)>,
}

impl Stage {
    fn new(map: BTreeMap<Option<Slug>, Arc<Snapshot>>, version: u64) -> Self {
        Stage {
            map,
            version,
            stepped: BTreeSet::new(),
            replaced: Vec::new(),
            users: None,
            placed: Vec::new(),
        }
    }

    /// Puts `next` in place of `tenant`'s snapshot. A changed snapshot takes the revision
    /// caught up with; content changed without a revision (a row edited by hand) still gets a
    /// version of its own, since versions only grow.
    fn put(&mut self, tenant: Option<Slug>, mut next: Snapshot) {
        let first = self.stepped.insert(tenant.clone());
        let old = self.map.get(&tenant).cloned();
        next.version = match &old {
            // Changed by an earlier step: it keeps the version that step gave it.
            Some(staged) if !first => staged.version,
            Some(old) => {
                if old.version >= self.version {
                    tracing::warn!(
                        tenant = ?tenant,
                        "configuration changed without an audit event; its version moves on regardless"
                    );
                }
                self.version.max(old.version + 1)
            }
            None => self.version,
        };
        if first {
            self.replaced.extend(old);
        }
        self.map.insert(tenant, Arc::new(next));
    }

    /// Drops `tenant`'s snapshot (the tenant is gone).
    fn remove(&mut self, tenant: &Option<Slug>) {
        let first = self.stepped.insert(tenant.clone());
        if let Some(old) = self.map.remove(tenant)
            && first
        {
            self.replaced.push(old);
        }
    }

    fn any(&self) -> Option<Arc<Snapshot>> {
        self.map.values().next().cloned()
    }

    /// Moves every snapshot to the key definitions `keys`, in memory: entries keep their
    /// values and follow their keys to their new places; those of a deleted key go.
    fn keys(&mut self, keys: Arc<Keys>) {
        let Some(any) = self.any() else {
            return;
        };
        let moves = any.keys.moves_to(&keys);
        let global = Arc::new(any.global.rekeyed(&moves));
        let mut templates = HashMap::new();
        // A copy of the pointers: `put` changes the map while it is walked.
        for (tenant, snapshot) in self.map.clone() {
            let next = snapshot.rekeyed(keys.clone(), &moves, global.clone(), &mut templates);
            self.put(tenant, next);
        }
    }

    /// Replaces the snapshots of `tenants` with those built from `part` (loaded for them; a
    /// tenant missing from it was deleted), sharing the key definitions and the global layer of
    /// the others, which stay as they are, versions included.
    fn part(&mut self, part: &Loaded, tenants: &BTreeSet<Option<String>>) {
        let fresh = match self.any() {
            Some(any) => part.snapshots_with(any.keys.clone(), Some(any.global.clone())),
            None => part.snapshots(),
        };
        let mut fresh = fresh;
        let named = |t: &Option<String>| -> Option<Option<Slug>> {
            match t {
                None => Some(None),
                Some(name) => Slug::parse("tenant", name).ok().map(Some),
            }
        };
        let touched: Vec<Option<Slug>> = tenants.iter().filter_map(named).collect();
        for tenant in &touched {
            match fresh.remove(tenant) {
                Some(snapshot)
                    if self
                        .map
                        .get(tenant)
                        .is_some_and(|old| old.same_content(&snapshot)) => {}
                Some(snapshot) => self.put(tenant.clone(), snapshot),
                None => self.remove(tenant),
            }
        }
        let placed = part
            .users
            .iter()
            .map(|u| {
                let tenant = u.tenant_id.and_then(|id| part.tenant_slug(id)).cloned();
                (u.slug.clone(), tenant)
            })
            .filter(|(_, tenant)| touched.contains(tenant))
            .collect();
        self.users = Some(Rehomed {
            snapshots: touched,
            users: placed,
        });
    }

    /// Puts single entries into copies of their snapshots.
    fn entries(&mut self, cells: Vec<(Option<String>, EntryCell)>) {
        let mut by_tenant: BTreeMap<Option<String>, Vec<EntryCell>> = BTreeMap::new();
        for (tenant, cell) in cells {
            by_tenant.entry(tenant).or_default().push(cell);
        }
        for (tenant, cells) in by_tenant {
            let tenant = match tenant {
                None => None,
                Some(name) => match Slug::parse("tenant", &name) {
                    Ok(slug) => Some(slug),
                    Err(_) => continue,
                },
            };
            let Some(old) = self.map.get(&tenant) else {
                continue;
            };
            let mut snapshot = Snapshot::clone(old);
            for (scope, key, cell) in cells {
                if let Some((idx, _)) = snapshot.keys.get(&key) {
                    snapshot.set_entry(&scope, idx, cell);
                }
            }
            self.put(tenant, snapshot);
        }
    }

    /// Puts users created or changed in place where they now sit in their snapshots: a
    /// user's rows are read, never their tenant's.
    fn placements(&mut self, placed: Vec<(Option<Slug>, Slug, Placement)>) {
        let mut by_tenant: BTreeMap<Option<Slug>, Vec<(Slug, Placement)>> = BTreeMap::new();
        for (tenant, user, placement) in placed {
            by_tenant.entry(tenant).or_default().push((user, placement));
        }
        for (tenant, users) in by_tenant {
            let Some(old) = self.map.get(&tenant) else {
                continue;
            };
            let mut snapshot = Snapshot::clone(old);
            for (user, placement) in users {
                self.placed.push((user.clone(), tenant.clone()));
                snapshot.users.insert(user, placement);
            }
            if !snapshot.same_content(old) {
                self.put(tenant, snapshot);
            }
        }
    }

    /// Points the scopes that follow each of `templates` at its new entries: a template edit
    /// reads the template's rows, never a tenant's.
    fn templates(&mut self, templates: &[(Slug, Layer)]) {
        // A copy of the pointers: `put` changes the map while it is walked.
        for (tenant, snapshot) in self.map.clone() {
            let changed: Vec<&(Slug, Layer)> = templates
                .iter()
                .filter(|(name, _)| snapshot.follows(name))
                .collect();
            if changed.is_empty() {
                continue;
            }
            let mut next = Snapshot::clone(&snapshot);
            for (name, layer) in changed {
                next.replace_template(name, layer);
            }
            if !next.same_content(&snapshot) {
                self.put(tenant, next);
            }
        }
    }

    /// Puts global entries into a copy of the global layer, which every snapshot takes: no
    /// tenant's rows are read again.
    fn global(&mut self, cells: Vec<(ConfigKey, Option<Cell>)>) {
        let Some(any) = self.any() else {
            return;
        };
        let mut layer = Layer::clone(&any.global);
        for (key, cell) in cells {
            if let Some((idx, _)) = any.keys.get(&key) {
                match cell {
                    Some(cell) => layer.set(idx, cell),
                    None => {
                        layer.remove(idx);
                    }
                }
            }
        }
        if layer == *any.global {
            return;
        }
        let layer = Arc::new(layer);
        // A copy of the pointers: `put` changes the map while it is walked.
        for (tenant, snapshot) in self.map.clone() {
            let mut next = Snapshot::clone(&snapshot);
            next.global = layer.clone();
            self.put(tenant, next);
        }
    }
}

/// The revision of the last committed change.
async fn revision_head<C: ConnectionTrait>(db: &C) -> Result<i64, DbErr> {
    Ok(audit_head::Entity::find_by_id(1)
        .one(db)
        .await?
        .map_or(0, |h| h.revision))
}

impl Snapshots {
    /// The snapshot of `tenant` (`None`: platform users).
    pub fn get(&self, tenant: Option<&Slug>) -> Option<Arc<Snapshot>> {
        let map = self.by_tenant.read().expect("snapshot lock poisoned");
        map.get(&tenant.cloned()).cloned()
    }

    /// Every tenant's snapshot (and the platform users'), by tenant.
    pub fn all(&self) -> Vec<Arc<Snapshot>> {
        let map = self.by_tenant.read().expect("snapshot lock poisoned");
        map.values().cloned().collect()
    }

    /// The snapshot that holds `scope`'s entries (a global entry is in every snapshot: the
    /// platform users' stands for them), if its tenant or user exists.
    pub fn for_scope(&self, scope: &Scope) -> Option<Arc<Snapshot>> {
        match scope {
            Scope::User { user } => self.for_user(user),
            other => self.get(other.tenant()),
        }
    }

    /// The snapshot holding `user`, if the user exists.
    pub fn for_user(&self, user: &Slug) -> Option<Arc<Snapshot>> {
        let tenant = self
            .user_tenant
            .read()
            .expect("snapshot lock poisoned")
            .get(user)
            .cloned()?;
        self.get(tenant.as_ref())
    }

    /// Follows the revisions the snapshots catch up with: the receiver sees each one (or, when
    /// it looks late, the latest), and never holds a writer up.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<Published> {
        self.published.subscribe()
    }

    /// The snapshot of `tenant` as it stood at `revision`: the installed one when it has not
    /// changed since, else one from the history; none when the history no longer reaches back
    /// that far (or the tenant did not exist then).
    pub fn as_of(&self, tenant: Option<&Slug>, revision: u64) -> Option<Arc<Snapshot>> {
        let current = self.get(tenant)?;
        if current.version <= revision {
            return Some(current);
        }
        let history = self.history.lock().expect("snapshot history poisoned");
        // The history drops oldest first, so the newest kept one at or before `revision` was
        // the one standing at `revision`, unless a newer one of this tenant fell out before it
        // (impossible: it would be younger).
        history
            .iter()
            .rev()
            .filter(|s| s.tenant.as_ref() == tenant)
            .find(|s| s.version <= revision)
            .cloned()
    }

    /// Keeps replaced snapshots for [`Self::as_of`].
    fn remember(&self, replaced: impl IntoIterator<Item = Arc<Snapshot>>) {
        let mut history = self.history.lock().expect("snapshot history poisoned");
        for snapshot in replaced {
            history.push_back(snapshot);
            if history.len() > HISTORY {
                history.pop_front();
            }
        }
    }

    /// The last revision caught up with that changed credentials (who a session or a token
    /// acts as): verified tokens are good while it stands.
    pub fn accounts_revision(&self) -> i64 {
        self.published.borrow().accounts_revision
    }

    /// Tells every follower that nothing more will be published: the server is stopping.
    pub fn close(&self) {
        self.published.send_modify(|p| p.closing = true);
    }

    fn publish(&self, revision: i64, accounts: bool) {
        self.published.send_modify(|p| {
            p.revision = revision;
            if accounts || p.accounts_revision < 0 {
                p.accounts_revision = revision;
            }
        });
    }

    /// Rebuilds every snapshot from the database.
    pub async fn reload(&self, db: &DatabaseConnection, secrets: &SecretBox) -> Result<(), DbErr> {
        let _guard = self.reloading.lock().await;
        // The head and the rows come from one read transaction (PostgreSQL: repeatable read;
        // SQLite: one WAL snapshot), so the rows are exactly those of that head: a change
        // committed meanwhile is in neither, and the next check picks it up.
        let isolation = (db.get_database_backend() == DbBackend::Postgres)
            .then_some(IsolationLevel::RepeatableRead);
        let tx = db.begin_with_config(isolation, None).await?;
        let head = revision_head(&tx).await?;
        let loaded = load(&tx, secrets).await?;
        tx.commit().await?;
        self.install(&loaded, head.max(0) as u64);
        self.full_loads.fetch_add(1, Ordering::Relaxed);
        self.publish(head, true);
        let now = Some(Instant::now());
        *self.loaded_at.write().expect("snapshot lock poisoned") = now;
        *self.checked_at.write().expect("snapshot lock poisoned") = now;
        Ok(())
    }

    /// How many times every snapshot was loaded from the database.
    pub fn full_loads(&self) -> u64 {
        self.full_loads.load(Ordering::Relaxed)
    }

    /// How long ago a snapshot was last rebuilt.
    pub fn since_loaded(&self) -> Option<Duration> {
        let at = *self.loaded_at.read().expect("snapshot lock poisoned");
        at.map(|at| at.elapsed())
    }

    /// How long ago they were last known to match the database: what this replica may be
    /// behind by at most.
    pub fn since_checked(&self) -> Option<Duration> {
        let at = *self.checked_at.read().expect("snapshot lock poisoned");
        at.map(|at| at.elapsed())
    }

    /// The revision the installed snapshots have caught up with: moves with every change of
    /// configuration or credentials, here or on another replica.
    pub fn loaded_revision(&self) -> i64 {
        self.published.borrow().revision
    }

    /// Catches up with every change committed since the last look, here or by another process:
    /// reads, in one consistent read, the revision and the change rows past the installed one,
    /// then the rows of the snapshots they touched, and replaces only those. A change of
    /// credentials alone reloads nothing (the revision moves, so verified tokens drop); a global
    /// entry is re-read alone and shared by every snapshot; key definitions are re-read and
    /// every snapshot moves to them in memory. Returns whether any snapshot was rebuilt. One small query when nothing
    /// changed.
    pub async fn catch_up(
        &self,
        db: &DatabaseConnection,
        secrets: &SecretBox,
    ) -> Result<bool, DbErr> {
        let _guard = self.reloading.lock().await;
        let loaded = self.loaded_revision();
        if loaded >= 0 && revision_head(db).await? == loaded {
            *self.checked_at.write().expect("snapshot lock poisoned") = Some(Instant::now());
            return Ok(false);
        }
        let isolation = (db.get_database_backend() == DbBackend::Postgres)
            .then_some(IsolationLevel::RepeatableRead);
        let tx = db.begin_with_config(isolation, None).await?;
        let head = revision_head(&tx).await?;
        let changes = change::Entity::find()
            .filter(change::Column::Revision.gt(loaded))
            .filter(change::Column::Revision.lte(head))
            .all(&tx)
            .await?;
        let mut touched = Touched {
            // Nothing installed yet, or changes missing from the feed: only all will do.
            everything: loaded < 0 || changes.len() as i64 != head - loaded,
            ..Default::default()
        };
        for c in &changes {
            // A row this build cannot read is taken to touch everything.
            touched.merge(serde_json::from_str(&c.touched).unwrap_or(Touched {
                everything: true,
                ..Default::default()
            }));
        }
        let version = head.max(0) as u64;
        // Changed key definitions: all of them re-read (there are few); the snapshots move
        // to them in memory.
        let mut keys = None;
        if !touched.everything && !touched.keys.is_empty() {
            let rows = load_keys(&tx, secrets).await?;
            let next = Keys::new(rows.into_iter().map(|k| k.def).collect());
            if self.all().first().is_none_or(|any| *any.keys != next) {
                keys = Some(Arc::new(next));
            }
        }
        // A key that is no longer defined took its entries with it (moving to the new
        // definitions drops them): its entries' events need no reading.
        let installed = self.all().first().map(|any| any.keys.clone());
        let defined = |key: &str| {
            keys.as_ref()
                .or(installed.as_ref())
                .is_none_or(|keys| keys.idx(key).is_some())
        };
        touched.global.retain(|key| defined(key));
        touched.entries.retain(|(_, _, key)| defined(key));
        // Global entries, re-read row by row; one that cannot be read makes it a full load.
        let mut global = Vec::new();
        if !touched.everything {
            for key in &touched.global {
                let read = match ConfigKey::parse(key) {
                    Ok(key) => load_entry(&tx, secrets, &Scope::Global, &key)
                        .await
                        .ok()
                        .map(|cell| (key, cell)),
                    Err(_) => None,
                };
                match read {
                    Some(cell) => global.push(cell),
                    None => touched.everything = true,
                }
            }
        }
        // Changed templates, read whole (a template is small); any trouble makes it a full load.
        let mut templates = Vec::new();
        if !touched.everything && !touched.templates.is_empty() {
            let over = keys
                .clone()
                .or_else(|| self.all().first().map(|any| any.keys.clone()));
            match self
                .template_layers(&tx, secrets, &touched.templates, over)
                .await
            {
                Ok(layers) => templates = layers,
                Err(err) => {
                    tracing::warn!(error = %err, "could not read changed templates; reloading");
                    touched.everything = true;
                }
            }
        }
        let rebuilt = if touched.everything {
            let everything = load(&tx, secrets).await?;
            self.install(&everything, version);
            self.full_loads.fetch_add(1, Ordering::Relaxed);
            true
        } else if touched.any_snapshot() {
            // Single entries are re-read row by row, unless their snapshot is rebuilt anyway,
            // there are many, or one cannot be read as an entry of a known scope.
            let mut rebuild = touched.snapshots.clone();
            let singles: Vec<_> = touched
                .entries
                .iter()
                .filter(|(tenant, _, _)| !rebuild.contains(tenant))
                .collect();
            let mut cells = Vec::new();
            if singles.len() > MAX_SINGLE_ENTRIES {
                rebuild.extend(singles.iter().map(|(tenant, _, _)| tenant.clone()));
            } else {
                for (tenant, scope, key) in singles {
                    let parsed = scope.parse::<Scope>().ok().zip(ConfigKey::parse(key).ok());
                    let read = match &parsed {
                        Some((scope, key)) => load_entry(&tx, secrets, scope, key).await.ok(),
                        None => None,
                    };
                    match (parsed, read) {
                        (Some((scope, key)), Some(cell)) => {
                            cells.push((tenant.clone(), (scope, key, cell)))
                        }
                        _ => {
                            rebuild.insert(tenant.clone());
                        }
                    }
                }
            }
            // Users created or changed in place, row by row; one that is gone, has moved or
            // cannot be read makes it a rebuild of its snapshot.
            let mut placed = Vec::new();
            for (tenant, user) in &touched.users {
                if rebuild.contains(tenant) {
                    continue;
                }
                let read = match Slug::parse("user", user) {
                    Ok(slug) => load_user(&tx, &slug)
                        .await
                        .ok()
                        .flatten()
                        .and_then(|loaded| placement(&loaded, tenant))
                        .map(|placement| (slug, placement)),
                    Err(_) => None,
                };
                let installed = tenant_slug(tenant).filter(|snapshot| {
                    self.by_tenant
                        .read()
                        .expect("snapshot lock poisoned")
                        .contains_key(snapshot)
                });
                match (read, installed) {
                    (Some((slug, placement)), Some(snapshot)) => {
                        placed.push((snapshot, slug, placement))
                    }
                    _ => {
                        rebuild.insert(tenant.clone());
                    }
                }
            }
            // Everything is read before anything is installed: a failed read leaves the
            // installed snapshots as they were, at their versions.
            let part = if rebuild.is_empty() {
                None
            } else {
                Some(load_tenants(&tx, secrets, &rebuild).await?)
            };
            let current = self
                .by_tenant
                .read()
                .expect("snapshot lock poisoned")
                .clone();
            let mut stage = Stage::new(current, version);
            // First, so what follows finds keys where the new definitions put them.
            if let Some(keys) = keys {
                stage.keys(keys);
            }
            if let Some(part) = part {
                stage.part(&part, &rebuild);
            }
            // Before the entries, so a new user's own entries find them in place.
            placed.retain(|(tenant, _, _)| {
                !rebuild.contains(&tenant.as_ref().map(ToString::to_string))
            });
            stage.placements(placed);
            cells.retain(|(tenant, _)| !rebuild.contains(tenant));
            stage.entries(cells);
            if !templates.is_empty() {
                stage.templates(&templates);
            }
            // Last, so the snapshots just rebuilt take the new global layer too.
            if !global.is_empty() {
                stage.global(global);
            }
            self.install_stage(stage);
            true
        } else {
            false
        };
        tx.commit().await?;
        self.publish(head, touched.accounts || touched.everything);
        let now = Some(Instant::now());
        if rebuilt {
            *self.loaded_at.write().expect("snapshot lock poisoned") = now;
        }
        *self.checked_at.write().expect("snapshot lock poisoned") = now;
        Ok(rebuilt)
    }

    /// The entries of the templates named `names`, as layers over the key definitions `keys`
    /// (a template deleted meanwhile has none).
    async fn template_layers<C: ConnectionTrait>(
        &self,
        db: &C,
        secrets: &SecretBox,
        names: &BTreeSet<String>,
        keys: Option<Arc<Keys>>,
    ) -> Result<Vec<(Slug, Layer)>, DbErr> {
        let Some(keys) = keys else {
            return Ok(Vec::new());
        };
        let key_rows = load_keys(db, secrets).await?;
        let rows = load_templates(db, secrets, &key_rows).await?;
        let mut out = Vec::new();
        for name in names {
            let Ok(slug) = Slug::parse("template", name) else {
                continue;
            };
            let layer = rows
                .iter()
                .find(|t| t.name == slug)
                .map(|t| template_layer(t, &key_rows, &keys))
                .unwrap_or_else(|| Layer::new(Scope::Global));
            out.push((slug, layer));
        }
        Ok(out)
    }

    /// Installs what one catch-up staged, at once: readers see the snapshots as they were or as
    /// they are now, never a catch-up half done under its version.
    fn install_stage(&self, stage: Stage) {
        let Stage {
            map,
            replaced,
            users,
            placed,
            ..
        } = stage;
        let before = std::mem::replace(
            &mut *self.by_tenant.write().expect("snapshot lock poisoned"),
            map,
        );
        if let Some(rehomed) = users {
            let mut user_tenant = self.user_tenant.write().expect("snapshot lock poisoned");
            // The users a rehomed snapshot held are let go (those still there come back
            // below): as many as the tenant has, not every user of the platform.
            for tenant in &rehomed.snapshots {
                let Some(snapshot) = before.get(tenant) else {
                    continue;
                };
                for user in snapshot.users.keys() {
                    if user_tenant.get(user) == Some(tenant) {
                        user_tenant.remove(user);
                    }
                }
            }
            user_tenant.extend(rehomed.users);
        }
        if !placed.is_empty() {
            self.user_tenant
                .write()
                .expect("snapshot lock poisoned")
                .extend(placed);
        }
        self.remember(replaced);
    }

    /// Installs snapshots built from `loaded`; changed ones take `version`.
    fn install(&self, loaded: &Loaded, version: u64) {
        let fresh = loaded.snapshots();
        let user_tenant = loaded
            .users
            .iter()
            .map(|u| {
                (
                    u.slug.clone(),
                    u.tenant_id.and_then(|id| loaded.tenant_slug(id)).cloned(),
                )
            })
            .collect();
        let mut map = self.by_tenant.write().expect("snapshot lock poisoned");
        let mut next = BTreeMap::new();
        let mut replaced = Vec::new();
        for (tenant, mut snapshot) in fresh {
            match map.remove(&tenant) {
                Some(old) if old.same_content(&snapshot) => {
                    next.insert(tenant, old);
                }
                Some(old) => {
                    // Every change moves the head, so a changed tenant normally takes the new
                    // head. Content that changed without it (a row edited by hand) still gets
                    // a version of its own: versions only grow.
                    if version <= old.version {
                        tracing::warn!(
                            tenant = ?tenant,
                            "configuration changed without an audit event; its version moves on regardless"
                        );
                    }
                    snapshot.version = version.max(old.version + 1);
                    replaced.push(old);
                    next.insert(tenant, Arc::new(snapshot));
                }
                None => {
                    snapshot.version = version;
                    next.insert(tenant, Arc::new(snapshot));
                }
            }
        }
        // Tenants that are gone.
        replaced.extend(std::mem::take(&mut *map).into_values());
        *map = next;
        drop(map);
        *self.user_tenant.write().expect("snapshot lock poisoned") = user_tenant;
        self.remember(replaced);
    }
}

/// The snapshot a change row names (`None`: the platform users'); none when the name is not
/// a tenant's.
fn tenant_slug(name: &Option<String>) -> Option<Option<Slug>> {
    match name {
        None => Some(None),
        Some(name) => Slug::parse("tenant", name).ok().map(Some),
    }
}

/// Where the one user of `loaded` (see [`load_user`]) sits, if that is in snapshot `tenant`.
fn placement(loaded: &Loaded, tenant: &Option<String>) -> Option<Placement> {
    let user = loaded.users.first()?;
    let in_tenant = user.tenant_id.and_then(|id| loaded.tenant_slug(id));
    if in_tenant.map(|t| t.as_str()) != tenant.as_deref() {
        return None;
    }
    let mut groups: Vec<Slug> = user
        .groups
        .iter()
        .filter_map(|id| loaded.group_slug(*id))
        .cloned()
        .collect();
    groups.sort();
    Some(Placement {
        department: user
            .department_id
            .and_then(|id| loaded.department_slug(id))
            .cloned(),
        groups,
    })
}
