//! The Audit section: the events the viewer may see, newest first, with filters, paging, old →
//! new for each change (secrets stay masked), revert with confirmation, export and the
//! chain's integrity. Driven by its URL, so it works without JavaScript.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::components::page::{PageHeader, posted_error};
use crate::error::WireError;
use crate::pages::configuration::urlencode;
use crate::views::{AuditLine, AuditPageView, EntryView};

const FILTERS: [&str; 7] = [
    "tenant", "level", "key", "actor", "action", "since", "until",
];

/// A `datetime-local` value (`YYYY-MM-DDTHH:MM[:SS]`, taken as UTC) as RFC 3339; anything
/// else as it is.
fn rfc3339(value: &str) -> String {
    match value.len() {
        16 => format!("{value}:00Z"),
        19 => format!("{value}Z"),
        _ => value.to_owned(),
    }
}

/// The audit browser's filters, as its URL holds them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditQuery {
    pub tenant: Option<String>,
    pub level: Option<String>,
    pub key: Option<String>,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    /// Pages back: events older than this id.
    pub before_id: Option<i64>,
}

/// A page of the events the viewer may see, filtered.
// JSON input: a nested filter with every field optional, which form encoding loses.
#[server(prefix = "/fn", endpoint = "audit_events", input = leptos::server_fn::codec::Json)]
pub async fn audit_events(query: AuditQuery) -> Result<AuditPageView, WireError> {
    let AuditQuery {
        tenant,
        level,
        key,
        actor,
        action,
        since,
        until,
        before_id,
    } = query;
    use crate::auth::server::{current_principal, internal, with_status};
    use crate::backend::audit::{self, AuditFilter};
    use crate::domain::policy::{Action, decide};
    let principal = current_principal().await.map_err(with_status)?;
    let state = crate::auth::server::state().map_err(with_status)?;
    let present = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let time = |name: &str, v: Option<String>| {
        audit::parse_time(name, v.as_deref()).map_err(|m| with_status(WireError::InvalidInput(m)))
    };
    let filter = AuditFilter {
        tenant: present(tenant),
        level: present(level),
        key_prefix: present(key),
        actor: present(actor),
        action: present(action),
        since: time("since", since)?,
        until: time("until", until)?,
        limit: None,
        before_id,
        ..Default::default()
    };
    let (events, next) = audit::browse(&state.db, &principal, &filter, 50)
        .await
        .map_err(|e| with_status(internal(e)))?;
    let integrity = if decide(&principal, &Action::Operate).is_allowed() {
        let verdict = audit::verify(&state.db)
            .await
            .map_err(|e| with_status(internal(e)))?;
        Some(verdict.map_err(|broken| broken.first_broken()))
    } else {
        None
    };
    Ok(AuditPageView {
        events: events.into_iter().map(AuditLine::from).collect(),
        next_before_id: next,
        integrity,
    })
}

/// Reverts an entry change from its event: a new, audited change; refused when the entry
/// changed since.
#[server(prefix = "/fn", endpoint = "revert_event")]
pub async fn revert_event(id: i64, reason: Option<String>) -> Result<Option<EntryView>, WireError> {
    use crate::auth::server::{actor, current_principal, service_error, with_status};
    use crate::backend::{access, revert};
    let principal = current_principal().await.map_err(with_status)?;
    let state = crate::auth::server::state().map_err(with_status)?;
    // Whether the event is theirs to see comes first: a refusal says nothing about it.
    let place = revert::place(&state, id).await.map_err(service_error)?;
    access::authorize_read_event(&principal, id, &place).map_err(service_error)?;
    let plan = revert::plan(&state, id).await.map_err(service_error)?;
    access::authorize_revert(&state, &principal, &plan)
        .await
        .map_err(service_error)?;
    let actor = actor(&principal).await;
    revert::apply(&state, &actor, &plan, reason)
        .await
        .map_err(service_error)
}

#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let param = move |name: &str| query.read().get(name).filter(|v| !v.is_empty());
    let revert = ServerAction::<RevertEvent>::new();
    let data = Resource::new(
        move || {
            (
                FILTERS.map(param),
                param("before_id").and_then(|b| b.parse::<i64>().ok()),
                revert.version().get(),
            )
        },
        |([tenant, level, key, actor, action, since, until], before_id, _)| {
            audit_events(AuditQuery {
                tenant,
                level,
                key,
                actor,
                action,
                since,
                until,
                before_id,
            })
        },
    );
    // The filters as a query string, for paging links (`for_api`: for the export links of the
    // HTTP API, which takes times as RFC 3339; the form's `datetime-local` values are UTC
    // without a zone).
    let filters = move |for_api: bool| {
        FILTERS
            .iter()
            .filter_map(|name| {
                param(name).map(|v| {
                    let v = if for_api && matches!(*name, "since" | "until") {
                        rfc3339(&v)
                    } else {
                        v
                    };
                    format!("{name}={}", urlencode(&v))
                })
            })
            .collect::<Vec<_>>()
            .join("&")
    };
    let field = move |name: &'static str| param(name).unwrap_or_default();
    let confirm = move || param("confirm").and_then(|c| c.parse::<i64>().ok());
    let posted = posted_error();
    let outcome = move || match revert.value().get() {
        Some(Ok(_)) => Some(
            view! { <p class="notice" role="status" data-testid="reverted">"Reverted."</p> }
                .into_any(),
        ),
        Some(Err(err)) => {
            Some(view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any())
        }
        None => None,
    };

    view! {
        <PageHeader title="Audit" lede="Every change, who made it and when; revert entry changes."/>
        {posted.map(|err| view! { <p class="error banner" role="alert">{err.to_string()}</p> })}
        {outcome}
        <form class="audit-filters card" method="get" action="/audit" role="search">
            <div class="field-row">
                <div class="field">
                    <label for="f-tenant">"Tenant"</label>
                    <input id="f-tenant" name="tenant" type="text" value=field("tenant")/>
                </div>
                <div class="field">
                    <label for="f-level">"Level"</label>
                    <select id="f-level" name="level">
                        <option value="">"Any"</option>
                        {["global", "tenant", "department", "group", "user"]
                            .into_iter()
                            .map(|l| view! { <option value=l selected=field("level") == l>{l}</option> })
                            .collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label for="f-key">"Key prefix"</label>
                    <input id="f-key" name="key" type="text" value=field("key")/>
                </div>
                <div class="field">
                    <label for="f-actor">"Actor"</label>
                    <input id="f-actor" name="actor" type="text" value=field("actor")/>
                </div>
                <div class="field">
                    <label for="f-action">"Action"</label>
                    <input id="f-action" name="action" type="text" value=field("action") placeholder="entry.set"/>
                </div>
                <div class="field">
                    <label for="f-since">"Since (UTC)"</label>
                    <input id="f-since" name="since" type="datetime-local" value=field("since")/>
                </div>
                <div class="field">
                    <label for="f-until">"Until (UTC)"</label>
                    <input id="f-until" name="until" type="datetime-local" value=field("until")/>
                </div>
                <button type="submit" class="button">"Filter"</button>
            </div>
        </form>
        <Suspense fallback=|| view! { <p class="muted">"Reading the audit…"</p> }>
            {move || data.get().map(|result| match result {
                Ok(page) => {
                    let (filters, api_filters) = (filters(false), filters(true));
                    view! { <Events page filters api_filters confirm=confirm() revert/> }.into_any()
                }
                Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
            })}
        </Suspense>
    }
    .into_any()
}

#[component]
fn Events(
    page: AuditPageView,
    filters: String,
    api_filters: String,
    confirm: Option<i64>,
    revert: ServerAction<RevertEvent>,
) -> impl IntoView {
    let AuditPageView {
        events,
        next_before_id,
        integrity,
    } = page;
    let joined = |extra: String| {
        if filters.is_empty() {
            extra
        } else {
            format!("{filters}&{extra}")
        }
    };
    let api_query = |extra: &str| {
        if api_filters.is_empty() {
            extra.to_owned()
        } else {
            format!("{api_filters}&{extra}")
        }
    };
    let json_href = format!("/api/v1/audit?{}", api_query("limit=500"));
    let csv_href = format!("/api/v1/audit?{}", api_query("limit=500&format=csv"));
    let older = next_before_id.map(|id| format!("/audit?{}", joined(format!("before_id={id}"))));
    let integrity = integrity.map(|verdict| match verdict {
        Ok(count) => view! {
            <p class="integrity ok" data-testid="integrity">{format!("Chain intact: {count} events verified.")}</p>
        }
        .into_any(),
        Err(id) => view! {
            <p class="integrity broken" role="alert" data-testid="integrity">{format!("Chain broken at event {id}.")}</p>
        }
        .into_any(),
    });
    let back = format!("/audit?{filters}");
    let confirming = confirm.and_then(|id| events.iter().find(|e| e.id == id).cloned());

    view! {
        <div class="audit-bar">
            {integrity}
            <span class="downloads">
                <a class="button ghost" href=json_href download="audit.json">"Export JSON"</a>
                <a class="button ghost" href=csv_href download="audit.csv">"Export CSV"</a>
            </span>
        </div>
        {confirming.map(|event| view! { <ConfirmRevert event back=back.clone() revert/> })}
        {if events.is_empty() {
            view! { <p class="muted" data-testid="no-events">"No events match."</p> }.into_any()
        } else {
            view! {
                <ol class="events" data-testid="events">
                    {events
                        .into_iter()
                        .map(|event| {
                            let href = format!("/audit?{}", joined(format!("confirm={}", event.id)));
                            view! { <EventLine event confirm_href=href/> }
                        })
                        .collect_view()}
                </ol>
            }
            .into_any()
        }}
        {older.map(|href| view! { <a class="button ghost" href=href data-testid="older">"Older events"</a> })}
    }
    .into_any()
}

#[component]
fn EventLine(event: AuditLine, confirm_href: String) -> impl IntoView {
    let place = match (&event.level, &event.scope) {
        (Some(level), Some(scope)) => format!("{level} {scope}"),
        (Some(level), None) => level.clone(),
        _ => String::new(),
    };
    let lock_change = match (event.old_locked, event.new_locked) {
        (Some(a), Some(b)) if a != b => Some(if b { "locked" } else { "unlocked" }),
        (None, Some(true)) => Some("locked"),
        _ => None,
    };
    view! {
        <li class="event" data-testid="event" data-id=event.id.to_string() data-action=event.action.clone()>
            <div class="event-head">
                <span class="muted">{format!("#{}", event.id)}</span>
                <time>{event.at.clone()}</time>
                <strong>{event.actor.clone()}</strong>
                <span class="badge">{event.action.clone()}</span>
                <span>{place}</span>
                {event.key.clone().map(|k| view! { <code>{k}</code> })}
            </div>
            {(event.old_value.is_some() || event.new_value.is_some()).then(|| view! {
                <div class="diff" data-testid="diff">
                    <del>{event.old_value.clone().unwrap_or_else(|| "—".into())}</del>
                    " → "
                    <ins>{event.new_value.clone().unwrap_or_else(|| "—".into())}</ins>
                    {lock_change.map(|l| view! { <span class="muted">{format!(" ({l})")}</span> })}
                </div>
            })}
            {event.reason.clone().map(|r| view! { <p class="reason">{r}</p> })}
            {event.revertable.then(|| view! {
                <a class="button ghost" href=confirm_href data-testid="revert">"Revert…"</a>
            })}
        </li>
    }
    .into_any()
}

#[component]
fn ConfirmRevert(
    event: AuditLine,
    back: String,
    revert: ServerAction<RevertEvent>,
) -> impl IntoView {
    let target = match (&event.key, &event.level, &event.scope) {
        (Some(key), Some(level), scope) => {
            format!("{key} at {level} {}", scope.clone().unwrap_or_default())
        }
        _ => "this entry".into(),
    };
    let restores = match &event.old_value {
        Some(old) => format!("back to {old}"),
        None => "by removing it (the event created it)".into(),
    };
    view! {
        <section class="card confirm" role="alertdialog" aria-labelledby="confirm-title" data-testid="confirm">
            <h2 id="confirm-title">{format!("Revert event #{}?", event.id)}</h2>
            <p>{format!("This sets {target} {restores}, as a new change in the audit.")}</p>
            <ActionForm action=revert>
                <input type="hidden" name="id" value=event.id.to_string()/>
                <div class="field">
                    <label for="revert-reason">"Reason (optional)"</label>
                    <input id="revert-reason" name="reason" type="text" maxlength="500"/>
                </div>
                <div class="actions">
                    <button type="submit" class="button danger">"Revert"</button>
                    <a class="button ghost" href=back>"Cancel"</a>
                </div>
            </ActionForm>
        </section>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    #[test]
    fn form_times_become_rfc3339_for_the_api() {
        assert_eq!(super::rfc3339("2026-11-22T09:30"), "2026-11-22T09:30:00Z");
        assert_eq!(
            super::rfc3339("2026-11-22T09:30:15"),
            "2026-11-22T09:30:15Z"
        );
        assert_eq!(
            super::rfc3339("2026-11-22T09:30:15Z"),
            "2026-11-22T09:30:15Z"
        );
    }
}
