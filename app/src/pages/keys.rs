//! The key registry: every key definition, readable by every admin; super admins with
//! `config_write` define and change keys (type and constraints) and delete them (with their
//! entries, after confirmation). The same directory service and checks as `PUT/DELETE
//! /api/v1/keys/{key}`.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::components::page::{PageHeader, posted_error};
use crate::domain::document::KeyDoc;
use crate::error::WireError;
use crate::pages::configuration::urlencode;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyRegistryView {
    /// Sensitive defaults masked.
    pub keys: Vec<KeyDoc>,
    /// Why the viewer may not change the registry; none when they may.
    pub refusal: Option<String>,
    /// The delete being confirmed: the key and how many entries go with it.
    pub confirm: Option<(String, usize)>,
}

/// A key definition as the registry's form sends it (text fields; checkboxes send "on").
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyForm {
    pub key: String,
    pub key_type: String,
    pub description: String,
    pub category: String,
    /// Text read as the key's type; empty for none; the mask keeps a secret default.
    pub default: String,
    pub min: String,
    pub max: String,
    pub max_length: String,
    pub pattern: String,
    /// Comma-separated (enum keys).
    pub options: String,
    /// Comma-separated levels; empty for all.
    pub levels: String,
    pub sensitive: Option<String>,
    pub user_editable: Option<String>,
}

#[server(prefix = "/fn", endpoint = "key_registry")]
pub async fn key_registry(confirm: Option<String>) -> Result<KeyRegistryView, WireError> {
    use crate::auth::server::{current_principal, service_error, with_status};
    use crate::backend::{access, directory};
    use crate::domain::policy::Action;
    let principal = current_principal().await.map_err(with_status)?;
    let app = crate::auth::server::state().map_err(with_status)?;
    let keys = directory::key_docs(&app).await.map_err(service_error)?;
    let refusal = access::authorize(&principal, &Action::ManageKeys)
        .err()
        .map(|e| e.to_string());
    // Only someone who may delete the key learns how many entries (of every tenant) hold it.
    let confirm = match confirm.filter(|c| !c.is_empty() && refusal.is_none()) {
        Some(name) => {
            let key = crate::domain::name::ConfigKey::parse(&name)
                .map_err(|e| with_status(WireError::InvalidInput(format!("confirm: {e}"))))?;
            directory::entries_held(&app, &directory::Doomed::Key(key))
                .await
                .ok()
                .map(|held| (name, held))
        }
        None => None,
    };
    Ok(KeyRegistryView {
        keys,
        refusal,
        confirm,
    })
}

/// Defines a key or replaces its definition.
#[server(prefix = "/fn", endpoint = "save_key")]
pub async fn save_key(form: KeyForm) -> Result<(), WireError> {
    use crate::auth::server::{actor, current_principal, service_error, with_status};
    use crate::backend::{access, directory};
    use crate::domain::key::KeyType;
    use crate::domain::policy::Action;
    use crate::domain::value::MASK;
    let principal = current_principal().await.map_err(with_status)?;
    let state = crate::auth::server::state().map_err(with_status)?;
    access::authorize(&principal, &Action::ManageKeys).map_err(service_error)?;
    let invalid = |m: String| with_status(WireError::InvalidInput(m));
    let key = crate::domain::name::ConfigKey::parse(form.key.trim())
        .map_err(|e| invalid(format!("key: {e}")))?;
    let key_type: KeyType = serde_json::from_value(serde_json::json!(form.key_type))
        .map_err(|_| invalid(format!("type: unknown type {:?}", form.key_type)))?;
    let number = |name: &str, text: &str| -> Result<Option<serde_json::Number>, WireError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        text.parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Some)
            .ok_or_else(|| invalid(format!("{name}: expected a number, got {text:?}")))
    };
    let list = |text: &str| -> Option<Vec<String>> {
        let items: Vec<String> = text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        (!items.is_empty()).then_some(items)
    };
    let default = if form.default.trim().is_empty() {
        None
    } else if form.default == MASK {
        // The secret default was shown masked: the service keeps what is stored.
        Some(serde_json::Value::String(MASK.into()))
    } else {
        Some(
            key_type
                .value_from_text(&form.default)
                .map_err(|e| invalid(format!("default: {e}")))?,
        )
    };
    let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let doc =
        KeyDoc {
            key: key.to_string(),
            key_type: key_type.as_str().to_owned(),
            options: list(&form.options),
            min: number("min", &form.min)?,
            max: number("max", &form.max)?,
            max_length: match form.max_length.trim() {
                "" => None,
                t => Some(t.parse().map_err(|_| {
                    invalid(format!("max_length: expected a whole number, got {t:?}"))
                })?),
            },
            pattern: text(&form.pattern),
            default,
            description: text(&form.description),
            category: text(&form.category),
            levels: list(&form.levels),
            sensitive: Some(form.sensitive.is_some()),
            user_editable: Some(form.user_editable.is_some()),
        };
    let actor = actor(&principal).await;
    directory::define_key(&state, &actor, &key, doc)
        .await
        .map(|_| ())
        .map_err(service_error)
}

/// Deletes a key and its entries.
#[server(prefix = "/fn", endpoint = "delete_key")]
pub async fn delete_key(key: String) -> Result<(), WireError> {
    use crate::auth::server::{actor, current_principal, service_error, with_status};
    use crate::backend::{access, directory};
    use crate::domain::policy::Action;
    let principal = current_principal().await.map_err(with_status)?;
    let state = crate::auth::server::state().map_err(with_status)?;
    access::authorize(&principal, &Action::ManageKeys).map_err(service_error)?;
    let key = crate::domain::name::ConfigKey::parse(&key)
        .map_err(|e| with_status(WireError::InvalidInput(format!("key: {e}"))))?;
    let actor = actor(&principal).await;
    directory::delete(&state, &actor, &directory::Doomed::Key(key), None)
        .await
        .map_err(service_error)
}

#[component]
pub fn KeysPage() -> impl IntoView {
    let query = use_query_map();
    let confirm = move || query.read().get("confirm").filter(|v| !v.is_empty());
    let save = ServerAction::<SaveKey>::new();
    let delete = ServerAction::<DeleteKey>::new();
    let data = Resource::new(
        move || (confirm(), save.version().get() + delete.version().get()),
        |(confirm, _)| key_registry(confirm),
    );
    let posted = posted_error();
    let failure = move || {
        save.value()
            .get()
            .and_then(Result::err)
            .or_else(|| delete.value().get().and_then(Result::err))
    };
    let saved = move || save.value().get().is_some_and(|r| r.is_ok());

    view! {
        <PageHeader title="Keys" lede="The key registry: every setting's type, constraints, default and levels."/>
        {posted.map(|err| view! { <p class="error banner" role="alert">{err.to_string()}</p> })}
        {move || failure().map(|err| view! { <p class="error banner" role="alert" data-testid="key-error">{err.to_string()}</p> })}
        {move || saved().then(|| view! { <p class="notice" role="status" data-testid="key-saved">"Saved."</p> })}
        <Suspense fallback=|| view! { <p class="muted">"Reading the registry…"</p> }>
            {move || data.get().map(|result| match result {
                Ok(view) => view! { <Registry view save delete/> }.into_any(),
                Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn Registry(
    view: KeyRegistryView,
    save: ServerAction<SaveKey>,
    delete: ServerAction<DeleteKey>,
) -> impl IntoView {
    let KeyRegistryView {
        keys,
        refusal,
        confirm,
    } = view;
    let locked = refusal.is_some();
    let confirm_panel = confirm.map(|(key, held)| {
        view! {
            <section class="card confirm" role="alertdialog" aria-labelledby="delete-key-title" data-testid="confirm-delete">
                <h2 id="delete-key-title">{format!("Delete key {key}?")}</h2>
                <p data-testid="held">{format!("{held} entries at some level set it; they are removed with it.")}</p>
                <ActionForm action=delete>
                    <input type="hidden" name="key" value=key/>
                    <div class="actions">
                        <button type="submit" class="button danger">"Delete"</button>
                        <a class="button ghost" href="/keys">"Cancel"</a>
                    </div>
                </ActionForm>
            </section>
        }
    });
    view! {
        {confirm_panel}
        {refusal.map(|r| view! { <p class="notice" role="note" data-testid="keys-read-only">"Read-only: " {r}</p> })}
        <article class="card">
            <h2>"Define a key"</h2>
            <KeyEditor doc=None save locked/>
        </article>
        <div class="key-list card" data-testid="keys">
            {keys
                .into_iter()
                .map(|doc| {
                    let name = doc.key.clone();
                    let summary = format!(
                        "{} · {}{}",
                        doc.key_type,
                        doc.category.clone().unwrap_or_default(),
                        if doc.sensitive == Some(true) { " · secret" } else { "" }
                    );
                    let delete_href = format!("/keys?confirm={}", urlencode(&name));
                    let key_attr = name.clone();
                    view! {
                        <details class="key-def" data-testid="key-def" data-key=key_attr>
                            <summary><code>{name}</code> " " <span class="muted">{summary}</span></summary>
                            <KeyEditor doc=Some(doc) save locked/>
                            {(!locked).then(|| view! { <a class="text-link" href=delete_href>"Delete…"</a> })}
                        </details>
                    }
                })
                .collect_view()}
        </div>
    }
    .into_any()
}

/// The definition form, empty for a new key.
#[component]
fn KeyEditor(doc: Option<KeyDoc>, save: ServerAction<SaveKey>, locked: bool) -> impl IntoView {
    let existing = doc.is_some();
    let doc = doc.unwrap_or(KeyDoc {
        key: String::new(),
        key_type: "string".into(),
        options: None,
        min: None,
        max: None,
        max_length: None,
        pattern: None,
        default: None,
        description: None,
        category: None,
        levels: None,
        sensitive: None,
        user_editable: None,
    });
    let prefix = if existing {
        format!("k-{}", doc.key)
    } else {
        "new-key".into()
    };
    let id = move |name: &str| format!("{prefix}-{name}");
    let text = |v: &Option<serde_json::Value>| match v {
        None => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let number =
        |n: &Option<serde_json::Number>| n.as_ref().map(ToString::to_string).unwrap_or_default();
    let key_type = doc.key_type.clone();
    view! {
        <ActionForm action=save attr:class="key-form">
            <fieldset disabled=locked>
                {if existing {
                    view! { <input type="hidden" name="form[key]" value=doc.key.clone()/> }.into_any()
                } else {
                    view! {
                        <div class="field">
                            <label for=id("key")>"Key"</label>
                            <input id=id("key") name="form[key]" type="text" required placeholder="area.setting_name"/>
                        </div>
                    }
                    .into_any()
                }}
                <div class="field">
                    <label for=id("type")>"Type"</label>
                    <select id=id("type") name="form[key_type]">
                        {["string", "integer", "float", "boolean", "json", "enum"]
                            .into_iter()
                            .map(|t| view! { <option value=t selected=t == key_type>{t}</option> })
                            .collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label for=id("category")>"Category"</label>
                    <input id=id("category") name="form[category]" type="text" value=doc.category.clone().unwrap_or_default()/>
                </div>
                <div class="field wide">
                    <label for=id("description")>"Description"</label>
                    <input id=id("description") name="form[description]" type="text" value=doc.description.clone().unwrap_or_default()/>
                </div>
                <div class="field">
                    <label for=id("default")>"Default"</label>
                    <input id=id("default") name="form[default]" type="text" value=text(&doc.default)/>
                </div>
                <div class="field">
                    <label for=id("min")>"Min"</label>
                    <input id=id("min") name="form[min]" type="text" inputmode="decimal" value=number(&doc.min) class="narrow"/>
                </div>
                <div class="field">
                    <label for=id("max")>"Max"</label>
                    <input id=id("max") name="form[max]" type="text" inputmode="decimal" value=number(&doc.max) class="narrow"/>
                </div>
                <div class="field">
                    <label for=id("max_length")>"Max length"</label>
                    <input id=id("max_length") name="form[max_length]" type="text" inputmode="numeric" value=doc.max_length.map(|m| m.to_string()).unwrap_or_default() class="narrow"/>
                </div>
                <div class="field">
                    <label for=id("pattern")>"Pattern"</label>
                    <input id=id("pattern") name="form[pattern]" type="text" value=doc.pattern.clone().unwrap_or_default()/>
                </div>
                <div class="field">
                    <label for=id("options")>"Options (enum)"</label>
                    <input id=id("options") name="form[options]" type="text" value=doc.options.clone().unwrap_or_default().join(", ")/>
                </div>
                <div class="field">
                    <label for=id("levels")>"Levels"</label>
                    <input id=id("levels") name="form[levels]" type="text" placeholder="all" value=doc.levels.clone().unwrap_or_default().join(", ")/>
                </div>
                <label class="check">
                    <input type="checkbox" name="form[sensitive]" checked=doc.sensitive == Some(true)/>
                    " Sensitive"
                </label>
                <label class="check">
                    <input type="checkbox" name="form[user_editable]" checked=doc.user_editable == Some(true)/>
                    " User-editable"
                </label>
                <button type="submit" class="button">{if existing { "Save key" } else { "Define key" }}</button>
            </fieldset>
        </ActionForm>
    }
    .into_any()
}
