//! Changes: change requests and the approval policy (DESIGN §5). The list shows the reader's
//! own open requests, others' requests awaiting their review, and the rest; a request's page
//! (`?id=N`) shows its operations (proposed, the entry it was made against and the entry now),
//! whom it would affect, its approvals and history, and the actions the reader may take. Super
//! admins edit the policy here. Every action is a form posting to a server function, so it all
//! works without JavaScript; the services decide who may do what.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::components::page::{PageHeader, TableWrap, posted_error};
use crate::domain::approval::{ApprovalRule, ChangeState};
use crate::domain::level::Level;
use crate::error::WireError;
use crate::pages::configuration::{ImpactSummary, text, urlencode};
use crate::views::{ChangeLists, ChangeOpView, ChangeSummary, ChangeView, EntryState};

/// The reader's lists and the approval policy.
#[server(prefix = "/fn", endpoint = "changes_overview")]
pub async fn changes_overview() -> Result<ChangeLists, WireError> {
    use crate::auth::server::{current_principal, service_error, with_status};
    let principal = current_principal().await.map_err(with_status)?;
    let state = crate::auth::server::state().map_err(with_status)?;
    crate::backend::changes::lists(&state, &principal)
        .await
        .map_err(service_error)
}

/// One change request, as the reader may see it.
#[server(prefix = "/fn", endpoint = "change_request")]
pub async fn change_request(id: i64) -> Result<ChangeView, WireError> {
    use crate::auth::server::{current_principal, service_error, with_status};
    let principal = current_principal().await.map_err(with_status)?;
    let state = crate::auth::server::state().map_err(with_status)?;
    crate::backend::changes::get(&state, &principal, id)
        .await
        .map_err(service_error)
}

/// Submits, approves, rejects, applies, cancels or comments on request `id` (`action`).
#[server(prefix = "/fn", endpoint = "change_action")]
pub async fn change_action(
    id: i64,
    action: String,
    comment: Option<String>,
) -> Result<ChangeView, WireError> {
    use crate::auth::server::{actor, current_principal, service_error, with_status};
    use crate::domain::approval::Transition;
    let principal = current_principal().await.map_err(with_status)?;
    let state = crate::auth::server::state().map_err(with_status)?;
    let transition = match action.parse::<Transition>() {
        Ok(Transition::Edit) | Err(_) => {
            return Err(with_status(WireError::InvalidInput(format!(
                "action: {action:?} is not one of submit, approve, reject, apply, cancel, comment"
            ))));
        }
        Ok(t) => t,
    };
    let actor = actor(&principal).await;
    crate::backend::changes::act(&state, &principal, &actor, id, transition, comment)
        .await
        .map_err(service_error)
}

/// Adds a rule to the approval policy (super admins with config_write).
#[server(prefix = "/fn", endpoint = "add_approval_rule")]
pub async fn add_approval_rule(
    level: Option<String>,
    tenant: Option<String>,
    sensitive_only: Option<String>,
    approvals: String,
) -> Result<(), WireError> {
    use crate::auth::server::{actor, current_principal, service_error, with_status};
    use crate::backend::changes;
    use crate::domain::name::Slug;
    let principal = current_principal().await.map_err(with_status)?;
    let state = crate::auth::server::state().map_err(with_status)?;
    let invalid = |m: String| with_status(WireError::InvalidInput(m));
    let level = level
        .filter(|l| !l.is_empty())
        .map(|l| l.parse::<Level>())
        .transpose()
        .map_err(|e| invalid(format!("level: {e}")))?;
    let tenant = tenant
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .map(|t| Slug::parse("tenant", &t))
        .transpose()
        .map_err(|e| invalid(format!("tenant: {e}")))?;
    let approvals = approvals
        .trim()
        .parse::<u32>()
        .map_err(|_| invalid(format!("approvals: {approvals:?} is not a number")))?;
    let rule = ApprovalRule {
        level,
        tenant,
        sensitive_only: sensitive_only.is_some(),
        approvals,
    };
    let actor = actor(&principal).await;
    changes::edit_policy(&state, &principal, &actor, changes::PolicyEdit::Add(rule))
        .await
        .map_err(service_error)?;
    Ok(())
}

/// Removes rule `index` (0-based, as listed), which the page showed as `rule`, from the
/// approval policy.
#[server(prefix = "/fn", endpoint = "remove_approval_rule")]
pub async fn remove_approval_rule(index: usize, rule: String) -> Result<(), WireError> {
    use crate::auth::server::{actor, current_principal, service_error, with_status};
    use crate::backend::changes;
    let principal = current_principal().await.map_err(with_status)?;
    let state = crate::auth::server::state().map_err(with_status)?;
    let actor = actor(&principal).await;
    changes::edit_policy(
        &state,
        &principal,
        &actor,
        changes::PolicyEdit::Remove { index, rule },
    )
    .await
    .map_err(service_error)?;
    Ok(())
}

#[component]
pub fn ChangesPage() -> impl IntoView {
    let query = use_query_map();
    let id = move || query.read().get("id").and_then(|id| id.parse::<i64>().ok());
    let posted = posted_error();
    view! {
        <PageHeader
            title="Changes"
            lede="Change requests: proposed changes, their review and the approval policy."
        />
        {posted.map(|err| view! { <p class="error banner" role="alert">{err.to_string()}</p> })}
        {move || match id() {
            Some(id) => view! { <RequestPage id/> }.into_any(),
            None => view! { <Lists/> }.into_any(),
        }}
    }
}

#[component]
fn Lists() -> impl IntoView {
    let add = ServerAction::<AddApprovalRule>::new();
    let remove = ServerAction::<RemoveApprovalRule>::new();
    let data = Resource::new(
        move || add.version().get() + remove.version().get(),
        |_| changes_overview(),
    );
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading change requests…"</p> }>
            {move || data.get().map(|result| match result {
                Ok(lists) => {
                    let ChangeLists { mine, to_review, others, rules, can_manage_policy } = lists;
                    view! {
                        <div class="cards">
                            <ChangeTable
                                title="Awaiting your review"
                                testid="to-review"
                                empty="Nothing is waiting for your review."
                                changes=to_review
                            />
                            <ChangeTable
                                title="Your open requests"
                                testid="mine"
                                empty="You have no open change requests. Where a change needs approval, the editor offers \"Propose change\"."
                                changes=mine
                            />
                        </div>
                        <ChangeTable
                            title="History and others' requests"
                            testid="others"
                            empty="No other change requests."
                            changes=others
                        />
                        <Policy rules can_manage=can_manage_policy add remove/>
                    }
                    .into_any()
                }
                Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
            })}
        </Suspense>
    }
}

fn state_label(state: &str) -> &'static str {
    state
        .parse::<ChangeState>()
        .map_or("Unknown", ChangeState::label)
}

#[component]
fn ChangeTable(
    title: &'static str,
    testid: &'static str,
    empty: &'static str,
    changes: Vec<ChangeSummary>,
) -> impl IntoView {
    let heading_id = format!("{testid}-title");
    let labelled_by = heading_id.clone();
    view! {
        <section class="card" aria-labelledby=labelled_by data-testid=testid>
            <h2 id=heading_id>{title}</h2>
            {if changes.is_empty() {
                view! { <p class="muted">{empty}</p> }.into_any()
            } else {
                view! {
                    <TableWrap label=title>
                        <table class="table">
                            <thead><tr>
                                <th scope="col">"Request"</th><th scope="col">"Author"</th>
                                <th scope="col">"State"</th><th scope="col">"Changes"</th>
                                <th scope="col">"Updated"</th>
                            </tr></thead>
                            <tbody>
                                {changes
                                    .into_iter()
                                    .map(|c| {
                                        let href = format!("/changes?id={}", c.id);
                                        view! {
                                            <tr data-testid="change" data-id=c.id.to_string()>
                                                <td><a href=href>{format!("#{} {}", c.id, c.title)}</a></td>
                                                <td>{c.author}</td>
                                                <td><span class=format!("badge change-{}", c.state)>{state_label(&c.state)}</span></td>
                                                <td>{c.ops}</td>
                                                <td>{c.updated_at}</td>
                                            </tr>
                                        }
                                    })
                                    .collect_view()}
                            </tbody>
                        </table>
                    </TableWrap>
                }
                .into_any()
            }}
        </section>
    }
}

#[component]
fn Policy(
    rules: Vec<ApprovalRule>,
    can_manage: bool,
    add: ServerAction<AddApprovalRule>,
    remove: ServerAction<RemoveApprovalRule>,
) -> impl IntoView {
    let error = move || {
        add.value()
            .get()
            .and_then(Result::err)
            .or_else(|| remove.value().get().and_then(Result::err))
    };
    view! {
        <section class="card" aria-labelledby="policy-title" data-testid="approval-policy">
            <h2 id="policy-title">"Approval policy"</h2>
            <p class="muted">
                "A change needs the most approvals any rule below asks of any of its operations. \
                 Approvers may write every scope of the change and are not its author; an edit clears approvals."
            </p>
            {if rules.is_empty() {
                view! { <p data-testid="no-rules">"No rule: every change is written directly."</p> }.into_any()
            } else {
                view! {
                    <ol class="rules">
                        {rules
                            .into_iter()
                            .enumerate()
                            .map(|(index, rule)| view! {
                                <li data-testid="rule">
                                    {rule.describe()}
                                    {can_manage.then(|| view! {
                                        <ActionForm action=remove attr:class="inline-form">
                                            <input type="hidden" name="index" value=index.to_string()/>
                                            <input type="hidden" name="rule" value=rule.describe()/>
                                            <button type="submit" class="link-button">
                                                "Remove" <span class="visually-hidden">{format!(" rule {}", index + 1)}</span>
                                            </button>
                                        </ActionForm>
                                    })}
                                </li>
                            })
                            .collect_view()}
                    </ol>
                }
                .into_any()
            }}
            {can_manage.then(|| view! {
                <ActionForm action=add attr:class="key-form">
                    <fieldset>
                        <legend>"Add a rule"</legend>
                        <div class="field">
                            <label for="rule-level">"Level"</label>
                            <select id="rule-level" name="level">
                                <option value="">"Any level"</option>
                                {Level::ALL
                                    .into_iter()
                                    .map(|l| view! { <option value=l.as_str()>{l.label()}</option> })
                                    .collect_view()}
                            </select>
                        </div>
                        <div class="field">
                            <label for="rule-tenant">"Tenant (optional)"</label>
                            <input id="rule-tenant" name="tenant" type="text" placeholder="Every tenant"/>
                        </div>
                        <div class="field checkbox">
                            <input id="rule-sensitive" name="sensitive_only" type="checkbox" value="true"/>
                            <label for="rule-sensitive">"Sensitive keys only"</label>
                        </div>
                        <div class="field">
                            <label for="rule-approvals">"Approvals"</label>
                            <input id="rule-approvals" name="approvals" type="number" min="1" max="5" value="1" required/>
                        </div>
                        <button type="submit" class="button">"Add rule"</button>
                    </fieldset>
                </ActionForm>
            })}
            {move || error().map(|err| view! { <p class="error" role="alert" data-testid="policy-error">{err.to_string()}</p> })}
        </section>
    }
}

#[component]
fn RequestPage(id: i64) -> impl IntoView {
    let act = ServerAction::<ChangeAction>::new();
    let data = Resource::new(move || act.version().get(), move |_| change_request(id));
    let error = move || act.value().get().and_then(Result::err);
    view! {
        <p><a class="text-link" href="/changes">"All change requests"</a></p>
        <Suspense fallback=|| view! { <p class="muted">"Loading the change request…"</p> }>
            {move || data.get().map(|result| match result {
                Ok(change) => view! { <Request change act/> }.into_any(),
                Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
            })}
        </Suspense>
        {move || error().map(|err| view! { <p class="error" role="alert" data-testid="action-error">{err.to_string()}</p> })}
    }
}

#[component]
fn Request(change: ChangeView, act: ServerAction<ChangeAction>) -> impl IntoView {
    let ChangeView {
        id,
        title,
        reason,
        author,
        state,
        ops,
        approvals,
        required_approvals,
        impact,
        history,
        actions,
        created_at,
        updated_at,
    } = change;
    let conflicted = ops.iter().any(|op| op.moved);
    let approvals_text = format!(
        "{} of {} approval{}",
        approvals.len(),
        required_approvals,
        if required_approvals == 1 { "" } else { "s" }
    );
    let commenting = actions.iter().any(|a| a == "comment");
    let buttons: Vec<(String, &'static str, &'static str)> = actions
        .iter()
        .filter_map(|a| {
            let (label, class) = match a.as_str() {
                "submit" => ("Submit for review", "button"),
                "approve" => ("Approve", "button"),
                "apply" => ("Apply", "button"),
                "reject" => ("Reject", "button danger"),
                "cancel" => ("Cancel request", "button ghost"),
                "comment" => ("Comment", "button secondary"),
                _ => return None,
            };
            Some((a.clone(), label, class))
        })
        .collect();
    view! {
        <article class="card change-request" data-testid="change-request" data-id=id.to_string()>
            <header class="key-head">
                <h2>{format!("#{id} {title}")}</h2>
                <span class=format!("badge change-{state}") data-testid="change-state">{state_label(&state)}</span>
            </header>
            <p>
                "Proposed by " <strong data-testid="change-author">{author}</strong>
                {format!(" on {created_at}; last changed {updated_at}.")}
            </p>
            {reason.map(|r| view! { <p class="description">"Why: " {r}</p> })}
            <p data-testid="change-approvals">{approvals_text}
                {(!approvals.is_empty()).then(|| {
                    let names: Vec<String> = approvals.iter().map(|a| a.by.clone()).collect();
                    format!(" (approved by {})", names.join(", "))
                })}
            </p>
            {conflicted.then(|| view! {
                <p class="error" role="note" data-testid="change-conflict">
                    "An entry changed since this request was submitted: compare what it was made against with what is there now."
                </p>
            })}
            <h3>"Operations"</h3>
            <TableWrap label="Operations">
                <table class="table">
                    <thead><tr>
                        <th scope="col">"Operation"</th><th scope="col">"Key"</th><th scope="col">"Scope"</th>
                        <th scope="col">"Proposed"</th><th scope="col">"When submitted"</th><th scope="col">"Now"</th>
                    </tr></thead>
                    <tbody>{ops.into_iter().map(|op| view! { <OpRow op/> }).collect_view()}</tbody>
                </table>
            </TableWrap>
            {impact.map(|impact| view! {
                <h3>"Whom it affects if applied now"</h3>
                <ImpactSummary impact op="apply".to_owned()/>
            })}
            {(!buttons.is_empty()).then(|| view! {
                <ActionForm action=act attr:class="key-form">
                    <input type="hidden" name="id" value=id.to_string()/>
                    {commenting.then(|| view! {
                        <div class="field wide">
                            <label for="change-comment">"Comment (optional, required to comment only)"</label>
                            <textarea id="change-comment" name="comment" rows="2" maxlength="2000"></textarea>
                        </div>
                    })}
                    <div class="actions">
                        {buttons
                            .into_iter()
                            .map(|(action, label, class)| view! {
                                <button type="submit" class=class name="action" value=action.clone() data-testid=format!("action-{action}")>
                                    {label}
                                </button>
                            })
                            .collect_view()}
                    </div>
                </ActionForm>
            })}
            <h3>"History"</h3>
            <ol class="history" data-testid="change-history">
                {history
                    .into_iter()
                    .map(|line| view! {
                        <li>
                            <span class="muted">{line.at}</span> " " <strong>{line.by}</strong> " " {line.kind}
                            {line.comment.map(|c| view! { ": " <q>{c}</q> })}
                        </li>
                    })
                    .collect_view()}
            </ol>
        </article>
    }
}

#[component]
fn OpRow(op: ChangeOpView) -> impl IntoView {
    let shown = |state: Option<&EntryState>| {
        state.map_or_else(
            || "not set".to_owned(),
            |s| {
                format!(
                    "{}{} (v{})",
                    text(&s.value),
                    if s.locked { ", locked" } else { "" },
                    s.version
                )
            },
        )
    };
    let proposed = match op.op.as_str() {
        "set" => op.value.as_ref().map_or_else(String::new, text),
        "unset" => "removed".to_owned(),
        "lock" => "locked".to_owned(),
        _ => "unlocked".to_owned(),
    };
    let base = if op.based {
        shown(op.base.as_ref())
    } else {
        "not submitted yet".to_owned()
    };
    let editor = format!(
        "/configuration?scope={}#key-{}",
        urlencode(&op.scope),
        op.key
    );
    view! {
        <tr data-testid="change-op" data-key=op.key.clone() class:moved=op.moved>
            <td>{op.op.clone()}</td>
            <td><a href=editor><code>{op.key.clone()}</code></a></td>
            <td><code>{op.scope.clone()}</code></td>
            <td><code data-testid="op-proposed">{proposed}</code></td>
            <td><code data-testid="op-base">{base}</code></td>
            <td>
                <code data-testid="op-current">{shown(op.current.as_ref())}</code>
                {op.moved.then(|| view! { <span class="badge lock">" moved"</span> })}
            </td>
        </tr>
    }
}
