//! Templates: every template with its entries, the scopes that follow it and their drift.
//! Super admins with `config_write` define templates and set or remove their entries (every
//! follower changes at once) and promote a follower's own value into the template; whoever may
//! write a drifting scope resets it to the template (removes its own entry); whoever manages a
//! tenant, department or group chooses the template it follows. The same services and checks
//! as `/api/v1/templates`.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::components::page::{PageHeader, TableWrap, posted_error};
use crate::error::WireError;
use crate::pages::configuration::{ImpactSummary, Preview, RemoveEntry, entry_impact, urlencode};

/// One entry of a template as shown (a secret masked).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateEntryRow {
    pub key: String,
    pub value: String,
    pub locked: bool,
}

/// A following scope's own value that differs from the template's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftRow {
    pub scope: String,
    pub key: String,
    pub template_value: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateCard {
    pub name: String,
    pub description: String,
    pub level: String,
    pub entries: Vec<TemplateEntryRow>,
    pub followers: u64,
    /// The following scopes the viewer may read.
    pub following: Vec<String>,
    /// Only scopes the viewer may read.
    pub drift: Vec<DriftRow>,
    /// Keys a template of this level may set.
    pub keys: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplatesView {
    pub templates: Vec<TemplateCard>,
    /// Why the viewer may not change templates; none when they may.
    pub refusal: Option<String>,
}

#[server(prefix = "/fn", endpoint = "template_list")]
pub async fn template_list() -> Result<TemplatesView, WireError> {
    use crate::auth::server::{current_principal, service_error, with_status};
    use crate::backend::{access, templates};
    use crate::domain::document::sealed_form;
    use crate::domain::level::Level;
    use crate::domain::policy::Action;
    use crate::domain::value::MASK;
    let principal = current_principal().await.map_err(with_status)?;
    access::authorize(&principal, &Action::OpenConsole).map_err(service_error)?;
    let state = crate::auth::server::state().map_err(with_status)?;
    let refusal = access::authorize(&principal, &Action::ManageTemplates)
        .err()
        .map(|e| e.to_string());
    let shown = |v: &serde_json::Value| match v {
        _ if sealed_form(v).is_some() => MASK.to_owned(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let defs = state
        .snapshots
        .all()
        .first()
        .map(|s| s.keys.defs().to_vec())
        .unwrap_or_default();
    let mut cards = Vec::new();
    for view in templates::list(&state).await.map_err(service_error)? {
        let t = view.doc();
        let name = template_name(&t.name)?;
        let drift = templates::drift(&state, &principal, &name)
            .await
            .map_err(service_error)?
            .into_iter()
            .flat_map(|d| {
                let scope = d.scope.clone();
                d.overridden.into_iter().map(move |o| DriftRow {
                    scope: scope.clone(),
                    key: o.key,
                    template_value: shown(&o.template_value),
                    value: shown(&o.value),
                })
            })
            .collect();
        let level: Option<Level> = t.target_level.parse().ok();
        cards.push(TemplateCard {
            keys: defs
                .iter()
                .filter(|d| level.is_some_and(|l| d.allows_level(l)))
                .map(|d| d.key.to_string())
                .collect(),
            name: t.name,
            description: t.description.unwrap_or_default(),
            level: t.target_level,
            entries: t
                .entries
                .iter()
                .map(|e| TemplateEntryRow {
                    key: e.key.clone(),
                    value: shown(&e.value),
                    locked: e.locked,
                })
                .collect(),
            followers: view.followers,
            following: templates::following(&state, &principal, &name),
            drift,
        });
    }
    Ok(TemplatesView {
        templates: cards,
        refusal,
    })
}

#[cfg(feature = "ssr")]
fn template_name(name: &str) -> Result<crate::domain::name::Slug, WireError> {
    crate::domain::name::Slug::parse("template", name.trim()).map_err(|e| {
        crate::auth::server::with_status(WireError::InvalidInput(format!("template: {e}")))
    })
}

#[cfg(feature = "ssr")]
fn key_name(key: &str) -> Result<crate::domain::name::ConfigKey, WireError> {
    crate::domain::name::ConfigKey::parse(key.trim())
        .map_err(|e| crate::auth::server::with_status(WireError::InvalidInput(format!("key: {e}"))))
}

/// Defines an empty template.
#[server(prefix = "/fn", endpoint = "create_template")]
pub async fn create_template(
    name: String,
    level: String,
    description: String,
) -> Result<(), WireError> {
    use crate::auth::server::{actor, current_principal, service_error, with_status};
    use crate::backend::{access, templates};
    use crate::domain::document::TemplateDoc;
    use crate::domain::policy::Action;
    let principal = current_principal().await.map_err(with_status)?;
    let state = crate::auth::server::state().map_err(with_status)?;
    access::authorize(&principal, &Action::ManageTemplates).map_err(service_error)?;
    let doc = TemplateDoc {
        name: name.trim().to_owned(),
        description: Some(description.trim().to_owned()).filter(|d| !d.is_empty()),
        target_level: level,
        entries: Vec::new(),
        departments: Vec::new(),
        groups: Vec::new(),
    };
    templates::create(&state, &actor(&principal).await, doc)
        .await
        .map(|_| ())
        .map_err(service_error)
}

/// Sets one entry of a template (the value as text, read as the key's type).
#[server(prefix = "/fn", endpoint = "save_template_entry")]
pub async fn save_template_entry(
    template: String,
    key: String,
    value: String,
    locked: Option<String>,
) -> Result<(), WireError> {
    use crate::auth::server::{actor, current_principal, service_error, with_status};
    use crate::backend::{access, templates};
    use crate::domain::policy::Action;
    let principal = current_principal().await.map_err(with_status)?;
    let state = crate::auth::server::state().map_err(with_status)?;
    access::authorize(&principal, &Action::ManageTemplates).map_err(service_error)?;
    let name = template_name(&template)?;
    let key = key_name(&key)?;
    let value = template_value(&state, &key, &value)?;
    templates::set_entry(
        &state,
        &actor(&principal).await,
        &name,
        &key,
        value,
        locked.is_some(),
    )
    .await
    .map(|_| ())
    .map_err(service_error)
}

/// Whom an edit of template `template`'s entry of `key` would affect: `op` = set (the form's
/// `value` text and `locked` box), lock, unlock, unset, or promote (the value `scope` holds).
/// Nothing is written.
#[server(prefix = "/fn", endpoint = "template_entry_impact")]
pub async fn template_entry_impact(
    template: String,
    key: String,
    op: String,
    value: Option<String>,
    locked: Option<String>,
    scope: Option<String>,
) -> Result<crate::views::ImpactView, WireError> {
    use crate::auth::server::{current_principal, service_error, with_status};
    use crate::backend::impact::{self, TemplateOpRequest};
    use crate::backend::{access, templates};
    use crate::domain::policy::Action;
    let principal = current_principal().await.map_err(with_status)?;
    let state = crate::auth::server::state().map_err(with_status)?;
    access::authorize(&principal, &Action::ManageTemplates).map_err(service_error)?;
    let name = template_name(&template)?;
    let parsed = key_name(&key)?;
    let op_of = |op: &str, value: Option<serde_json::Value>| TemplateOpRequest {
        op: op.to_owned(),
        key: parsed.to_string(),
        value,
    };
    let set = |value: serde_json::Value, locked: bool| {
        vec![
            op_of("set", Some(value)),
            op_of(if locked { "lock" } else { "unlock" }, None),
        ]
    };
    let ops = match op.as_str() {
        "set" => {
            let text = value.unwrap_or_default();
            set(template_value(&state, &parsed, &text)?, locked.is_some())
        }
        "promote" => {
            let scope: crate::domain::scope::Scope =
                scope.unwrap_or_default().trim().parse().map_err(
                    |e: crate::domain::scope::ScopeError| {
                        with_status(WireError::InvalidInput(format!("scope: {e}")))
                    },
                )?;
            let (value, locked) =
                templates::promotion(&state, &name, &scope, &parsed).map_err(service_error)?;
            set(value, locked)
        }
        other => vec![op_of(other, None)],
    };
    impact::preview_template(&state, &principal, &name, &ops)
        .await
        .map_err(service_error)
}

/// A template entry's value from the form's text, read as the key's type.
#[cfg(feature = "ssr")]
fn template_value(
    state: &crate::backend::AppState,
    key: &crate::domain::name::ConfigKey,
    text: &str,
) -> Result<serde_json::Value, WireError> {
    use crate::auth::server::with_status;
    let def = state
        .snapshots
        .get(None)
        .and_then(|s| s.keys.get(key).map(|(_, def)| def.clone()))
        .ok_or_else(|| with_status(WireError::NotFound(format!("key {key} was not found"))))?;
    def.key_type
        .value_from_text(text)
        .map_err(|e| with_status(WireError::InvalidInput(format!("value: {e}"))))
}

/// Removes one entry of a template.
#[server(prefix = "/fn", endpoint = "remove_template_entry")]
pub async fn remove_template_entry(template: String, key: String) -> Result<(), WireError> {
    use crate::auth::server::{actor, current_principal, service_error, with_status};
    use crate::backend::{access, templates};
    use crate::domain::policy::Action;
    let principal = current_principal().await.map_err(with_status)?;
    let state = crate::auth::server::state().map_err(with_status)?;
    access::authorize(&principal, &Action::ManageTemplates).map_err(service_error)?;
    let name = template_name(&template)?;
    let key = key_name(&key)?;
    templates::remove_entry(&state, &actor(&principal).await, &name, &key)
        .await
        .map(|_| ())
        .map_err(service_error)
}

/// Makes a follower's own value the template's.
#[server(prefix = "/fn", endpoint = "promote_to_template")]
pub async fn promote_to_template(
    template: String,
    scope: String,
    key: String,
) -> Result<(), WireError> {
    use crate::auth::server::{actor, current_principal, service_error, with_status};
    use crate::backend::{access, templates};
    use crate::domain::policy::Action;
    let principal = current_principal().await.map_err(with_status)?;
    let state = crate::auth::server::state().map_err(with_status)?;
    access::authorize(&principal, &Action::ManageTemplates).map_err(service_error)?;
    let name = template_name(&template)?;
    let key = key_name(&key)?;
    let scope: crate::domain::scope::Scope =
        scope
            .parse()
            .map_err(|e: crate::domain::scope::ScopeError| {
                with_status(WireError::InvalidInput(format!("scope: {e}")))
            })?;
    templates::promote(&state, &actor(&principal).await, &name, &scope, &key)
        .await
        .map(|_| ())
        .map_err(service_error)
}

/// Makes a tenant, department or group follow a template (none: empty `template`).
#[server(prefix = "/fn", endpoint = "follow_template")]
pub async fn follow_template(scope: String, template: String) -> Result<(), WireError> {
    use crate::auth::server::{actor, current_principal, service_error, with_status};
    use crate::backend::{access, directory};
    use crate::domain::policy::Action;
    use crate::domain::scope::Scope;
    let principal = current_principal().await.map_err(with_status)?;
    let state = crate::auth::server::state().map_err(with_status)?;
    let scope: Scope = scope
        .trim()
        .parse()
        .map_err(|e: crate::domain::scope::ScopeError| {
            with_status(WireError::InvalidInput(format!("scope: {e}")))
        })?;
    let template = Some(template.trim().to_owned()).filter(|t| !t.is_empty());
    let patch = serde_json::json!({ "template": template });
    let actor = actor(&principal).await;
    let result = match &scope {
        Scope::Tenant { tenant } => {
            access::authorize(&principal, &Action::ManageTenants).map_err(service_error)?;
            access::authorize_tenant_change(&state, &principal, tenant)
                .await
                .map_err(service_error)?;
            directory::update_tenant(&state, &actor, tenant, patch)
                .await
                .map(|_| ())
        }
        Scope::Department { tenant, department } => {
            access::authorize_directory_change(&state, &principal, tenant)
                .await
                .map_err(service_error)?;
            directory::update_department(&state, &actor, tenant, department, patch)
                .await
                .map(|_| ())
        }
        Scope::Group { tenant, group } => {
            access::authorize_directory_change(&state, &principal, tenant)
                .await
                .map_err(service_error)?;
            directory::update_group(&state, &actor, tenant, group, patch)
                .await
                .map(|_| ())
        }
        _ => {
            return Err(with_status(WireError::InvalidInput(
                "scope: only a tenant, department or group follows a template".into(),
            )));
        }
    };
    result.map_err(service_error)
}

#[component]
pub fn TemplatesPage() -> impl IntoView {
    let create = ServerAction::<CreateTemplate>::new();
    let save = ServerAction::<SaveTemplateEntry>::new();
    let remove = ServerAction::<RemoveTemplateEntry>::new();
    let promote = ServerAction::<PromoteToTemplate>::new();
    let follow = ServerAction::<FollowTemplate>::new();
    let reset = ServerAction::<RemoveEntry>::new();
    let data = Resource::new(
        move || {
            create.version().get()
                + save.version().get()
                + remove.version().get()
                + promote.version().get()
                + follow.version().get()
                + reset.version().get()
        },
        |_| template_list(),
    );
    // An impact asked for by URL: a row's link (`impact=unset|lock|unlock|promote|reset`).
    let query = leptos_router::hooks::use_query_map();
    let param = move |name: &str| query.read().get(name).filter(|v| !v.is_empty());
    let preview = Resource::new(
        move || {
            (
                param("template"),
                param("key"),
                param("value"),
                param("locked"),
                param("impact"),
                param("scope"),
            )
        },
        |(template, key, value, locked, op, scope)| async move {
            let (Some(template), Some(key)) = (template, key) else {
                return None;
            };
            let op = match (op, &value) {
                (Some(op), _) => op,
                (None, Some(_)) => "set".to_owned(),
                _ => return None,
            };
            let answer = match op.as_str() {
                // Resetting a follower removes its own entry: an entry's impact, not the
                // template's.
                "reset" => {
                    entry_impact(scope.unwrap_or_default(), key.clone(), "unset".into(), None).await
                }
                _ => {
                    template_entry_impact(
                        template.clone(),
                        key.clone(),
                        op.clone(),
                        value,
                        locked,
                        scope,
                    )
                    .await
                }
            };
            Some((template, Preview { key, op, answer }))
        },
    );
    let posted = posted_error();
    let failure = move || {
        [
            create.value().get(),
            save.value().get(),
            remove.value().get(),
            promote.value().get(),
            follow.value().get(),
            reset.value().get(),
        ]
        .into_iter()
        .flatten()
        .find_map(Result::err)
    };
    let actions = Actions {
        create,
        save,
        remove,
        promote,
        follow,
        reset,
    };
    view! {
        <PageHeader title="Templates" lede="Settings that tenants, departments and groups follow: editing a template changes every scope that follows it at once."/>
        {posted.map(|err| view! { <p class="error banner" role="alert">{err.to_string()}</p> })}
        {move || failure().map(|err| view! { <p class="error banner" role="alert" data-testid="template-error">{err.to_string()}</p> })}
        <Suspense fallback=|| view! { <p class="muted">"Reading the templates…"</p> }>
            {move || data.get().map(|result| match result {
                Ok(view) => {
                    let preview = preview.get().flatten();
                    view! { <TemplateList view actions preview/> }.into_any()
                }
                Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
            })}
        </Suspense>
    }
}

#[derive(Clone, Copy)]
struct Actions {
    create: ServerAction<CreateTemplate>,
    save: ServerAction<SaveTemplateEntry>,
    remove: ServerAction<RemoveTemplateEntry>,
    promote: ServerAction<PromoteToTemplate>,
    follow: ServerAction<FollowTemplate>,
    reset: ServerAction<RemoveEntry>,
}

#[component]
fn TemplateList(
    view: TemplatesView,
    actions: Actions,
    /// An impact asked for by URL, with the template it is for.
    preview: Option<(String, Preview)>,
) -> impl IntoView {
    let TemplatesView { templates, refusal } = view;
    let locked = refusal.is_some();
    let names: Vec<String> = templates.iter().map(|t| t.name.clone()).collect();
    view! {
        {refusal.map(|r| view! { <p class="notice" role="note" data-testid="templates-read-only">"Read-only: " {r}</p> })}
        <article class="card">
            <h2>"Follow a template"</h2>
            <p class="muted">"Whoever manages a tenant, department or group chooses the template it follows (one of its level)."</p>
            <ActionForm action=actions.follow attr:class="key-form">
                <div class="field">
                    <label for="follow-scope">"Scope"</label>
                    <input id="follow-scope" name="scope" type="text" required placeholder="tenant:T, department:T/D or group:T/G"/>
                </div>
                <div class="field">
                    <label for="follow-template">"Template"</label>
                    <select id="follow-template" name="template">
                        <option value="">"(none)"</option>
                        {names.into_iter().map(|n| { let label = n.clone(); view! { <option value=n>{label}</option> } }).collect_view()}
                    </select>
                </div>
                <button type="submit" class="button">"Follow"</button>
            </ActionForm>
        </article>
        <article class="card">
            <h2>"Define a template"</h2>
            <ActionForm action=actions.create attr:class="key-form">
                <fieldset disabled=locked>
                    <div class="field">
                        <label for="new-template-name">"Name"</label>
                        <input id="new-template-name" name="name" type="text" required placeholder="healthcare"/>
                    </div>
                    <div class="field">
                        <label for="new-template-level">"Level"</label>
                        <select id="new-template-level" name="level">
                            <option value="tenant">"tenant"</option>
                            <option value="department">"department"</option>
                            <option value="group">"group"</option>
                        </select>
                    </div>
                    <div class="field wide">
                        <label for="new-template-description">"Description"</label>
                        <input id="new-template-description" name="description" type="text"/>
                    </div>
                    <button type="submit" class="button">"Define template"</button>
                </fieldset>
            </ActionForm>
        </article>
        {templates
            .into_iter()
            .map(|card| {
                let preview = preview
                    .clone()
                    .filter(|(t, _)| *t == card.name)
                    .map(|(_, p)| p);
                view! { <Template card actions locked preview/> }
            })
            .collect_view()}
    }
    .into_any()
}

#[component]
fn Template(
    card: TemplateCard,
    actions: Actions,
    locked: bool,
    preview: Option<Preview>,
) -> impl IntoView {
    let TemplateCard {
        name,
        description,
        level,
        entries,
        followers,
        following,
        drift,
        keys,
    } = card;
    let (key_id, value_id) = (format!("t-{name}-key"), format!("t-{name}-value"));
    let (key_for, value_for) = (key_id.clone(), value_id.clone());
    let heading = format!("Template {name}");
    let label = heading.clone();
    let save_name = name.clone();
    let entries_caption = format!("Entries of template {name}");
    let drift_caption = format!("Scopes that override template {name}");
    let summary = format!("{level} template · followed by {followers} scope(s)");
    let anchor = format!("template-{name}");
    // Links that show whom an edit of an entry would affect, on this page.
    let impact_href = {
        let name = name.clone();
        move |key: &str, op: &str, scope: Option<&str>| {
            let scope = scope.map_or_else(String::new, |s| format!("&scope={}", urlencode(s)));
            format!(
                "/templates?template={}&key={}&impact={op}{scope}#template-{name}",
                urlencode(&name),
                urlencode(key)
            )
        }
    };

    // With JavaScript the impact follows the form as it is filled in (asked once typing
    // pauses). Without it there is no "Preview impact" GET here, unlike the editor's rows:
    // the key is picked in the same form, so a secret's value could land in a URL; the
    // per-entry links (remove, lock, reset, promote) carry no value and work without it.
    let impact = RwSignal::new(preview);
    let key_ref = NodeRef::<leptos::html::Select>::new();
    let value_ref = NodeRef::<leptos::html::Input>::new();
    let locked_ref = NodeRef::<leptos::html::Input>::new();
    let typed = RwSignal::new(None::<(String, String, bool)>);
    let on_edit = move |_| {
        if let (Some(key), Some(value), Some(locked)) =
            (key_ref.get(), value_ref.get(), locked_ref.get())
        {
            typed.set(Some((key.value(), value.value(), locked.checked())));
        }
    };
    {
        let name = name.clone();
        let timer = StoredValue::new(None::<leptos::leptos_dom::helpers::TimeoutHandle>);
        let asked = StoredValue::new(0u64);
        Effect::new(move |_| {
            let Some((key, text, locked)) = typed.get() else {
                return;
            };
            if let Some(handle) = timer.get_value() {
                handle.clear();
            }
            asked.update_value(|n| *n += 1);
            if text.trim().is_empty() {
                impact.set(None);
                return;
            }
            let ticket = asked.get_value();
            let name = name.clone();
            let ask = move || {
                leptos::task::spawn_local(async move {
                    let locked = locked.then(|| "on".to_owned());
                    let answer = template_entry_impact(
                        name,
                        key.clone(),
                        "set".into(),
                        Some(text),
                        locked,
                        None,
                    )
                    .await;
                    // Only the answer for the latest form is shown.
                    if asked.try_get_value() == Some(ticket) {
                        impact.try_set(Some(Preview {
                            key,
                            op: "set".into(),
                            answer,
                        }));
                    }
                });
            };
            timer.set_value(
                leptos::leptos_dom::helpers::set_timeout_with_handle(
                    ask,
                    std::time::Duration::from_millis(400),
                )
                .ok(),
            );
        });
    }

    let entry_rows = entries
        .into_iter()
        .map(|e| {
            let template = name.clone();
            let key = e.key.clone();
            let lock_op = if e.locked { "unlock" } else { "lock" };
            let lock_label = if e.locked { "Whom unlocking affects" } else { "Whom locking affects" };
            let (remove_href, lock_href) = (
                impact_href(&key, "unset", None),
                impact_href(&key, lock_op, None),
            );
            view! {
                <tr data-testid="template-entry" data-key=e.key.clone()>
                    <td><code>{e.key.clone()}</code></td>
                    <td data-testid="template-value">{e.value}</td>
                    <td>{if e.locked { "locked" } else { "" }}</td>
                    <td class="actions">
                        <ActionForm action=actions.remove>
                            <input type="hidden" name="template" value=template.clone()/>
                            <input type="hidden" name="key" value=key.clone()/>
                            <button type="submit" class="link-button" disabled=locked>"Remove"</button>
                        </ActionForm>
                        {(!locked).then(|| view! {
                            <a class="text-link" href=remove_href data-testid="template-impact-remove">"Whom removing affects"</a>
                            " "
                            <a class="text-link" href=lock_href data-testid="template-impact-lock">{lock_label}</a>
                        })}
                    </td>
                </tr>
            }
        })
        .collect_view();
    let drift_rows = drift
        .into_iter()
        .map(|d| {
            let template = name.clone();
            let (reset_scope, reset_key) = (d.scope.clone(), d.key.clone());
            let (promote_scope, promote_key) = (d.scope.clone(), d.key.clone());
            let promote_href = impact_href(&d.key, "promote", Some(&d.scope));
            let reset_href = impact_href(&d.key, "reset", Some(&d.scope));
            view! {
                <tr data-testid="drift" data-scope=d.scope.clone() data-key=d.key.clone()>
                    <td>{d.scope.clone()}</td>
                    <td><code>{d.key.clone()}</code></td>
                    <td>{d.template_value}</td>
                    <td>{d.value}</td>
                    <td class="actions">
                        <ActionForm action=actions.reset>
                            <input type="hidden" name="scope" value=reset_scope.clone()/>
                            <input type="hidden" name="key" value=reset_key.clone()/>
                            <button type="submit" class="link-button">"Reset to template"</button>
                        </ActionForm>
                        <ActionForm action=actions.promote>
                            <input type="hidden" name="template" value=template.clone()/>
                            <input type="hidden" name="scope" value=promote_scope.clone()/>
                            <input type="hidden" name="key" value=promote_key.clone()/>
                            <button type="submit" class="link-button" disabled=locked>"Promote into template"</button>
                        </ActionForm>
                        <a class="text-link" href=reset_href data-testid="drift-impact-reset">"Whom resetting affects"</a>
                        {(!locked).then(|| view! {
                            " "
                            <a class="text-link" href=promote_href data-testid="drift-impact-promote">"Whom promoting affects"</a>
                        })}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="card" id=anchor data-testid="template" data-name=name aria-label=label>
            <h2>{heading}</h2>
            <p class="muted">{summary}</p>
            {(!description.is_empty()).then(|| view! { <p>{description}</p> })}
            {(!following.is_empty()).then(|| view! {
                <p data-testid="following">
                    "Followed by: "
                    {following.join(", ")}
                </p>
            })}
            <TableWrap label=entries_caption.clone()>
            <table class="table">
                <caption class="visually-hidden">{entries_caption}</caption>
                <thead><tr><th scope="col">"Key"</th><th scope="col">"Value"</th><th scope="col">"Lock"</th><th scope="col">"Actions"</th></tr></thead>
                <tbody>{entry_rows}</tbody>
            </table>
            </TableWrap>
            <ActionForm action=actions.save attr:class="key-form">
                <fieldset disabled=locked>
                    <input type="hidden" name="template" value=save_name.clone()/>
                    <div class="field">
                        <label for=key_for.clone()>"Key"</label>
                        <select id=key_id.clone() name="key" node_ref=key_ref on:change=on_edit>
                            {keys.clone().into_iter().map(|k| { let label = k.clone(); view! { <option value=k>{label}</option> } }).collect_view()}
                        </select>
                    </div>
                    <div class="field">
                        <label for=value_for.clone()>"Value"</label>
                        <input id=value_id.clone() name="value" type="text" required node_ref=value_ref on:input=on_edit/>
                    </div>
                    <label class="check">
                        <input type="checkbox" name="locked" node_ref=locked_ref on:change=on_edit/>
                        " Locked"
                    </label>
                    <button type="submit" class="button">"Set in template"</button>
                </fieldset>
            </ActionForm>
            {move || impact.get().map(|Preview { key, op, answer }| match answer {
                Ok(view) => view! {
                    <div data-testid="template-impact" data-key=key>
                        <ImpactSummary impact=view op/>
                    </div>
                }.into_any(),
                Err(err) => view! { <p class="error" role="alert" data-testid="template-impact-error">{err.to_string()}</p> }.into_any(),
            })}
            <h3>"Drift"</h3>
            <TableWrap label=drift_caption.clone()>
            <table class="table">
                <caption class="visually-hidden">{drift_caption}</caption>
                <thead><tr><th scope="col">"Scope"</th><th scope="col">"Key"</th><th scope="col">"Template"</th><th scope="col">"Own value"</th><th scope="col">"Actions"</th></tr></thead>
                <tbody>{drift_rows}</tbody>
            </table>
            </TableWrap>
        </section>
    }
    .into_any()
}
