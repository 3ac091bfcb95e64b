//! The Preview section: what a real user, or a what-if context, effectively gets; optionally
//! side by side with a second context. Driven by its URL, so it works without JavaScript.

use leptos::prelude::*;

use leptos_router::hooks::use_query_map;

use crate::components::page::{PageHeader, TableWrap};
use crate::error::WireError;
use crate::views::{ChainStep, PreviewRow, PreviewSide, PreviewView};

/// A context as the preview form gives it: `user`, or `tenant` with `department` and
/// comma-separated `groups`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ContextFields {
    pub user: Option<String>,
    pub tenant: Option<String>,
    pub department: Option<String>,
    pub groups: Option<String>,
}

/// The effective configuration of context `a` (default: the viewer) and optionally of `b`.
// JSON input: the two optional contexts nest, which form encoding cannot say when empty.
#[server(prefix = "/fn", endpoint = "preview", input = leptos::server_fn::codec::Json)]
pub async fn preview(
    a: ContextFields,
    b: ContextFields,
    reveal: Option<bool>,
) -> Result<PreviewView, WireError> {
    use crate::auth::server::{actor, current_principal, service_error, with_status};
    use crate::backend::resolution::{self, ContextSpec};
    use crate::backend::{access, directory};
    use crate::domain::name::Slug;

    let principal = current_principal().await.map_err(with_status)?;
    let state = crate::auth::server::state().map_err(with_status)?;
    let reveal = reveal.unwrap_or(false);
    let slug = |what: &'static str, text: &str| {
        Slug::parse(what, text.trim())
            .map_err(|e| with_status(WireError::InvalidInput(format!("{what}: {e}"))))
    };
    let present = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    let visible = directory::visible(&state, &principal)
        .await
        .map_err(service_error)?;
    // A typed name finds the one visible user with it; an id not in the list is left to the
    // policy, which answers as for any scope the viewer may not read.
    let named_user = |text: &str| match crate::domain::document::find_user(&visible.users, text) {
        Ok(id) => slug("user", id),
        Err(crate::domain::document::UserLookupError::NotFound(_))
            if Slug::parse("user", text.trim()).is_ok() =>
        {
            slug("user", text)
        }
        Err(err) => Err(with_status(WireError::InvalidInput(err.to_string()))),
    };
    let spec = |fields: ContextFields| -> Result<Option<ContextSpec>, WireError> {
        let ContextFields {
            user,
            tenant,
            department,
            groups,
        } = fields;
        Ok(match (present(user), present(tenant)) {
            (Some(u), _) => Some(ContextSpec::User(named_user(&u)?)),
            (None, Some(t)) => Some(ContextSpec::WhatIf {
                tenant: slug("tenant", &t)?,
                department: present(department)
                    .map(|d| slug("department", &d))
                    .transpose()?,
                groups: present(groups)
                    .map(|g| {
                        g.split(',')
                            .filter(|s| !s.trim().is_empty())
                            .map(|s| slug("group", s))
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .transpose()?
                    .unwrap_or_default(),
            }),
            (None, None) => None,
        })
    };
    let a = spec(a)?.unwrap_or_else(|| ContextSpec::User(principal.user.clone()));
    let b = spec(b)?;
    let actor = actor(&principal).await;
    let viewer = reveal.then_some(resolution::Viewer::Person(&actor));
    for spec in std::iter::once(&a).chain(b.iter()) {
        access::authorize_context(&state, &principal, spec, reveal)
            .await
            .map_err(service_error)?;
    }
    let mut sides = Vec::new();
    for spec in std::iter::once(&a).chain(b.iter()) {
        let rows = resolution::preview(&state, spec, viewer)
            .await
            .map_err(service_error)?;
        sides.push(PreviewSide {
            title: spec.describe(),
            query: spec.query(),
            rows,
        });
    }
    let mut sides = sides.into_iter();
    Ok(PreviewView {
        a: sides.next().expect("context A is always resolved"),
        b: sides.next(),
        revealed: reveal,
        users: visible.users.into_iter().map(|u| (u.id, u.name)).collect(),
        tenants: visible.tenants.into_iter().map(|t| t.id).collect(),
    })
}

/// A value as the preview prints it.
fn shown(value: &Option<serde_json::Value>) -> String {
    match value {
        None => "not set".into(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

#[component]
pub fn PreviewPage() -> impl IntoView {
    let query = use_query_map();
    let param = move |name: &str| query.read().get(name).filter(|v| !v.is_empty());
    let data = Resource::new(
        move || {
            (
                [
                    param("user"),
                    param("tenant"),
                    param("department"),
                    param("groups"),
                    param("b_user"),
                    param("b_tenant"),
                    param("b_department"),
                    param("b_groups"),
                ],
                param("reveal").is_some_and(|r| r == "true"),
            )
        },
        |(
            [
                user,
                tenant,
                department,
                groups,
                b_user,
                b_tenant,
                b_department,
                b_groups,
            ],
            reveal,
        )| {
            let a = ContextFields {
                user,
                tenant,
                department,
                groups,
            };
            let b = ContextFields {
                user: b_user,
                tenant: b_tenant,
                department: b_department,
                groups: b_groups,
            };
            preview(a, b, Some(reveal))
        },
    );
    let only_changed = param("changed").is_some_and(|c| c == "true");
    let field = move |name: &'static str| param(name).unwrap_or_default();

    view! {
        <PageHeader title="Preview" lede="What a given user, or a what-if context, effectively gets."/>
        <form class="context-form card" method="get" action="/preview">
            <fieldset>
                <legend>"Context"</legend>
                <div class="field-row">
                    <div class="field">
                        <label for="ctx-user">"User"</label>
                        <input id="ctx-user" name="user" type="search" list="known-users" value=field("user") placeholder="user id or name"/>
                    </div>
                    <p class="or">"or what-if:"</p>
                    <div class="field">
                        <label for="ctx-tenant">"Tenant"</label>
                        <input id="ctx-tenant" name="tenant" type="text" list="known-tenants" value=field("tenant")/>
                    </div>
                    <div class="field">
                        <label for="ctx-department">"Department"</label>
                        <input id="ctx-department" name="department" type="text" value=field("department")/>
                    </div>
                    <div class="field">
                        <label for="ctx-groups">"Groups (comma-separated)"</label>
                        <input id="ctx-groups" name="groups" type="text" value=field("groups")/>
                    </div>
                </div>
            </fieldset>
            <fieldset>
                <legend>"Compare with (optional)"</legend>
                <div class="field-row">
                    <div class="field">
                        <label for="ctx-b-user">"User"</label>
                        <input id="ctx-b-user" name="b_user" type="search" list="known-users" value=field("b_user") placeholder="user id or name"/>
                    </div>
                    <p class="or">"or what-if:"</p>
                    <div class="field">
                        <label for="ctx-b-tenant">"Tenant"</label>
                        <input id="ctx-b-tenant" name="b_tenant" type="text" list="known-tenants" value=field("b_tenant")/>
                    </div>
                    <div class="field">
                        <label for="ctx-b-department">"Department"</label>
                        <input id="ctx-b-department" name="b_department" type="text" value=field("b_department")/>
                    </div>
                    <div class="field">
                        <label for="ctx-b-groups">"Groups (comma-separated)"</label>
                        <input id="ctx-b-groups" name="b_groups" type="text" value=field("b_groups")/>
                    </div>
                </div>
            </fieldset>
            <div class="field-row">
                <label class="check">
                    <input type="checkbox" name="changed" value="true" checked=only_changed/>
                    " Only values not from the default"
                </label>
                <button type="submit" class="button">"Preview"</button>
            </div>
        </form>
        <Suspense fallback=|| view! { <p class="muted">"Resolving…"</p> }>
            {move || data.get().map(|result| match result {
                Ok(view) => view! { <PreviewTable view only_changed/> }.into_any(),
                Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
            })}
        </Suspense>
    }
    .into_any()
}

#[component]
fn PreviewTable(view: PreviewView, only_changed: bool) -> impl IntoView {
    let PreviewView {
        a,
        b,
        users,
        tenants,
        ..
    } = view;
    let downloads = |side: &PreviewSide| {
        let json = format!("/api/v1/effective?{}", side.query);
        let env = format!("{json}&format=env");
        let file = side.title.replace([' ', ',', '/'], "_");
        view! {
            <span class="downloads">
                <a class="button ghost" href=json download=format!("{file}.json")>"Download JSON"</a>
                <a class="button ghost" href=env download=format!("{file}.env")>".env"</a>
            </span>
        }
    };
    let a_downloads = downloads(&a);
    let b_header = b.as_ref().map(|b| {
        let d = downloads(b);
        view! { <th scope="col" data-testid="title-b">{b.title.clone()} {d}</th> }
    });
    let b_rows: Vec<Option<PreviewRow>> = match &b {
        Some(b) => b.rows.iter().cloned().map(Some).collect(),
        None => vec![None; a.rows.len()],
    };
    let comparing = b.is_some();
    let rows = a
        .rows
        .into_iter()
        .zip(b_rows)
        .filter(|(a, b)| {
            !only_changed
                || a.source.as_ref().is_some_and(|s| s.level != "default")
                || b.as_ref()
                    .is_some_and(|b| b.source.as_ref().is_some_and(|s| s.level != "default"))
        })
        .map(|(a_row, b_row)| {
            let differs = b_row.as_ref().is_some_and(|b| b.value != a_row.value);
            view! { <PreviewLine a=a_row b=b_row differs/> }
        })
        .collect_view();

    view! {
        <datalist id="known-users">
            {users.into_iter().map(|(id, name)| view! { <option value=id>{name}</option> }).collect_view()}
        </datalist>
        <datalist id="known-tenants">
            {tenants.into_iter().map(|t| view! { <option value=t/> }).collect_view()}
        </datalist>
        <TableWrap label="Effective values">
            <table class="preview" class:comparing=comparing data-testid="preview">
                <thead>
                    <tr>
                        <th scope="col">"Key"</th>
                        <th scope="col" data-testid="title-a">{a.title.clone()} {a_downloads}</th>
                        {b_header}
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </TableWrap>
    }
    .into_any()
}

#[component]
fn PreviewLine(a: PreviewRow, b: Option<PreviewRow>, differs: bool) -> impl IntoView {
    let key = a.key.clone();
    let key_attr = a.key.clone();
    let chain = a.chain.clone();
    view! {
        <tr data-testid="preview-row" data-key=key_attr class:differs=differs>
            <th scope="row">
                <details>
                    <summary><code>{key}</code></summary>
                    <ChainList chain/>
                </details>
            </th>
            <Cell row=a/>
            {b.map(|b| view! { <Cell row=b/> })}
        </tr>
    }
    .into_any()
}

#[component]
fn Cell(row: PreviewRow) -> impl IntoView {
    let (badge, kind) = match &row.source {
        Some(origin) => (origin.describe(), origin.level.clone()),
        None => ("unset".to_owned(), "unset".to_owned()),
    };
    view! {
        <td>
            <code data-testid="value">{shown(&row.value)}</code>
            " "
            <span class=format!("badge source-{kind}") data-testid="source">{badge}</span>
        </td>
    }
    .into_any()
}

#[component]
fn ChainList(chain: Vec<ChainStep>) -> impl IntoView {
    view! {
        <ol class="chain-list">
            {chain
                .into_iter()
                .map(|step| {
                    let state = match step.state {
                        crate::domain::resolve::CandidateState::Applied => "applied",
                        crate::domain::resolve::CandidateState::Overridden => "overridden",
                        crate::domain::resolve::CandidateState::IgnoredLocked => "ignored_locked",
                    };
                    view! {
                        <li class=format!("chain-step {state}")>
                            {step.origin.describe()} ": " <code>{shown(&Some(step.value))}</code>
                            " (" {state.replace('_', " ")} {step.locked.then_some(", locked")} ")"
                        </li>
                    }
                })
                .collect_view()}
        </ol>
    }
    .into_any()
}
