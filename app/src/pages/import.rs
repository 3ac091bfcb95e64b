//! `.env` import in the console (API.md ".env import"): paste a file, pick the scope, adjust
//! the mapping, read the dry run's rows, apply. The dry run waits in the session, sealed like
//! any secret (the file may hold passwords), so the rows survive a form post without
//! JavaScript and the file never travels in a URL; applying re-plans it and needs the dry
//! run's plan hash, as the API does. The same service and checks as `POST /api/v1/import/env`.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::components::page::{PageHeader, TableWrap, posted_error};
use crate::domain::document::Problem;
use crate::domain::dotenv::plan::Row;
use crate::error::WireError;

/// A dry run as the page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanView {
    pub scope: String,
    pub mapping: String,
    pub rows: Vec<Row>,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub errors: Vec<Problem>,
    pub plan_hash: String,
    /// How many users the scope reaches (those a written value may change).
    pub users: usize,
    /// By key: how many users' effective value the row's write changes.
    pub affected: std::collections::BTreeMap<String, usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportView {
    /// Scopes offered (the tenants, departments and groups the viewer may write; a user scope
    /// can be typed).
    pub scopes: Vec<String>,
    pub pending: Option<PlanView>,
    /// What the last apply wrote: (created, updated).
    pub applied: Option<(usize, usize)>,
}

#[cfg(feature = "ssr")]
mod server {
    use serde::{Deserialize, Serialize};

    use crate::error::WireError;

    pub const PENDING: &str = "env_import.pending";
    pub const APPLIED: &str = "env_import.applied";
    /// The name the sealed file is bound to (a seal opens only under the name it was made for).
    const SEAL: &str = "env_import";

    /// The dry run waiting in the session: the file and mapping sealed.
    #[derive(Serialize, Deserialize)]
    pub struct Pending {
        pub scope: String,
        pub sealed: String,
    }

    #[derive(Serialize, Deserialize)]
    pub struct Plain {
        pub text: String,
        pub mapping: String,
    }

    pub fn seal(state: &crate::backend::AppState, plain: &Plain) -> String {
        state
            .secrets
            .seal(SEAL, &serde_json::to_value(plain).unwrap_or_default())
    }

    pub fn open(state: &crate::backend::AppState, sealed: &str) -> Result<Plain, WireError> {
        state
            .secrets
            .open(SEAL, sealed)
            .ok()
            .and_then(|v| serde_json::from_value(v).ok())
            .ok_or_else(|| {
                WireError::InvalidInput(
                    "the dry run can no longer be read; paste the file again".into(),
                )
            })
    }

    pub fn mapping(text: &str) -> Result<crate::domain::dotenv::plan::Mapping, WireError> {
        if text.trim().is_empty() {
            return Ok(Default::default());
        }
        serde_json::from_str(text)
            .map_err(|e| WireError::InvalidInput(format!("mapping: not a valid mapping: {e}")))
    }

    pub fn scope(text: &str) -> Result<crate::domain::scope::Scope, WireError> {
        text.trim()
            .parse()
            .map_err(|e: crate::domain::scope::ScopeError| {
                WireError::InvalidInput(format!("scope: {e}"))
            })
    }

    /// How many users `scope` reaches, from the snapshots.
    pub fn users_under(
        state: &crate::backend::AppState,
        scope: &crate::domain::scope::Scope,
    ) -> usize {
        use crate::domain::scope::Scope;
        match scope {
            Scope::Global => state.snapshots.all().iter().map(|s| s.users.len()).sum(),
            Scope::Tenant { tenant } => state
                .snapshots
                .get(Some(tenant))
                .map_or(0, |s| s.users.len()),
            Scope::Department { tenant, department } => {
                state.snapshots.get(Some(tenant)).map_or(0, |s| {
                    s.users
                        .values()
                        .filter(|p| p.department.as_ref() == Some(department))
                        .count()
                })
            }
            Scope::Group { tenant, group } => state.snapshots.get(Some(tenant)).map_or(0, |s| {
                s.users
                    .values()
                    .filter(|p| p.groups.contains(group))
                    .count()
            }),
            Scope::User { user } => usize::from(state.snapshots.for_user(user).is_some()),
        }
    }
}

#[server(prefix = "/fn", endpoint = "env_import_view")]
pub async fn env_import_view() -> Result<ImportView, WireError> {
    use crate::auth::server::{actor, current_principal, service_error, session, with_status};
    use crate::backend::env_import::{self, EnvImport};
    use crate::domain::policy::{Action, Target, decide};
    use crate::domain::scope::Scope;
    let principal = current_principal().await.map_err(with_status)?;
    crate::backend::access::authorize(&principal, &Action::OpenConsole).map_err(service_error)?;
    let state = crate::auth::server::state().map_err(with_status)?;
    // Tenants, departments and groups the viewer may write (users are typed: there can be
    // many); read from the snapshots, not the database.
    let mut candidates = vec![Scope::Global];
    for snapshot in state.snapshots.all() {
        let Some(tenant) = snapshot.tenant.clone() else {
            continue;
        };
        candidates.push(Scope::Tenant {
            tenant: tenant.clone(),
        });
        let mut departments: Vec<_> = snapshot.departments.iter().cloned().collect();
        departments.sort();
        candidates.extend(departments.into_iter().map(|department| Scope::Department {
            tenant: tenant.clone(),
            department,
        }));
        let mut groups: Vec<_> = snapshot.groups.keys().cloned().collect();
        groups.sort();
        candidates.extend(groups.into_iter().map(|group| Scope::Group {
            tenant: tenant.clone(),
            group,
        }));
    }
    let scopes = candidates
        .into_iter()
        .filter(|scope| {
            let target = Target::scope(scope.clone());
            decide(
                &principal,
                &Action::Write {
                    target: &target,
                    user_editable: false,
                },
            )
            .is_allowed()
        })
        .map(|scope| scope.to_string())
        .collect();
    let session = session().await.map_err(with_status)?;
    let applied = session
        .get::<(usize, usize)>(server::APPLIED)
        .await
        .ok()
        .flatten();
    let pending = match session
        .get::<server::Pending>(server::PENDING)
        .await
        .ok()
        .flatten()
    {
        Some(pending) => {
            let plain = server::open(&state, &pending.sealed).map_err(with_status)?;
            let scope = server::scope(&pending.scope).map_err(with_status)?;
            let request = EnvImport {
                scope: scope.clone(),
                text: plain.text,
                mapping: server::mapping(&plain.mapping).map_err(with_status)?,
                reason: None,
                plan_hash: None,
                dry_run: true,
            };
            // Planned again on every look: the rows say what applying would do now.
            let report =
                env_import::import_env(&state, Some(&principal), &actor(&principal).await, request)
                    .await
                    .map_err(service_error)?;
            Some(PlanView {
                scope: pending.scope,
                mapping: plain.mapping,
                rows: report.rows,
                created: report.created,
                updated: report.updated,
                unchanged: report.unchanged,
                errors: report.errors,
                plan_hash: report.plan_hash,
                users: server::users_under(&state, &scope),
                affected: report.affected,
            })
        }
        None => None,
    };
    Ok(ImportView {
        scopes,
        pending,
        applied,
    })
}

/// Plans the import of `text` into `scope` (nothing is written) and keeps it for applying.
#[server(prefix = "/fn", endpoint = "env_dry_run")]
pub async fn env_dry_run(scope: String, text: String, mapping: String) -> Result<(), WireError> {
    use crate::auth::server::{actor, current_principal, service_error, session, with_status};
    use crate::backend::env_import::{self, EnvImport};
    let principal = current_principal().await.map_err(with_status)?;
    let state = crate::auth::server::state().map_err(with_status)?;
    let parsed = server::scope(&scope).map_err(with_status)?;
    let request = EnvImport {
        scope: parsed,
        text: text.clone(),
        mapping: server::mapping(&mapping).map_err(with_status)?,
        reason: None,
        plan_hash: None,
        dry_run: true,
    };
    // Refused (another tenant's scope, a level the viewer may not write) before it is kept.
    env_import::import_env(&state, Some(&principal), &actor(&principal).await, request)
        .await
        .map_err(service_error)?;
    let pending = server::Pending {
        scope: scope.trim().to_owned(),
        sealed: server::seal(&state, &server::Plain { text, mapping }),
    };
    let session = session().await.map_err(with_status)?;
    let _ = session.remove::<(usize, usize)>(server::APPLIED).await;
    session
        .insert(server::PENDING, pending)
        .await
        .map_err(|e| with_status(crate::auth::server::session_error(e)))
}

/// Applies the kept dry run, if it still plans to what was read (`plan_hash`).
#[server(prefix = "/fn", endpoint = "env_apply")]
pub async fn env_apply(plan_hash: String, reason: Option<String>) -> Result<(), WireError> {
    use crate::auth::server::{actor, current_principal, service_error, session, with_status};
    use crate::backend::env_import::{self, EnvImport};
    let principal = current_principal().await.map_err(with_status)?;
    let state = crate::auth::server::state().map_err(with_status)?;
    let session = session().await.map_err(with_status)?;
    let pending = session
        .get::<server::Pending>(server::PENDING)
        .await
        .ok()
        .flatten()
        .ok_or_else(|| {
            with_status(WireError::InvalidInput(
                "there is no dry run to apply; run one first".into(),
            ))
        })?;
    let plain = server::open(&state, &pending.sealed).map_err(with_status)?;
    let request = EnvImport {
        scope: server::scope(&pending.scope).map_err(with_status)?,
        text: plain.text,
        mapping: server::mapping(&plain.mapping).map_err(with_status)?,
        reason: reason.filter(|r| !r.trim().is_empty()),
        plan_hash: Some(plan_hash),
        dry_run: false,
    };
    let report =
        env_import::import_env(&state, Some(&principal), &actor(&principal).await, request)
            .await
            .map_err(service_error)?;
    if !report.applied {
        return Err(with_status(WireError::InvalidInput(format!(
            "{} row(s) in error; nothing was written",
            report.errors.len()
        ))));
    }
    let _ = session.remove::<server::Pending>(server::PENDING).await;
    session
        .insert(server::APPLIED, (report.created, report.updated))
        .await
        .map_err(|e| with_status(crate::auth::server::session_error(e)))
}

/// Forgets the kept dry run.
#[server(prefix = "/fn", endpoint = "env_discard")]
pub async fn env_discard() -> Result<(), WireError> {
    use crate::auth::server::{current_principal, session, with_status};
    current_principal().await.map_err(with_status)?;
    let session = session().await.map_err(with_status)?;
    let _ = session.remove::<server::Pending>(server::PENDING).await;
    let _ = session.remove::<(usize, usize)>(server::APPLIED).await;
    Ok(())
}

#[component]
pub fn ImportPage() -> impl IntoView {
    let dry_run = ServerAction::<EnvDryRun>::new();
    let apply = ServerAction::<EnvApply>::new();
    let discard = ServerAction::<EnvDiscard>::new();
    let data = Resource::new(
        move || dry_run.version().get() + apply.version().get() + discard.version().get(),
        |_| env_import_view(),
    );
    let posted = posted_error();
    let failure = move || {
        [
            dry_run.value().get(),
            apply.value().get(),
            discard.value().get(),
        ]
        .into_iter()
        .flatten()
        .find_map(Result::err)
    };
    view! {
        <PageHeader title="Import" lede="Bring a legacy .env file into one scope: a dry run shows every line's fate before anything is written."/>
        {posted.map(|err| view! { <p class="error banner" role="alert">{err.to_string()}</p> })}
        {move || failure().map(|err| view! { <p class="error banner" role="alert" data-testid="import-error">{err.to_string()}</p> })}
        <Suspense fallback=|| view! { <p class="muted">"Reading…"</p> }>
            {move || data.get().map(|result| match result {
                Ok(view) => view! { <Import view dry_run apply discard/> }.into_any(),
                Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
            })}
        </Suspense>
    }
}

fn shown(value: &Option<serde_json::Value>) -> String {
    match value {
        None => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

#[component]
fn Import(
    view: ImportView,
    dry_run: ServerAction<EnvDryRun>,
    apply: ServerAction<EnvApply>,
    discard: ServerAction<EnvDiscard>,
) -> impl IntoView {
    let ImportView {
        scopes,
        pending,
        applied,
    } = view;
    let (scope, mapping) = pending
        .as_ref()
        .map(|p| (p.scope.clone(), p.mapping.clone()))
        .unwrap_or_default();
    let applied = applied.map(|(created, updated)| {
        view! {
            <p class="notice" role="status" data-testid="import-applied">
                {format!("Applied: {created} created, {updated} updated.")}
            </p>
        }
    });
    let plan = pending.map(|plan| view! { <Plan plan apply discard/> });
    let text = NodeRef::<leptos::html::Textarea>::new();
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let file_problem = RwSignal::new(None::<String>);
    // The chosen file's text goes into the textarea, where it can be read and edited before the
    // dry run; the file itself is never sent.
    let load_file = move |ev: leptos::ev::Event| {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let Some(file) = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
                .and_then(|input| input.files())
                .and_then(|files| files.get(0))
            else {
                return;
            };
            leptos::task::spawn_local(async move {
                match wasm_bindgen_futures::JsFuture::from(file.text()).await {
                    Ok(read) => {
                        if let (Some(area), Some(read)) = (text.get_untracked(), read.as_string()) {
                            area.set_value(&read);
                            file_problem.set(None);
                        }
                    }
                    Err(_) => file_problem.set(Some(format!("{} could not be read", file.name()))),
                }
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (ev, text, file_problem);
    };
    view! {
        {applied}
        <article class="card">
            <h2>"Dry run"</h2>
            <ActionForm action=dry_run attr:class="key-form">
                <div class="field">
                    <label for="import-scope">"Scope"</label>
                    <input id="import-scope" name="scope" type="text" required list="import-scopes" value=scope placeholder="department:T/D"/>
                    <datalist id="import-scopes">
                        {scopes.into_iter().map(|s| view! { <option value=s></option> }).collect_view()}
                    </datalist>
                </div>
                <div class="field wide">
                    <label for="import-text">".env file"</label>
                    <textarea id="import-text" name="text" rows="10" required spellcheck="false" placeholder="FAX_BACKEND_PROVIDER=sip" node_ref=text></textarea>
                </div>
                // Reading a file needs JavaScript; without it, the file is pasted.
                {move || hydrated.get().then(|| view! {
                    <div class="field wide">
                        <label for="import-file">"Or load it from a file"</label>
                        <input id="import-file" type="file" accept=".env,text/plain" on:change=load_file/>
                        {move || file_problem.get().map(|p| view! { <p class="hint error" role="alert">{p}</p> })}
                    </div>
                })}
                <div class="field wide">
                    <label for="import-mapping">"Mapping (JSON, optional)"</label>
                    <textarea id="import-mapping" name="mapping" rows="3" spellcheck="false" placeholder=r#"{"strip_prefix": "MERCY_", "map": {"FAX_TRIES": "fax.retry_attempts"}, "ignore": ["DEBUG"]}"#>{mapping}</textarea>
                </div>
                <button type="submit" class="button">"Dry run"</button>
            </ActionForm>
        </article>
        {plan}
    }
    .into_any()
}

#[component]
fn Plan(
    plan: PlanView,
    apply: ServerAction<EnvApply>,
    discard: ServerAction<EnvDiscard>,
) -> impl IntoView {
    let blocked = !plan.errors.is_empty();
    let summary = format!(
        "Into {}: {} to create, {} to update, {} unchanged; the scope reaches {} user(s).",
        plan.scope, plan.created, plan.updated, plan.unchanged, plan.users
    );
    let affected = plan.affected;
    let rows = plan
        .rows
        .into_iter()
        .map(|row| {
            let status = row.status.as_str();
            let reach = row
                .key
                .as_ref()
                .and_then(|key| affected.get(key))
                .map_or_else(|| "—".to_owned(), |n| n.to_string());
            view! {
                <tr data-testid="import-row" data-line=row.line.to_string() data-status=status>
                    <td>{row.line}</td>
                    <td><code>{row.name.unwrap_or_default()}</code></td>
                    <td><code>{row.key.unwrap_or_default()}</code></td>
                    <td><span class=format!("badge import-{status}")>{status.replace('_', " ")}</span></td>
                    <td>{shown(&row.old)}</td>
                    <td>{shown(&row.new)}</td>
                    <td data-testid="import-affected">{reach}</td>
                    <td>{row.message.unwrap_or_default()}</td>
                </tr>
            }
        })
        .collect_view();
    let plan_hash = plan.plan_hash;
    view! {
        <section class="card" data-testid="import-plan" aria-labelledby="import-plan-title">
            <h2 id="import-plan-title">"The plan"</h2>
            <p data-testid="import-summary">{summary}</p>
            <TableWrap label="Import plan">
            <table class="table">
                <thead><tr>
                    <th scope="col">"Line"</th><th scope="col">"Variable"</th><th scope="col">"Key"</th>
                    <th scope="col">"Status"</th><th scope="col">"Now"</th><th scope="col">"After"</th>
                    <th scope="col"><abbr title="Users whose effective value this row changes">"Users"</abbr></th><th scope="col">"Note"</th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
            </TableWrap>
            {blocked.then(|| view! { <p class="error" role="note">"Rows in error: fix the file or the mapping and run the dry run again; nothing can be applied."</p> })}
            <ActionForm action=apply attr:class="key-form">
                <fieldset disabled=blocked>
                    <input type="hidden" name="plan_hash" value=plan_hash/>
                    <div class="field wide">
                        <label for="import-reason">"Reason (recorded in the audit)"</label>
                        <input id="import-reason" name="reason" type="text"/>
                    </div>
                    <button type="submit" class="button">"Apply"</button>
                </fieldset>
            </ActionForm>
            <ActionForm action=discard>
                <button type="submit" class="button ghost">"Discard"</button>
            </ActionForm>
        </section>
    }
    .into_any()
}
