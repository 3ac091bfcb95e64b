//! The Configuration section: the per-level editor. The page is driven by its URL
//! (`?scope=tenant:T&q=…&key=…&reveal=true`), and every change is a form posting to a server
//! function, so it all works without JavaScript; with it, changes apply in place.

pub(crate) mod row;

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::components::page::{PageHeader, posted_error};
use crate::domain::level::Level;
use crate::error::WireError;
use crate::views::{EditorRow, EditorView, EntryView, ImpactView, LevelChoice};

use row::KeyRow;
pub(crate) use row::{ImpactSummary, text};

/// The editor at `scope` (default: the most general scope the viewer administers); with
/// `reveal`, sensitive values in plaintext (needs `secrets_read`; audited); `key` names the
/// key whose recent history to include.
#[server(prefix = "/fn", endpoint = "editor")]
pub async fn editor(
    scope: Option<String>,
    reveal: Option<bool>,
    key: Option<String>,
) -> Result<EditorView, WireError> {
    use crate::auth::server::{actor, current_principal, service_error, with_status};
    use crate::backend::{access, editor, entries};
    let principal = current_principal().await.map_err(with_status)?;
    let state = crate::auth::server::state().map_err(with_status)?;
    let scope = match scope.filter(|s| !s.is_empty()) {
        Some(text) => parse_scope(&text)?,
        None => editor::home_scope(&principal),
    };
    let key = key
        .filter(|k| !k.is_empty())
        .map(|k| parse_key(&k))
        .transpose()?;
    let reveal = reveal.unwrap_or(false);
    access::authorize_read(&state, &principal, &scope, reveal)
        .await
        .map_err(service_error)?;
    let view = editor::view(&state, &principal, &scope, reveal, key.as_ref())
        .await
        .map_err(service_error)?;
    if view.revealed {
        let actor = actor(&principal).await;
        entries::audit_scope_reveal(&state, &actor, &scope)
            .await
            .map_err(service_error)?;
    }
    Ok(view)
}

/// The entries set at one scope (`global`, `tenant:T`, `department:T/D`, `group:T/G`, `user:U`);
/// with `reveal`, sensitive values in plaintext (needs `secrets_read`; audited).
#[server(prefix = "/fn", endpoint = "scope_entries")]
pub async fn scope_entries(
    scope: String,
    reveal: Option<bool>,
) -> Result<Vec<EntryView>, WireError> {
    use crate::auth::server::{current_principal, service_error, with_status};
    use crate::backend::{access, entries};
    let principal = current_principal().await.map_err(with_status)?;
    let state = crate::auth::server::state().map_err(with_status)?;
    let scope = parse_scope(&scope)?;
    let reveal = reveal.unwrap_or(false);
    access::authorize_read(&state, &principal, &scope, reveal)
        .await
        .map_err(service_error)?;
    let listed = entries::list(&state, &scope, reveal)
        .await
        .map_err(service_error)?;
    if reveal {
        let actor = crate::auth::server::actor(&principal).await;
        entries::audit_scope_reveal(&state, &actor, &scope)
            .await
            .map_err(service_error)?;
    }
    Ok(listed)
}

/// Sets one entry; `value` is the form's text, read as the key's type (JSON for json keys).
#[server(prefix = "/fn", endpoint = "save_entry")]
pub async fn save_entry(
    scope: String,
    key: String,
    value: String,
    expect_version: Option<i64>,
    reason: Option<String>,
) -> Result<EntryView, WireError> {
    use crate::auth::server::{actor, current_principal, service_error, with_status};
    use crate::backend::{access, entries};
    let principal = current_principal().await.map_err(with_status)?;
    let state = crate::auth::server::state().map_err(with_status)?;
    let scope = parse_scope(&scope)?;
    let key = parse_key(&key)?;
    access::authorize_write(&state, &principal, &scope, &key)
        .await
        .map_err(service_error)?;
    let value = form_value(&state, &key, &value).await?;
    let actor = actor(&principal).await;
    let request = entries::SetEntry {
        key,
        scope,
        value,
        locked: None,
        expect_version,
        reason: reason.filter(|r| !r.trim().is_empty()),
    };
    entries::set_entry(&state, &actor, request)
        .await
        .map_err(service_error)
}

/// Proposes an operation on one entry for review, where the approval policy asks for it:
/// `op` is set (with the form's `value` text), lock, unlock or unset. The request is created
/// and submitted at once, and the browser goes to its page.
#[server(prefix = "/fn", endpoint = "propose_entry")]
pub async fn propose_entry(
    scope: String,
    key: String,
    op: String,
    value: Option<String>,
    reason: Option<String>,
) -> Result<i64, WireError> {
    use crate::auth::server::{actor, current_principal, service_error, with_status};
    use crate::backend::{changes, impact};
    let principal = current_principal().await.map_err(with_status)?;
    let state = crate::auth::server::state().map_err(with_status)?;
    let parsed = parse_key(&key)?;
    let value = match value {
        Some(text) if op == "set" => Some(form_value(&state, &parsed, &text).await?),
        _ => None,
    };
    let actor = actor(&principal).await;
    let request = impact::OpRequest {
        op,
        scope,
        key,
        value,
    };
    let reason = reason.filter(|r| !r.trim().is_empty());
    // The service checks that the proposer may make the operation, like a direct write.
    let id = changes::propose(&state, &principal, &actor, request, reason)
        .await
        .map_err(service_error)?;
    leptos_axum::redirect(&format!("/changes?id={id}"));
    Ok(id)
}

/// Whom saving (`op` = set, with the form's `value` text), locking, unlocking or removing
/// (unset) the entry of `key` at `scope` would affect. Nothing is written.
#[server(prefix = "/fn", endpoint = "entry_impact")]
pub async fn entry_impact(
    scope: String,
    key: String,
    op: String,
    value: Option<String>,
) -> Result<ImpactView, WireError> {
    use crate::auth::server::{current_principal, service_error, with_status};
    use crate::backend::impact;
    let principal = current_principal().await.map_err(with_status)?;
    let state = crate::auth::server::state().map_err(with_status)?;
    let parsed = parse_key(&key)?;
    let value = match value {
        Some(text) if op == "set" => Some(form_value(&state, &parsed, &text).await?),
        _ => None,
    };
    let request = impact::OpRequest {
        op,
        scope,
        key,
        value,
    };
    impact::preview(&state, &principal, &[request])
        .await
        .map_err(service_error)
}

/// Locks (`locked` = true) or unlocks the entry at `scope`, keeping its value.
#[server(prefix = "/fn", endpoint = "lock_entry")]
pub async fn lock_entry(
    scope: String,
    key: String,
    locked: bool,
    expect_version: Option<i64>,
    reason: Option<String>,
) -> Result<EntryView, WireError> {
    use crate::auth::server::{actor, current_principal, service_error, with_status};
    use crate::backend::{access, entries};
    let principal = current_principal().await.map_err(with_status)?;
    let state = crate::auth::server::state().map_err(with_status)?;
    let scope = parse_scope(&scope)?;
    let key = parse_key(&key)?;
    access::authorize_write(&state, &principal, &scope, &key)
        .await
        .map_err(service_error)?;
    let actor = actor(&principal).await;
    let reason = reason.filter(|r| !r.trim().is_empty());
    entries::set_lock(&state, &actor, &key, &scope, locked, expect_version, reason)
        .await
        .map_err(service_error)
}

/// Removes one entry.
#[server(prefix = "/fn", endpoint = "remove_entry")]
pub async fn remove_entry(
    scope: String,
    key: String,
    expect_version: Option<i64>,
    reason: Option<String>,
) -> Result<(), WireError> {
    use crate::auth::server::{actor, current_principal, service_error, with_status};
    use crate::backend::{access, entries};
    let principal = current_principal().await.map_err(with_status)?;
    let state = crate::auth::server::state().map_err(with_status)?;
    let scope = parse_scope(&scope)?;
    let key = parse_key(&key)?;
    access::authorize_write(&state, &principal, &scope, &key)
        .await
        .map_err(service_error)?;
    let actor = actor(&principal).await;
    let reason = reason.filter(|r| !r.trim().is_empty());
    entries::unset_entry(&state, &actor, &key, &scope, expect_version, reason)
        .await
        .map_err(service_error)
}

/// The form's text as a value of `key`'s type (JSON for json keys).
#[cfg(feature = "ssr")]
pub(crate) async fn form_value(
    state: &crate::backend::AppState,
    key: &crate::domain::name::ConfigKey,
    text: &str,
) -> Result<serde_json::Value, WireError> {
    use crate::auth::server::{service_error, with_status};
    let (_, def) = crate::backend::entries::find_key(&state.db, &state.secrets, key)
        .await
        .map_err(service_error)?;
    def.key_type
        .value_from_text(text)
        .map_err(|e| with_status(WireError::InvalidInput(format!("value: key {key}: {e}"))))
}

#[cfg(feature = "ssr")]
fn parse_scope(scope: &str) -> Result<crate::domain::scope::Scope, WireError> {
    scope
        .parse()
        .map_err(|e: crate::domain::scope::ScopeError| {
            crate::auth::server::with_status(WireError::InvalidInput(format!("scope: {e}")))
        })
}

#[cfg(feature = "ssr")]
fn parse_key(key: &str) -> Result<crate::domain::name::ConfigKey, WireError> {
    crate::domain::name::ConfigKey::parse(key)
        .map_err(|e| crate::auth::server::with_status(WireError::InvalidInput(format!("key: {e}"))))
}

/// Bumped after every change made in place, so the editor reloads its data.
#[derive(Clone, Copy)]
pub(crate) struct Changes(pub RwSignal<u32>);

/// Whom an operation on one key's entry would affect: `op` is set, lock, unlock or unset.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Preview {
    pub key: String,
    pub op: String,
    pub answer: Result<ImpactView, WireError>,
}

#[component]
pub fn ConfigurationPage() -> impl IntoView {
    let query = use_query_map();
    let param = move |name: &str| query.read().get(name).filter(|v| !v.is_empty());
    let changes = Changes(RwSignal::new(0));
    provide_context(changes);
    let data = Resource::new(
        move || {
            (
                param("scope"),
                param("reveal").is_some_and(|r| r == "true"),
                param("key"),
                changes.0.get(),
            )
        },
        |(scope, reveal, key, _)| editor(scope, Some(reveal), key),
    );
    // An impact asked for by URL: the Save form sent here by GET with its value ("Preview
    // impact" without JavaScript), or `impact=lock|unlock|unset` from a row's links.
    let preview = Resource::new(
        move || {
            (
                param("scope"),
                param("key"),
                param("value"),
                param("impact"),
            )
        },
        |(scope, key, value, impact)| async move {
            let (Some(scope), Some(key)) = (scope, key) else {
                return None;
            };
            let op = match (impact.as_deref(), &value) {
                (Some(op @ ("lock" | "unlock" | "unset")), _) => op.to_owned(),
                (None, Some(_)) => "set".to_owned(),
                _ => return None,
            };
            let value = value.filter(|_| op == "set");
            let answer = entry_impact(scope, key.clone(), op.clone(), value).await;
            Some(Preview { key, op, answer })
        },
    );
    let posted = posted_error();

    view! {
        <PageHeader
            title="Configuration"
            lede="Every setting at every level, with where its value comes from."
        />
        {posted.map(|err| view! { <p class="error banner" role="alert">{err.to_string()}</p> })}
        <Suspense fallback=|| view! { <p class="muted">"Loading the editor…"</p> }>
            {move || data.get().map(|result| match result {
                Ok(view) => {
                    let preview = preview.get().flatten();
                    view! { <Editor view search=param("q").unwrap_or_default() preview/> }.into_any()
                }
                Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
            })}
        </Suspense>
    }
}

/// The editor for one scope: the level and scope pickers, then the keys by category.
#[component]
pub fn Editor(
    view: EditorView,
    search: String,
    /// A key's impact asked for by URL.
    preview: Option<Preview>,
) -> impl IntoView {
    let EditorView {
        scope,
        level,
        title,
        levels,
        can_reveal,
        revealed,
        rows,
        expanded,
        history,
    } = view;
    let search = RwSignal::new(search);
    let current = levels.iter().find(|l| l.level == level).cloned();
    let read_only = current.as_ref().and_then(|l| l.read_only.clone());
    let scope_options = current.map(|l| l.scopes).unwrap_or_default();
    let reveal_href = format!(
        "/configuration?scope={}&reveal={}",
        urlencode(&scope),
        !revealed
    );
    let categories = group_by_category(rows);
    let history = StoredValue::new(history);
    let scope_for_rows = StoredValue::new(scope.clone());
    let preview = StoredValue::new(preview);

    view! {
        <section class="editor" data-scope=scope.clone()>
            <LevelTabs levels current=level/>
            <form class="scope-picker" method="get" action="/configuration" role="search">
                <div class="field">
                    <label for="scope-select">"Scope"</label>
                    <select id="scope-select" name="scope">
                        {scope_options
                            .into_iter()
                            .map(|option| {
                                let selected = option == scope;
                                view! { <option value=option.clone() selected=selected>{option.clone()}</option> }
                            })
                            .collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label for="key-search">"Search keys"</label>
                    <input
                        id="key-search"
                        name="q"
                        type="search"
                        placeholder="Name or description"
                        prop:value=move || search.get()
                        on:input=move |ev| search.set(event_target_value(&ev))
                    />
                </div>
                <button type="submit" class="button">"Show"</button>
            </form>
            <div class="scope-bar">
                <h2 data-testid="editor-title">{title}</h2>
                {can_reveal.then(|| view! {
                    <a class="button ghost" href=reveal_href data-testid="reveal">
                        {if revealed { "Hide secrets" } else { "Reveal secrets" }}
                    </a>
                })}
            </div>
            {read_only.map(|reason| view! {
                <p class="notice" role="note" data-testid="read-only">"Read-only here: " {reason}</p>
            })}
            {categories
                .into_iter()
                .map(|(category, rows)| {
                    let count = rows.len();
                    let keys: Vec<String> = rows.iter().map(|r| r.key.clone()).collect();
                    let keys = StoredValue::new(keys);
                    let label = if category.is_empty() { "Other".to_owned() } else { category.clone() };
                    let category = category.to_lowercase();
                    let visible = move || {
                        let needle = search.get().to_lowercase();
                        needle.is_empty()
                            || keys.with_value(|k| k.iter().any(|k| k.contains(&needle)))
                            || category.contains(&needle)
                    };
                    view! {
                        <details class="category" open hidden=move || !visible()>
                            <summary>{label} <span class="count">{count}</span></summary>
                            <div class="key-list">
                                {rows
                                    .into_iter()
                                    .map(|row| {
                                        let shown_history = (expanded.as_deref() == Some(row.key.as_str()))
                                            .then(|| history.get_value());
                                        let impact = preview.with_value(|p| {
                                            p.as_ref().filter(|p| p.key == row.key).cloned()
                                        });
                                        view! {
                                            <KeyRow
                                                row
                                                scope=scope_for_rows.get_value()
                                                search
                                                history=shown_history
                                                impact
                                            />
                                        }
                                    })
                                    .collect_view()}
                            </div>
                        </details>
                    }
                    .into_any()
                })
                .collect_view()}
        </section>
    }
    .into_any()
}

/// Global … User: each level links to its first scope; a level with nothing visible is shown
/// disabled with the reason, a read-only one says so.
#[component]
fn LevelTabs(levels: Vec<LevelChoice>, current: Level) -> impl IntoView {
    view! {
        <nav class="level-tabs" aria-label="Levels">
            <ul>
                {levels
                    .into_iter()
                    .map(|choice| {
                        let label = choice.level.label();
                        let testid = format!("level-{}", choice.level.as_str());
                        let Some(first) = choice.scopes.first().filter(|_| choice.unavailable.is_none()) else {
                            let reason = choice.unavailable.unwrap_or_default();
                            let title = reason.clone();
                            return view! {
                                <li>
                                    <span class="level-tab disabled" aria-disabled="true" data-testid=testid title=title>
                                        {label}
                                        <small class="reason">{reason}</small>
                                    </span>
                                </li>
                            }
                            .into_any();
                        };
                        let href = format!("/configuration?scope={}", urlencode(first));
                        let read_only_title = choice.read_only.clone().unwrap_or_default();
                        let is_current = choice.level == current;
                        view! {
                            <li>
                                <a
                                    class="level-tab"
                                    class:current=is_current
                                    aria-current=is_current.then_some("page")
                                    href=href
                                    data-testid=testid
                                    title=read_only_title
                                >
                                    {label}
                                    {choice.read_only.map(|_| view! { <small class="reason">"read-only"</small> })}
                                </a>
                            </li>
                        }
                        .into_any()
                    })
                    .collect_view()}
            </ul>
        </nav>
    }
}

fn group_by_category(rows: Vec<EditorRow>) -> Vec<(String, Vec<EditorRow>)> {
    let mut out: Vec<(String, Vec<EditorRow>)> = Vec::new();
    for row in rows {
        match out.last_mut() {
            Some((category, list)) if *category == row.category => list.push(row),
            _ => out.push((row.category.clone(), vec![row])),
        }
    }
    out
}

/// Percent-encodes a query value (scopes hold `:` and `/`).
pub(crate) fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
