//! The Directory section: tenants, and a tenant's departments, groups (with priority) and
//! users (department, groups, traits). Every change is a form posting to a server function
//! over the same directory services and checks as the HTTP API; deleting asks first and says
//! how many entries go with the item.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::components::page::{PageHeader, posted_error};
use crate::domain::document::{TenantDoc, UserDoc};
use crate::error::WireError;
use crate::pages::configuration::urlencode;

/// What the browser checks ids against before posting (the server checks again). The `-` is
/// escaped because browsers compile `pattern` with the `v` flag.
const SLUG_PATTERN: &str = r"[a-z0-9][a-z0-9_\-]{0,63}";

/// The directory of one tenant as the viewer may see and change it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DirectoryView {
    /// Visible tenants: (id, name).
    pub tenants: Vec<(String, String)>,
    pub selected: Option<TenantDoc>,
    pub users: Vec<UserDoc>,
    /// Why the viewer may not create or delete tenants; none when they may.
    pub tenants_refusal: Option<String>,
    /// Why the viewer may not change this tenant's directory; none when they may.
    pub refusal: Option<String>,
    /// The delete being confirmed: (kind, id, entries it would remove).
    pub confirm: Option<(String, String, usize)>,
    /// Every trait, with whether the viewer may grant or take it away in this tenant.
    pub traits: Vec<(String, bool)>,
    /// Every template: (name, level), for the pickers.
    pub templates: Vec<(String, String)>,
}

/// The chosen template of a picker: `""` is none.
#[cfg(feature = "ssr")]
fn chosen(template: Option<String>) -> Option<serde_json::Value> {
    template.map(|t| {
        let t = t.trim();
        if t.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::Value::String(t.to_owned())
        }
    })
}

#[cfg(feature = "ssr")]
fn slug(what: &'static str, text: &str) -> Result<crate::domain::name::Slug, WireError> {
    crate::domain::name::Slug::parse(what, text.trim()).map_err(|e| {
        crate::auth::server::with_status(WireError::InvalidInput(format!("{what}: {e}")))
    })
}

#[server(prefix = "/fn", endpoint = "directory_page")]
pub async fn directory_page(
    tenant: Option<String>,
    confirm: Option<String>,
) -> Result<DirectoryView, WireError> {
    use crate::auth::server::{current_principal, service_error, with_status};
    use crate::backend::{access, directory};
    use crate::domain::policy::Action;
    use crate::domain::traits::Trait;
    let principal = current_principal().await.map_err(with_status)?;
    let state = crate::auth::server::state().map_err(with_status)?;
    // The tenants' names, and the directory of the one shown: not the whole platform's.
    let tenants = directory::visible_tenants(&state, &principal)
        .await
        .map_err(service_error)?;
    let shown = match tenant.filter(|t| !t.is_empty()) {
        Some(t) => {
            let t = slug("tenant", &t)?;
            access::authorize_read(
                &state,
                &principal,
                &crate::domain::scope::Scope::Tenant { tenant: t.clone() },
                false,
            )
            .await
            .map_err(service_error)?;
            // A tenant just deleted falls back to the first one left.
            tenants
                .iter()
                .find(|(id, _)| *id == t)
                .or(tenants.first())
                .map(|(id, _)| id.clone())
        }
        None => tenants.first().map(|(id, _)| id.clone()),
    };
    let visible = match &shown {
        Some(t) => directory::visible_in(&state, &principal, t)
            .await
            .map_err(service_error)?,
        None => crate::domain::document::Document::default(),
    };
    let selected = visible
        .tenants
        .iter()
        .find(|t| shown.as_ref().is_some_and(|s| t.id == s.as_str()))
        .cloned();
    let refusal = match &selected {
        Some(t) => access::authorize_directory_change(&state, &principal, &slug("tenant", &t.id)?)
            .await
            .err()
            .map(|e| e.to_string()),
        None => None,
    };
    let users = visible
        .users
        .iter()
        .filter(|u| {
            selected
                .as_ref()
                .is_some_and(|t| u.tenant.as_deref() == Some(t.id.as_str()))
        })
        .cloned()
        .collect();
    let confirm = match confirm.filter(|c| !c.is_empty()) {
        Some(text) => {
            let (kind, id) = text.split_once(':').unwrap_or(("", ""));
            let doomed = doomed(kind, selected.as_ref().map(|t| t.id.as_str()), id)?;
            // Only someone who may delete the item learns what it holds; nothing to confirm
            // once it is gone (deleted a moment ago).
            match authorize_delete(&state, &principal, &doomed).await {
                Ok(()) => directory::entries_held(&state, &doomed)
                    .await
                    .ok()
                    .map(|held| (kind.to_owned(), id.to_owned(), held)),
                Err(_) => None,
            }
        }
        None => None,
    };
    let place = selected
        .as_ref()
        .map(|t| slug("tenant", &t.id))
        .transpose()?;
    let traits = Trait::ALL
        .into_iter()
        .map(|t| {
            let one = std::collections::BTreeSet::from([t]);
            let action = Action::GrantTraits {
                tenant: place.as_ref(),
                traits: &one,
            };
            (
                t.to_string(),
                access::authorize(&principal, &action).is_ok(),
            )
        })
        .collect();
    Ok(DirectoryView {
        tenants: tenants
            .into_iter()
            .map(|(id, name)| (id.to_string(), name))
            .collect(),
        selected,
        users,
        tenants_refusal: access::authorize(&principal, &Action::ManageTenants)
            .err()
            .map(|e| e.to_string()),
        refusal,
        confirm,
        traits,
        templates: crate::backend::templates::list(&state)
            .await
            .map_err(service_error)?
            .into_iter()
            .map(|t| (t.name, t.target_level))
            .collect(),
    })
}

#[cfg(feature = "ssr")]
fn doomed(
    kind: &str,
    tenant: Option<&str>,
    id: &str,
) -> Result<crate::backend::directory::Doomed, WireError> {
    use crate::backend::directory::Doomed;
    let tenant = || slug("tenant", tenant.unwrap_or_default());
    Ok(match kind {
        "tenant" => Doomed::Tenant(slug("tenant", id)?),
        "department" => Doomed::Department(tenant()?, slug("department", id)?),
        "group" => Doomed::Group(tenant()?, slug("group", id)?),
        "user" => Doomed::User(slug("user", id)?),
        other => {
            return Err(crate::auth::server::with_status(WireError::InvalidInput(
                format!("kind: expected tenant, department, group or user, got {other:?}"),
            )));
        }
    })
}

/// The check before deleting `doomed` (and before saying what it holds).
#[cfg(feature = "ssr")]
async fn authorize_delete(
    state: &crate::backend::AppState,
    principal: &crate::domain::policy::Principal,
    doomed: &crate::backend::directory::Doomed,
) -> Result<(), WireError> {
    use crate::auth::server::service_error;
    use crate::backend::{access, directory::Doomed};
    match doomed {
        Doomed::Tenant(t) => access::authorize_tenant_change(state, principal, t).await,
        Doomed::Department(t, _) | Doomed::Group(t, _) => {
            access::authorize_directory_change(state, principal, t).await
        }
        Doomed::User(u) => {
            let before = crate::backend::directory::user_doc(state, u)
                .await
                .map_err(service_error)?;
            access::authorize_read_user(principal, &before).map_err(service_error)?;
            access::authorize_user_change(principal, Some(&before), None)
        }
        Doomed::Key(_) => access::authorize(principal, &crate::domain::policy::Action::ManageKeys),
    }
    .map_err(service_error)
}

/// Creates a tenant (super admins).
#[server(prefix = "/fn", endpoint = "create_tenant")]
pub async fn create_tenant(
    id: String,
    name: String,
    template: Option<String>,
) -> Result<(), WireError> {
    use crate::auth::server::{current_principal, service_error, with_status};
    use crate::backend::{access, directory};
    use crate::domain::policy::Action;
    let principal = current_principal().await.map_err(with_status)?;
    let state = crate::auth::server::state().map_err(with_status)?;
    access::authorize(&principal, &Action::ManageTenants).map_err(service_error)?;
    let doc = TenantDoc {
        id: id.trim().to_owned(),
        name,
        template: template.filter(|t| !t.trim().is_empty()),
        plan: None,
        departments: Vec::new(),
        groups: Vec::new(),
    };
    directory::create_tenant(&state, &crate::auth::server::actor(&principal).await, doc)
        .await
        .map(|_| ())
        .map_err(service_error)
}

/// Creates or renames a department (`create` says which).
#[server(prefix = "/fn", endpoint = "save_department")]
pub async fn save_department(
    tenant: String,
    id: String,
    name: String,
    create: Option<bool>,
    template: Option<String>,
) -> Result<(), WireError> {
    use crate::auth::server::{current_principal, service_error, with_status};
    use crate::backend::{access, directory};
    use crate::domain::document::DepartmentDoc;
    let principal = current_principal().await.map_err(with_status)?;
    let state = crate::auth::server::state().map_err(with_status)?;
    let tenant = slug("tenant", &tenant)?;
    access::authorize_directory_change(&state, &principal, &tenant)
        .await
        .map_err(service_error)?;
    let actor = crate::auth::server::actor(&principal).await;
    let result = if create.unwrap_or(false) {
        let doc = DepartmentDoc {
            id: id.trim().to_owned(),
            name,
            template: template.filter(|t| !t.trim().is_empty()),
        };
        directory::create_department(&state, &actor, &tenant, doc).await
    } else {
        let mut patch = serde_json::json!({ "name": name });
        if let Some(template) = chosen(template) {
            patch["template"] = template;
        }
        directory::update_department(&state, &actor, &tenant, &slug("department", &id)?, patch)
            .await
    };
    result.map(|_| ()).map_err(service_error)
}

/// Creates or changes a group (`create` says which).
#[server(prefix = "/fn", endpoint = "save_group")]
pub async fn save_group(
    tenant: String,
    id: String,
    name: String,
    priority: String,
    create: Option<bool>,
    template: Option<String>,
) -> Result<(), WireError> {
    use crate::auth::server::{current_principal, service_error, with_status};
    use crate::backend::{access, directory};
    use crate::domain::document::GroupDoc;
    let principal = current_principal().await.map_err(with_status)?;
    let state = crate::auth::server::state().map_err(with_status)?;
    let tenant = slug("tenant", &tenant)?;
    access::authorize_directory_change(&state, &principal, &tenant)
        .await
        .map_err(service_error)?;
    let priority: i64 = priority.trim().parse().map_err(|_| {
        with_status(WireError::InvalidInput(format!(
            "priority: expected a whole number, got {priority:?}"
        )))
    })?;
    let actor = crate::auth::server::actor(&principal).await;
    let result = if create.unwrap_or(false) {
        let doc = GroupDoc {
            id: id.trim().to_owned(),
            name,
            priority,
            template: template.filter(|t| !t.trim().is_empty()),
        };
        directory::create_group(&state, &actor, &tenant, doc).await
    } else {
        let mut patch = serde_json::json!({ "name": name, "priority": priority });
        if let Some(template) = chosen(template) {
            patch["template"] = template;
        }
        directory::update_group(&state, &actor, &tenant, &slug("group", &id)?, patch).await
    };
    result.map(|_| ()).map_err(service_error)
}

/// A user as the directory's form sends it: the department from a select, groups and traits
/// from checkboxes (`form[groups][]`), and "true" for a ticked Disabled box.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserFields {
    pub tenant: String,
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub department: String,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub traits: Vec<String>,
    pub disabled: Option<String>,
    pub create: Option<String>,
}

/// Creates or changes a user of `form.tenant`.
#[server(prefix = "/fn", endpoint = "save_user")]
pub async fn save_user(form: UserFields) -> Result<(), WireError> {
    use crate::auth::server::{actor, current_principal, service_error, with_status};
    use crate::backend::{access, directory};
    let principal = current_principal().await.map_err(with_status)?;
    let state = crate::auth::server::state().map_err(with_status)?;
    let ticked = |v: &Option<String>| v.as_deref().is_some_and(|v| v == "true" || v == "on");
    let doc = UserDoc {
        id: form.id.trim().to_owned(),
        name: form.name,
        tenant: Some(form.tenant.trim().to_owned()),
        department: Some(form.department.trim().to_owned()).filter(|d| !d.is_empty()),
        groups: form.groups,
        traits: form.traits,
        disabled: ticked(&form.disabled),
    };
    let actor = actor(&principal).await;
    let result = if ticked(&form.create) {
        access::authorize_user_change(&principal, None, Some(&doc)).map_err(service_error)?;
        directory::create_user(&state, &actor, doc).await
    } else {
        let user = slug("user", &doc.id)?;
        let before = directory::user_doc(&state, &user)
            .await
            .map_err(service_error)?;
        access::authorize_read_user(&principal, &before).map_err(service_error)?;
        access::authorize_user_change(&principal, Some(&before), Some(&doc))
            .map_err(service_error)?;
        directory::update_user(&state, &actor, doc).await
    };
    result.map(|_| ()).map_err(service_error)
}

/// Renames a tenant or changes the template it follows (super admins).
#[server(prefix = "/fn", endpoint = "rename_tenant")]
pub async fn rename_tenant(
    tenant: String,
    name: String,
    template: Option<String>,
) -> Result<(), WireError> {
    use crate::auth::server::{actor, current_principal, service_error, with_status};
    use crate::backend::{access, directory};
    let principal = current_principal().await.map_err(with_status)?;
    let state = crate::auth::server::state().map_err(with_status)?;
    let tenant = slug("tenant", &tenant)?;
    access::authorize_tenant_change(&state, &principal, &tenant)
        .await
        .map_err(service_error)?;
    let mut patch = serde_json::json!({ "name": name });
    if let Some(template) = chosen(template) {
        patch["template"] = template;
    }
    directory::update_tenant(&state, &actor(&principal).await, &tenant, patch)
        .await
        .map(|_| ())
        .map_err(service_error)
}

/// Deletes a tenant, department, group or user and what it holds, after confirmation.
#[server(prefix = "/fn", endpoint = "delete_item")]
pub async fn delete_item(kind: String, tenant: String, id: String) -> Result<(), WireError> {
    use crate::auth::server::{current_principal, service_error, with_status};
    use crate::backend::directory;
    let principal = current_principal().await.map_err(with_status)?;
    let state = crate::auth::server::state().map_err(with_status)?;
    let doomed = doomed(&kind, Some(tenant.as_str()), &id)?;
    authorize_delete(&state, &principal, &doomed).await?;
    directory::delete(
        &state,
        &crate::auth::server::actor(&principal).await,
        &doomed,
        None,
    )
    .await
    .map_err(service_error)
}

#[component]
pub fn DirectoryPage() -> impl IntoView {
    let query = use_query_map();
    let param = move |name: &str| query.read().get(name).filter(|v| !v.is_empty());
    let create_tenant = ServerAction::<CreateTenant>::new();
    let save_department = ServerAction::<SaveDepartment>::new();
    let save_group = ServerAction::<SaveGroup>::new();
    let save_user = ServerAction::<SaveUser>::new();
    let rename_tenant = ServerAction::<RenameTenant>::new();
    let delete = ServerAction::<DeleteItem>::new();
    let actions = Actions {
        create_tenant,
        rename_tenant,
        save_department,
        save_group,
        save_user,
        delete,
    };
    let data = Resource::new(
        move || {
            (
                param("tenant"),
                param("confirm"),
                create_tenant.version().get()
                    + save_department.version().get()
                    + save_group.version().get()
                    + save_user.version().get()
                    + rename_tenant.version().get()
                    + delete.version().get(),
            )
        },
        |(tenant, confirm, _)| directory_page(tenant, confirm),
    );
    let posted = posted_error();
    let failure = move || {
        [
            create_tenant.value().get().and_then(Result::err),
            save_department.value().get().and_then(Result::err),
            save_group.value().get().and_then(Result::err),
            save_user.value().get().and_then(Result::err),
            rename_tenant.value().get().and_then(Result::err),
            delete.value().get().and_then(Result::err),
        ]
        .into_iter()
        .flatten()
        .next()
    };

    view! {
        <PageHeader title="Directory" lede="Tenants, departments, groups and users."/>
        {posted.map(|err| view! { <p class="error banner" role="alert">{err.to_string()}</p> })}
        {move || failure().map(|err| view! { <p class="error banner" role="alert" data-testid="directory-error">{err.to_string()}</p> })}
        <Suspense fallback=|| view! { <p class="muted">"Reading the directory…"</p> }>
            {move || data.get().map(|result| match result {
                Ok(view) => view! { <Directory view actions/> }.into_any(),
                Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
            })}
        </Suspense>
    }
}

#[derive(Clone, Copy)]
struct Actions {
    create_tenant: ServerAction<CreateTenant>,
    rename_tenant: ServerAction<RenameTenant>,
    save_department: ServerAction<SaveDepartment>,
    save_group: ServerAction<SaveGroup>,
    save_user: ServerAction<SaveUser>,
    delete: ServerAction<DeleteItem>,
}

#[component]
fn Directory(view: DirectoryView, actions: Actions) -> impl IntoView {
    let DirectoryView {
        tenants,
        selected,
        users,
        tenants_refusal,
        refusal,
        confirm,
        traits,
        templates,
    } = view;
    let of_level = |level: &str| -> Vec<String> {
        templates
            .iter()
            .filter(|(_, l)| l == level)
            .map(|(name, _)| name.clone())
            .collect()
    };
    let (tenant_templates, department_templates, group_templates) = (
        of_level("tenant"),
        of_level("department"),
        of_level("group"),
    );
    let tenant_id = selected.as_ref().map(|t| t.id.clone()).unwrap_or_default();
    let locked = refusal.is_some();
    let here = |extra: &str| format!("/directory?tenant={}&{extra}", urlencode(&tenant_id));
    let confirm_panel = confirm.map(|(kind, id, held)| {
        let back = here("");
        let tenant = tenant_id.clone();
        let warning = if held == 0 {
            "It holds no configuration entries.".to_owned()
        } else {
            format!("It holds {held} configuration entries; they are removed with it, in the same change.")
        };
        view! {
            <section class="card confirm" role="alertdialog" aria-labelledby="delete-title" data-testid="confirm-delete">
                <h2 id="delete-title">{format!("Delete {kind} {id}?")}</h2>
                <p data-testid="held">{warning}</p>
                <ActionForm action=actions.delete>
                    <input type="hidden" name="kind" value=kind/>
                    <input type="hidden" name="tenant" value=tenant/>
                    <input type="hidden" name="id" value=id/>
                    <div class="actions">
                        <button type="submit" class="button danger">"Delete"</button>
                        <a class="button ghost" href=back>"Cancel"</a>
                    </div>
                </ActionForm>
            </section>
        }
    });
    let Some(tenant) = selected else {
        return view! {
            {confirm_panel}
            <p class="muted">"No tenant is visible to you."</p>
            <NewTenant refusal=tenants_refusal actions templates=tenant_templates.clone()/>
        }
        .into_any();
    };
    let departments = tenant.departments.clone();
    let groups = tenant.groups.clone();
    let choices = Choices {
        tenant: tenant.id.clone(),
        departments: departments
            .iter()
            .map(|d| (d.id.clone(), d.name.clone()))
            .collect(),
        groups: groups
            .iter()
            .map(|g| (g.id.clone(), g.name.clone()))
            .collect(),
        traits,
    };
    let (tid_dept, tid_group) = (tenant.id.clone(), tenant.id.clone());

    view! {
        {confirm_panel}
        <nav class="level-tabs" aria-label="Tenants">
            <ul>
                {tenants
                    .into_iter()
                    .map(|(id, name)| {
                        let current = id == tenant.id;
                        let href = format!("/directory?tenant={}", urlencode(&id));
                        view! {
                            <li>
                                <a class="level-tab" class:current=current href=href>{name}</a>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </nav>
        {refusal.clone().map(|r| view! { <p class="notice" role="note" data-testid="directory-read-only">"Read-only: " {r}</p> })}
        <div class="cards">
            <article class="card" aria-labelledby="departments-title">
                <h2 id="departments-title">"Departments"</h2>
                <ul class="plain" data-testid="departments">
                    {departments
                        .into_iter()
                        .map(|d| {
                            let delete = here(&format!("confirm=department:{}", urlencode(&d.id)));
                            let (tid, li_id, code, input_id) =
                                (tenant.id.clone(), d.id.clone(), d.id.clone(), format!("dept-{}", d.id));
                            let label_for = input_id.clone();
                            let picker = TemplatePicker {
                                id: format!("dept-template-{}", d.id),
                                choices: department_templates.clone(),
                                current: d.template.clone(),
                            };
                            view! {
                                <li data-id=li_id>
                                    <ActionForm action=actions.save_department attr:class="inline-form">
                                        <fieldset disabled=locked>
                                            <input type="hidden" name="tenant" value=tid/>
                                            <input type="hidden" name="id" value=d.id/>
                                            <code>{code}</code>
                                            <label class="visually-hidden" for=label_for>"Name"</label>
                                            <input id=input_id name="name" type="text" value=d.name required/>
                                            {picker.view()}
                                            <button type="submit" class="button secondary">"Save"</button>
                                            {(!locked).then(|| view! { <a class="text-link" href=delete>"Delete…"</a> })}
                                        </fieldset>
                                    </ActionForm>
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
                <ActionForm action=actions.save_department attr:class="inline-form">
                    <fieldset disabled=locked>
                        <legend>"New department"</legend>
                        <input type="hidden" name="tenant" value=tid_dept/>
                        <input type="hidden" name="create" value="true"/>
                        <label for="new-dept-id">"Id"</label>
                        <input id="new-dept-id" name="id" type="text" required pattern=SLUG_PATTERN/>
                        <label for="new-dept-name">"Name"</label>
                        <input id="new-dept-name" name="name" type="text" required/>
                        <button type="submit" class="button">"Add department"</button>
                    </fieldset>
                </ActionForm>
            </article>
            <article class="card" aria-labelledby="groups-title">
                <h2 id="groups-title">"Groups"</h2>
                <ul class="plain" data-testid="groups">
                    {groups
                        .into_iter()
                        .map(|g| {
                            let delete = here(&format!("confirm=group:{}", urlencode(&g.id)));
                            let (tid, li_id, code) = (tenant.id.clone(), g.id.clone(), g.id.clone());
                            let (name_id, prio_id) = (format!("group-{}", g.id), format!("prio-{}", g.id));
                            let (name_for, prio_for) = (name_id.clone(), prio_id.clone());
                            let priority = g.priority.to_string();
                            let picker = TemplatePicker {
                                id: format!("group-template-{}", g.id),
                                choices: group_templates.clone(),
                                current: g.template.clone(),
                            };
                            view! {
                                <li data-id=li_id>
                                    <ActionForm action=actions.save_group attr:class="inline-form">
                                        <fieldset disabled=locked>
                                            <input type="hidden" name="tenant" value=tid/>
                                            <input type="hidden" name="id" value=g.id/>
                                            <code>{code}</code>
                                            <label class="visually-hidden" for=name_for>"Name"</label>
                                            <input id=name_id name="name" type="text" value=g.name required/>
                                            <label for=prio_for>"Priority"</label>
                                            <input id=prio_id name="priority" type="number" step="1" value=priority class="narrow"/>
                                            {picker.view()}
                                            <button type="submit" class="button secondary">"Save"</button>
                                            {(!locked).then(|| view! { <a class="text-link" href=delete>"Delete…"</a> })}
                                        </fieldset>
                                    </ActionForm>
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
                <ActionForm action=actions.save_group attr:class="inline-form">
                    <fieldset disabled=locked>
                        <legend>"New group"</legend>
                        <input type="hidden" name="tenant" value=tid_group/>
                        <input type="hidden" name="create" value="true"/>
                        <label for="new-group-id">"Id"</label>
                        <input id="new-group-id" name="id" type="text" required pattern=SLUG_PATTERN/>
                        <label for="new-group-name">"Name"</label>
                        <input id="new-group-name" name="name" type="text" required/>
                        <label for="new-group-priority">"Priority"</label>
                        <input id="new-group-priority" name="priority" type="number" step="1" value="0" class="narrow"/>
                        <button type="submit" class="button">"Add group"</button>
                    </fieldset>
                </ActionForm>
            </article>
        </div>
        <article class="card" aria-labelledby="users-title">
            <h2 id="users-title">"Users"</h2>
            <ul class="plain users" data-testid="users">
                {users
                    .into_iter()
                    .map(|u| {
                        let delete = here(&format!("confirm=user:{}", urlencode(&u.id)));
                        view! { <UserForm user=Some(u) choices=choices.clone() locked delete=Some(delete) action=actions.save_user/> }
                    })
                    .collect_view()}
            </ul>
            <h3>"New user"</h3>
            <ul class="plain users" data-testid="new-user">
                <UserForm user=None choices=choices.clone() locked delete=None action=actions.save_user/>
            </ul>
        </article>
        {(tenants_refusal.is_none()).then(|| {
            let delete = here(&format!("confirm=tenant:{}", urlencode(&tenant.id)));
            let (tid, name) = (tenant.id.clone(), tenant.name.clone());
            let picker = TemplatePicker {
                id: "tenant-template".into(),
                choices: tenant_templates.clone(),
                current: tenant.template.clone(),
            };
            view! {
                <article class="card" aria-labelledby="tenant-admin-title">
                    <h2 id="tenant-admin-title">"Tenants"</h2>
                    <ActionForm action=actions.rename_tenant attr:class="inline-form">
                        <fieldset>
                            <legend>{format!("Tenant {tid}")}</legend>
                            <input type="hidden" name="tenant" value=tid.clone()/>
                            <label for="tenant-name">"Name"</label>
                            <input id="tenant-name" name="name" type="text" value=name required/>
                            {picker.view()}
                            <button type="submit" class="button secondary">"Rename tenant"</button>
                        </fieldset>
                    </ActionForm>
                    <p><a class="text-link" href=delete data-testid="delete-tenant">{format!("Delete tenant {}…", tenant.id)}</a></p>
                    <NewTenant refusal=None actions templates=tenant_templates.clone()/>
                </article>
            }
        })}
    }
    .into_any()
}

/// A template select: `(none)` and the templates of one level, the current one chosen.
struct TemplatePicker {
    id: String,
    choices: Vec<String>,
    current: Option<String>,
}

impl TemplatePicker {
    fn view(self) -> impl IntoView {
        let TemplatePicker {
            id,
            choices,
            current,
        } = self;
        let label_for = id.clone();
        view! {
            <label for=label_for>"Template"</label>
            <select id=id name="template">
                <option value="" selected=current.is_none()>"(none)"</option>
                {choices
                    .into_iter()
                    .map(|name| {
                        let selected = current.as_deref() == Some(name.as_str());
                        let label = name.clone();
                        view! { <option value=name selected=selected>{label}</option> }
                    })
                    .collect_view()}
            </select>
        }
    }
}

#[component]
fn NewTenant(refusal: Option<String>, actions: Actions, templates: Vec<String>) -> impl IntoView {
    let picker = TemplatePicker {
        id: "new-tenant-template".into(),
        choices: templates,
        current: None,
    };
    match refusal {
        Some(_) => ().into_any(),
        None => view! {
            <ActionForm action=actions.create_tenant attr:class="inline-form">
                <fieldset>
                    <legend>"New tenant"</legend>
                    <label for="new-tenant-id">"Id"</label>
                    <input id="new-tenant-id" name="id" type="text" required pattern=SLUG_PATTERN/>
                    <label for="new-tenant-name">"Name"</label>
                    <input id="new-tenant-name" name="name" type="text" required/>
                    {picker.view()}
                    <button type="submit" class="button">"Add tenant"</button>
                </fieldset>
            </ActionForm>
        }
        .into_any(),
    }
}

/// What a user's form offers: the tenant's departments and groups (id, name), and every
/// trait with whether the viewer may change it.
#[derive(Debug, Clone)]
struct Choices {
    tenant: String,
    departments: Vec<(String, String)>,
    groups: Vec<(String, String)>,
    traits: Vec<(String, bool)>,
}

#[component]
fn UserForm(
    user: Option<UserDoc>,
    choices: Choices,
    locked: bool,
    delete: Option<String>,
    action: ServerAction<SaveUser>,
) -> impl IntoView {
    let create = user.is_none();
    let user = user.unwrap_or(UserDoc {
        id: String::new(),
        name: String::new(),
        tenant: None,
        department: None,
        groups: Vec::new(),
        traits: Vec::new(),
        disabled: false,
    });
    let prefix = if create {
        "new-user".to_owned()
    } else {
        format!("user-{}", user.id)
    };
    let field_id = move |name: &str| format!("{prefix}-{name}");
    let li_id = user.id.clone();
    let department = user.department.clone().unwrap_or_default();
    let departments = choices
        .departments
        .into_iter()
        .map(|(id, name)| {
            let selected = id == department;
            view! { <option value=id.clone() selected=selected>{format!("{name} ({id})")}</option> }
        })
        .collect_view();
    let groups = choices
        .groups
        .into_iter()
        .map(|(id, name)| {
            let checked = user.groups.contains(&id);
            view! {
                <label class="check">
                    <input type="checkbox" name="form[groups][]" value=id.clone() checked=checked/>
                    {name}
                </label>
            }
        })
        .collect_view();
    let traits = choices
        .traits
        .into_iter()
        .map(|(name, may)| {
            let checked = user.traits.contains(&name);
            // A box the viewer may not change is shown, and a held trait is still sent.
            let keep = (!may && checked).then(|| view! { <input type="hidden" name="form[traits][]" value=name.clone()/> });
            view! {
                <label class="check">
                    <input type="checkbox" name="form[traits][]" value=name.clone() checked=checked disabled=!may/>
                    {name.clone()}
                </label>
                {keep}
            }
        })
        .collect_view();
    view! {
        <li class="user-row" data-testid="user" data-id=li_id>
            <ActionForm action attr:class="inline-form">
                <fieldset disabled=locked>
                    <input type="hidden" name="form[tenant]" value=choices.tenant/>
                    <input type="hidden" name="form[create]" value=create.to_string()/>
                    {if create {
                        view! {
                            <label for=field_id("id")>"Id"</label>
                            <input id=field_id("id") name="form[id]" type="text" required pattern=SLUG_PATTERN/>
                        }
                        .into_any()
                    } else {
                        view! {
                            <input type="hidden" name="form[id]" value=user.id.clone()/>
                            <code>{user.id.clone()}</code>
                        }
                        .into_any()
                    }}
                    <label for=field_id("name")>"Name"</label>
                    <input id=field_id("name") name="form[name]" type="text" value=user.name.clone() required/>
                    <label for=field_id("department")>"Department"</label>
                    <select id=field_id("department") name="form[department]">
                        <option value="" selected=department.is_empty()>"None"</option>
                        {departments}
                    </select>
                    <fieldset class="checks" data-testid="user-groups">
                        <legend>"Groups"</legend>
                        {groups}
                    </fieldset>
                    <fieldset class="checks" data-testid="user-traits">
                        <legend>"Traits"</legend>
                        {traits}
                    </fieldset>
                    <label class="check">
                        <input type="checkbox" id=field_id("disabled") name="form[disabled]" value="true" checked=user.disabled/>
                        "Disabled"
                    </label>
                    <button type="submit" class="button secondary">{if create { "Add user" } else { "Save" }}</button>
                    {delete.filter(|_| !locked).map(|href| view! { <a class="text-link" href=href>"Delete…"</a> })}
                </fieldset>
            </ActionForm>
        </li>
    }
    .into_any()
}
