//! Watching a context's effective configuration (`/api/v1/watch`, `strata watch`, long polls).
//!
//! Rule: a watcher is told about a revision only when it altered what the context resolves to,
//! and then only the keys whose shown form (value, masked or not, level, scope) changed. Its
//! first event is the whole configuration; one that resumes from a revision it saw gets the net
//! change since then instead, when the snapshots' history still reaches back that far, else
//! the whole configuration again. A watcher holds only what it last showed, one line per key,
//! whatever the number of revisions, so its memory is bounded by the number of keys. A secret
//! that changes behind its mask counts as a change (shown masked): the application learns that
//! it rotated.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::AppState;
use super::error::ServiceError;
use super::resolution::{ContextSpec, Located, locate_context};
use crate::domain::resolve::EffectiveView;

/// One event of a watch.
#[derive(Debug, Clone, PartialEq)]
pub enum WatchEvent {
    /// The whole effective configuration, as `/effective` answers it.
    Snapshot { revision: u64, effective: Value },
    /// What changed since the last event: keys with their new `{value, level, scope}`, and
    /// keys no longer shown.
    Change {
        revision: u64,
        changed: Map<String, Value>,
        removed: Vec<String>,
    },
}

impl WatchEvent {
    /// The revision it brings the watcher to (the SSE `id:`).
    pub fn revision(&self) -> u64 {
        match self {
            WatchEvent::Snapshot { revision, .. } | WatchEvent::Change { revision, .. } => {
                *revision
            }
        }
    }

    /// `snapshot` or `change` (the SSE `event:`).
    pub fn name(&self) -> &'static str {
        match self {
            WatchEvent::Snapshot { .. } => "snapshot",
            WatchEvent::Change { .. } => "change",
        }
    }

    /// The event's data as API.md gives it.
    pub fn data(&self) -> Value {
        match self {
            WatchEvent::Snapshot { effective, .. } => effective.clone(),
            WatchEvent::Change {
                revision,
                changed,
                removed,
            } => serde_json::json!({
                "revision": revision,
                "changed": changed,
                "removed": removed,
            }),
        }
    }

    /// `{"event", "id", "data"}`: one line of `strata watch`.
    pub fn to_json_line(&self) -> Value {
        serde_json::json!({"event": self.name(), "id": self.revision(), "data": self.data()})
    }
}

/// What one watcher last showed, and of which snapshot version.
#[derive(Debug)]
pub struct Watcher {
    spec: ContextSpec,
    reveal: bool,
    version: u64,
    /// Each key's shown form, serialised (compared, never parsed again).
    shown: BTreeMap<String, Box<str>>,
}

/// The effective configuration of `located` as `/effective` shows it, and each key's line: its
/// shown form plus, for a masked secret, a digest of the value behind the mask, so a rotated
/// secret counts as a change even though it shows the same mask. The digest stays in memory.
fn view(located: &Located, reveal: bool) -> (Map<String, Value>, BTreeMap<String, Box<str>>) {
    located.effective(|resolved| {
        let shown = match serde_json::to_value(EffectiveView { resolved, reveal }) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        let lines = resolved
            .iter()
            .filter_map(|r| {
                let key = r.key.key.as_str();
                let mut line = shown.get(key)?.to_string();
                if r.key.sensitive && !reveal {
                    use std::hash::{Hash, Hasher};
                    let mut hasher = std::collections::hash_map::DefaultHasher::new();
                    r.value.map(ToString::to_string).hash(&mut hasher);
                    line.push_str(&format!("#{:016x}", hasher.finish()));
                }
                Some((key.to_owned(), line.into_boxed_str()))
            })
            .collect();
        (shown, lines)
    })
}

impl Watcher {
    /// Starts watching `spec` (already authorized). With `resume`, the revision of the last
    /// event the client saw, the first event is the net change since then (none at all when
    /// nothing changed), or the whole configuration when that revision is out of reach.
    pub fn start(
        state: &AppState,
        spec: ContextSpec,
        reveal: bool,
        resume: Option<u64>,
    ) -> Result<(Watcher, Option<WatchEvent>), ServiceError> {
        let located = locate_context(state, &spec)?;
        let then = resume.and_then(|revision| located.as_of(state, revision));
        match then {
            Some(then) => {
                let mut watcher = Watcher {
                    shown: view(&then, reveal).1,
                    version: then.version(),
                    spec,
                    reveal,
                };
                let event = watcher.changes(&located);
                Ok((watcher, event))
            }
            None => {
                let (effective, shown) = view(&located, reveal);
                let watcher = Watcher {
                    shown,
                    version: located.version(),
                    spec,
                    reveal,
                };
                let event = WatchEvent::Snapshot {
                    revision: located.version(),
                    effective: Value::Object(effective),
                };
                Ok((watcher, Some(event)))
            }
        }
    }

    /// The context watched.
    pub fn spec(&self) -> &ContextSpec {
        &self.spec
    }

    /// Whether it shows sensitive values in plaintext.
    pub fn reveals(&self) -> bool {
        self.reveal
    }

    /// The version of the configuration last shown (the last event's revision).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// What changed since the last event, once the snapshots moved on: none when the context's
    /// snapshot did not change, or changed elsewhere. An error when the context is gone (a
    /// deleted user, tenant, department or group).
    pub fn next(&mut self, state: &AppState) -> Result<Option<WatchEvent>, ServiceError> {
        let located = locate_context(state, &self.spec)?;
        if located.version() == self.version {
            return Ok(None);
        }
        Ok(self.changes(&located))
    }

    fn changes(&mut self, now: &Located) -> Option<WatchEvent> {
        self.version = now.version();
        let (current, lines) = view(now, self.reveal);
        let mut changed = Map::new();
        for (key, line) in lines {
            if self.shown.get(&key) != Some(&line) {
                if let Some(shown) = current.get(&key) {
                    changed.insert(key.clone(), shown.clone());
                }
                self.shown.insert(key, line);
            }
        }
        let removed: Vec<String> = self
            .shown
            .keys()
            .filter(|key| !current.contains_key(*key))
            .cloned()
            .collect();
        for key in &removed {
            self.shown.remove(key);
        }
        (!changed.is_empty() || !removed.is_empty()).then(|| WatchEvent::Change {
            revision: now.version(),
            changed,
            removed,
        })
    }
}
