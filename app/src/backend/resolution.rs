//! Resolving contexts from the snapshots: effective configurations and chains. Reads never go
//! to the database; revealing secrets is audited.

use std::sync::Arc;

use serde_json::Value;

use super::AppState;
use super::audit::{self, Actor};
use super::error::ServiceError;
use super::tokens::{self, RevealedSecret};
use crate::domain::audit_chain::AuditRecord;
use crate::domain::editor::Origin;
use crate::domain::name::{ConfigKey, Slug};
use crate::domain::resolve::{
    self, ChainView, Context, ContextError, RenderedShared, Resolved, Snapshot, Source,
};
use crate::domain::value::MASK;
use crate::views::PreviewRow;

/// What the rendering of a chain's shared layers depends on: the snapshot (its tenant and
/// version), the department and the groups in chain order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SharedKey {
    pub tenant: Option<Slug>,
    pub version: u64,
    pub department: Option<Slug>,
    pub groups: Vec<Slug>,
}

/// Whose configuration: a real user, or a composed what-if context in a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ContextSpec {
    User(Slug),
    WhatIf {
        tenant: Slug,
        department: Option<Slug>,
        groups: Vec<Slug>,
    },
}

impl ContextSpec {
    /// How the audit names the context.
    pub fn describe(&self) -> String {
        match self {
            ContextSpec::User(u) => format!("user {u}"),
            ContextSpec::WhatIf {
                tenant,
                department,
                groups,
            } => {
                let mut s = format!("tenant {tenant}");
                if let Some(d) = department {
                    s.push_str(&format!(", department {d}"));
                }
                for g in groups {
                    s.push_str(&format!(", group {g}"));
                }
                s
            }
        }
    }

    /// The context as API query parameters (`user=U`, `tenant=T&department=D&group=G`).
    pub fn query(&self) -> String {
        match self {
            ContextSpec::User(u) => format!("user={u}"),
            ContextSpec::WhatIf {
                tenant,
                department,
                groups,
            } => {
                let mut q = format!("tenant={tenant}");
                if let Some(d) = department {
                    q.push_str(&format!("&department={d}"));
                }
                for g in groups {
                    q.push_str(&format!("&group={g}"));
                }
                q
            }
        }
    }

    pub fn tenant(&self) -> Option<&Slug> {
        match self {
            ContextSpec::User(_) => None,
            ContextSpec::WhatIf { tenant, .. } => Some(tenant),
        }
    }

    /// The same context written one way: groups sorted and without repeats (their order
    /// never matters; priorities decide).
    pub fn canonical(mut self) -> Self {
        if let ContextSpec::WhatIf { groups, .. } = &mut self {
            groups.sort();
            groups.dedup();
        }
        self
    }
}

/// Who is shown sensitive values in plaintext. Every reveal is audited, by the services that
/// reveal, whatever the entry point.
#[derive(Debug, Clone, Copy)]
pub enum Viewer<'a> {
    /// A person (console, CLI, an API session): one event per reveal.
    Person(&'a Actor),
    /// An application's API token with the `secrets` scope: one event per token and secret
    /// version, however often it reads them.
    Token { actor: &'a Actor, token_id: i64 },
}

fn locate(
    state: &AppState,
    spec: &ContextSpec,
) -> Result<(std::sync::Arc<Snapshot>, Context), ServiceError> {
    match spec {
        ContextSpec::User(user) => {
            let snapshot = state
                .snapshots
                .for_user(user)
                .ok_or_else(|| ServiceError::NotFound(format!("user {user} was not found")))?;
            Ok((snapshot, Context::User(user.clone())))
        }
        ContextSpec::WhatIf {
            tenant,
            department,
            groups,
        } => {
            let snapshot = state
                .snapshots
                .get(Some(tenant))
                .ok_or_else(|| ServiceError::NotFound(format!("tenant {tenant} was not found")))?;
            Ok((
                snapshot,
                Context::WhatIf {
                    department: department.clone(),
                    groups: groups.clone(),
                },
            ))
        }
    }
}

fn context_error(err: ContextError, spec: &ContextSpec) -> ServiceError {
    match (err, spec.tenant()) {
        (ContextError::UnknownDepartment(d), Some(t)) => {
            ServiceError::NotFound(format!("department {t}/{d} was not found"))
        }
        (ContextError::UnknownGroup(g), Some(t)) => {
            ServiceError::NotFound(format!("group {t}/{g} was not found"))
        }
        (other, _) => ServiceError::NotFound(other.to_string()),
    }
}

/// The snapshot a context resolves from, looked up once: an answer's version, the secrets it
/// shows and its values all come from this one snapshot, however the snapshots move meanwhile.
pub struct Located {
    snapshot: std::sync::Arc<Snapshot>,
    context: Context,
}

/// Finds the snapshot of `spec` and checks that the context names what it holds.
pub fn locate_context(state: &AppState, spec: &ContextSpec) -> Result<Located, ServiceError> {
    let (snapshot, context) = locate(state, spec)?;
    snapshot
        .split_chain(&context)
        .map_err(|e| context_error(e, spec))?;
    Ok(Located { snapshot, context })
}

impl Located {
    /// The snapshot's tenant (`None`: platform users).
    pub fn tenant(&self) -> Option<&Slug> {
        self.snapshot.tenant.as_ref()
    }

    /// The snapshot's version (ETags name it).
    pub fn version(&self) -> u64 {
        self.snapshot.version
    }

    /// The same context as it stood at `revision`, while the snapshots' history reaches back
    /// that far and the context existed then.
    pub fn as_of(&self, state: &AppState, revision: u64) -> Option<Located> {
        let snapshot = state
            .snapshots
            .as_of(self.snapshot.tenant.as_ref(), revision)?;
        snapshot.chain_layers(&self.context).ok()?;
        Some(Located {
            snapshot,
            context: self.context.clone(),
        })
    }

    /// Runs `f` over the effective configuration.
    pub fn effective<T>(&self, f: impl FnOnce(&[Resolved<'_>]) -> T) -> T {
        let resolved = self
            .snapshot
            .effective(&self.context)
            .expect("the context was checked when it was located");
        f(&resolved)
    }

    /// The effective configuration as JSON with secrets masked, written from the rendering of
    /// the context's shared layers (see [`resolve::Snapshot::split_chain`]) that `shared` finds
    /// for its key or makes with the function it is given. Users of one department and groups
    /// share that rendering, so a cache of it serves every one of them.
    pub fn masked_json(
        &self,
        shared: impl FnOnce(SharedKey, &dyn Fn() -> RenderedShared) -> Arc<RenderedShared>,
    ) -> Vec<u8> {
        let split = self
            .snapshot
            .split_chain(&self.context)
            .expect("the context was checked when it was located");
        let key = SharedKey {
            tenant: self.snapshot.tenant.clone(),
            version: self.snapshot.version,
            department: split.department.cloned(),
            groups: split.groups.iter().map(|g| (*g).clone()).collect(),
        };
        let make = || {
            RenderedShared::new(
                self.snapshot.keys.clone(),
                &self.snapshot.shared_layers(&split),
            )
        };
        shared(key, &make).with_own(split.own)
    }

    /// The sensitive values the effective configuration shows when revealed.
    pub fn secrets(&self, state: &AppState) -> Vec<RevealedSecret> {
        self.effective(|resolved| {
            resolved
                .iter()
                .filter(|r| r.key.sensitive)
                .filter_map(|r| Some(revealed(state, r.key.key.as_str(), r.source, r.value?)))
                .collect()
        })
    }
}

/// Runs `f` over the effective configuration of `spec` and the version of its snapshot.
pub fn with_effective<T>(
    state: &AppState,
    spec: &ContextSpec,
    f: impl FnOnce(&[Resolved<'_>], u64) -> T,
) -> Result<T, ServiceError> {
    let located = locate_context(state, spec)?;
    let version = located.version();
    Ok(located.effective(|resolved| f(resolved, version)))
}

/// The chain of `key` for `spec` in its wire form; with `reveal`, sensitive values in
/// plaintext, which is audited.
pub async fn chain(
    state: &AppState,
    key: &ConfigKey,
    spec: &ContextSpec,
    reveal: Option<Viewer<'_>>,
) -> Result<Value, ServiceError> {
    let (view, secrets) = {
        let (snapshot, context) = locate(state, spec)?;
        let chain = snapshot
            .chain(key, &context)
            .map_err(|e| context_error(e, spec))?
            .ok_or_else(|| ServiceError::NotFound(format!("key {key} is not defined")))?;
        let sensitive = snapshot.keys.get(key).is_some_and(|(_, d)| d.sensitive);
        let view = serde_json::to_value(ChainView {
            chain: &chain,
            sensitive,
            reveal: reveal.is_some(),
        })
        .map_err(|e| ServiceError::Database(sea_orm::DbErr::Custom(e.to_string())))?;
        let secrets: Vec<RevealedSecret> = if sensitive {
            chain
                .iter()
                .map(|c| revealed(state, key.as_str(), c.source, c.value))
                .collect()
        } else {
            Vec::new()
        };
        (view, secrets)
    };
    if let Some(viewer) = reveal {
        audit_reveal(state, viewer, spec, Some(key), &secrets).await?;
    }
    Ok(view)
}

/// A revealed value as the token audit identifies it.
fn revealed(state: &AppState, key: &str, source: Source<'_>, value: &Value) -> RevealedSecret {
    let level = source.level_name().unwrap_or("unset").to_owned();
    let scope = source.scope_id().map(str::to_owned);
    let place = match (&source, &scope) {
        (
            Source::Entry {
                template: Some(template),
                ..
            },
            _,
        ) => format!("template:{template}"),
        (Source::Entry { level, .. }, Some(id)) => format!("{}:{id}", level.as_str()),
        (Source::Entry { .. }, None) => "global".to_owned(),
        _ => "default".to_owned(),
    };
    RevealedSecret {
        key: key.to_owned(),
        fingerprint: state.secrets.fingerprint(key, &place, value),
        level,
        scope,
    }
}

/// The effective configuration of `spec` with each key's chain, for the console's preview;
/// with `reveal`, sensitive values in plaintext, which is audited.
pub async fn preview(
    state: &AppState,
    spec: &ContextSpec,
    reveal: Option<Viewer<'_>>,
) -> Result<Vec<PreviewRow>, ServiceError> {
    let rows = preview_rows(state, spec, reveal.is_some())?;
    if let Some(viewer) = reveal {
        let secrets = match viewer {
            // A person's reveal is one event whatever it showed.
            Viewer::Person(_) => Vec::new(),
            Viewer::Token { .. } => locate_context(state, spec)?.secrets(state),
        };
        audit_reveal(state, viewer, spec, None, &secrets).await?;
    }
    Ok(rows)
}

fn preview_rows(
    state: &AppState,
    spec: &ContextSpec,
    reveal: bool,
) -> Result<Vec<PreviewRow>, ServiceError> {
    let (snapshot, context) = locate(state, spec)?;
    let layers = snapshot
        .chain_layers(&context)
        .map_err(|e| context_error(e, spec))?;
    let mut rows: Vec<PreviewRow> = snapshot
        .keys
        .defs()
        .iter()
        .filter_map(|def| {
            let idx = snapshot.keys.idx(def.key.as_str())?;
            let chain = resolve::chain(def, idx, &layers);
            let applied = chain
                .iter()
                .find(|c| c.state == resolve::CandidateState::Applied);
            Some(PreviewRow {
                key: def.key.to_string(),
                category: def.category.clone(),
                sensitive: def.sensitive,
                value: applied.map(|c| {
                    if def.sensitive && !reveal {
                        Value::String(MASK.into())
                    } else {
                        c.value.clone()
                    }
                }),
                source: applied.and_then(|c| Origin::of(&c.source)),
                chain: super::editor::steps(&chain, def.sensitive, reveal),
            })
        })
        .collect();
    rows.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(rows)
}

/// Records that `viewer` saw the secrets of `spec` (of one key, with `key`): a person's every
/// reveal, a token's once per secret version (`secrets` are what it saw).
pub async fn audit_reveal(
    state: &AppState,
    viewer: Viewer<'_>,
    spec: &ContextSpec,
    key: Option<&ConfigKey>,
    secrets: &[RevealedSecret],
) -> Result<(), ServiceError> {
    let tenant = match spec {
        ContextSpec::WhatIf { tenant, .. } => Some(tenant.to_string()),
        ContextSpec::User(u) => state
            .snapshots
            .for_user(u)
            .and_then(|s| s.tenant.as_ref().map(ToString::to_string)),
    };
    match viewer {
        Viewer::Person(actor) => {
            let event = AuditRecord {
                action: "secret.reveal".into(),
                tenant,
                key: key.map(ToString::to_string),
                new_value: Some(spec.describe()),
                ..Default::default()
            };
            audit::record(&state.db, actor, event).await?;
        }
        Viewer::Token { actor, token_id } => {
            tokens::audit_reveals(state, actor, token_id, &spec.describe(), tenant, secrets)
                .await?;
        }
    }
    Ok(())
}
