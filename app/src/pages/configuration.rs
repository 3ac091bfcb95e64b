//! The Configuration section.

use leptos::prelude::*;

use crate::components::page::{PageHeader, Planned};
use crate::error::WireError;
use crate::views::EntryView;

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
        let actor = crate::backend::audit::Actor {
            name: principal.user.to_string(),
            ..crate::auth::server::client().await
        };
        entries::audit_scope_reveal(&state, &actor, &scope)
            .await
            .map_err(service_error)?;
    }
    Ok(listed)
}

/// Sets one entry; `value` is JSON (a bare word that is not JSON is taken as a string).
#[server(prefix = "/fn", endpoint = "save_entry")]
pub async fn save_entry(
    scope: String,
    key: String,
    value: String,
    locked: Option<bool>,
    expect_version: Option<i64>,
    reason: Option<String>,
) -> Result<EntryView, WireError> {
    use crate::auth::server::{client, current_principal, service_error, with_status};
    use crate::backend::{access, entries};
    let principal = current_principal().await.map_err(with_status)?;
    let state = crate::auth::server::state().map_err(with_status)?;
    let scope = parse_scope(&scope)?;
    let key = parse_key(&key)?;
    access::authorize_write(&state, &principal, &scope, &key)
        .await
        .map_err(service_error)?;
    let value = serde_json::from_str(&value).unwrap_or(serde_json::Value::String(value));
    let actor = crate::backend::audit::Actor {
        name: principal.user.to_string(),
        ..client().await
    };
    let request = entries::SetEntry {
        key,
        scope,
        value,
        locked,
        expect_version,
        reason: reason.filter(|r| !r.trim().is_empty()),
    };
    entries::set_entry(&state, &actor, request)
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
    use crate::auth::server::{client, current_principal, service_error, with_status};
    use crate::backend::{access, entries};
    let principal = current_principal().await.map_err(with_status)?;
    let state = crate::auth::server::state().map_err(with_status)?;
    let scope = parse_scope(&scope)?;
    let key = parse_key(&key)?;
    access::authorize_write(&state, &principal, &scope, &key)
        .await
        .map_err(service_error)?;
    let actor = crate::backend::audit::Actor {
        name: principal.user.to_string(),
        ..client().await
    };
    entries::unset_entry(&state, &actor, &key, &scope, expect_version, reason)
        .await
        .map_err(service_error)
}

#[cfg(feature = "ssr")]
fn parse_scope(scope: &str) -> Result<crate::domain::scope::Scope, WireError> {
    scope
        .parse()
        .map_err(|e: crate::domain::scope::ScopeError| {
            crate::auth::server::with_status(WireError::InvalidInput(e.to_string()))
        })
}

#[cfg(feature = "ssr")]
fn parse_key(key: &str) -> Result<crate::domain::name::ConfigKey, WireError> {
    crate::domain::name::ConfigKey::parse(key)
        .map_err(|e| crate::auth::server::with_status(WireError::InvalidInput(e.to_string())))
}

#[component]
pub fn ConfigurationPage() -> impl IntoView {
    view! {
        <PageHeader title="Configuration" lede="Every setting at every level, with where its value comes from."/>
        <Planned>
            <p>"The per-level editor with inheritance chains arrives with the configuration engine."</p>
        </Planned>
    }
}
