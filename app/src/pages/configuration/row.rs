//! One key in the editor: its state, an input fit for its type, the actions on its entry,
//! and its inheritance chain.

use leptos::prelude::*;
use serde_json::Value;

use super::{
    Changes, LockEntry, Preview, ProposeEntry, RemoveEntry, SaveEntry, entry_impact, urlencode,
};
use crate::domain::key::KeyType;
use crate::domain::resolve::CandidateState;
use crate::domain::value::MASK;
use crate::error::WireError;
use crate::views::{ChainStep, EditorRow, HistoryLine, ImpactView};

/// A value as text: strings bare, everything else as JSON.
pub(crate) fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[component]
pub fn KeyRow(
    row: EditorRow,
    scope: String,
    search: RwSignal<String>,
    /// The recent changes, for the one key whose history was asked for.
    history: Option<Vec<HistoryLine>>,
    /// Whom an operation on this entry would affect, asked for by URL.
    impact: Option<Preview>,
) -> impl IntoView {
    let save = ServerAction::<SaveEntry>::new();
    let lock = ServerAction::<LockEntry>::new();
    let remove = ServerAction::<RemoveEntry>::new();
    // Where the approval policy asks for review, the same forms propose a change request.
    let propose = ServerAction::<ProposeEntry>::new();
    // A change made in place reloads the editor.
    if let Some(Changes(changes)) = use_context::<Changes>() {
        Effect::new(move |_| {
            let done = save.value().get().is_some_and(|r| r.is_ok())
                || lock.value().get().is_some_and(|r| r.is_ok())
                || remove.value().get().is_some_and(|r| r.is_ok());
            if done {
                changes.update(|n| *n += 1);
            }
        });
    }
    // Set when this row's forms are used: an error brought back in the URL after a post
    // without JavaScript belongs to the page (it shows it), not to every row alike.
    let mine = RwSignal::new(false);
    let error = move || {
        if !mine.get() {
            return None;
        }
        [
            save.value().get().and_then(Result::err),
            lock.value().get().and_then(Result::err),
            remove.value().get().and_then(Result::err),
            propose.value().get().and_then(Result::err),
        ]
        .into_iter()
        .flatten()
        .next()
    };
    let version = row.here.as_ref().map_or(0, |h| h.version);
    // After a conflict the forms name the version now stored, so submitting again retries.
    let expect_version = move || match error() {
        Some(WireError::Conflict {
            current: Some(current),
            ..
        }) => current.version,
        Some(WireError::Conflict { current: None, .. }) => 0,
        _ => version,
    };
    let pending = move || {
        save.pending().get()
            || lock.pending().get()
            || remove.pending().get()
            || propose.pending().get()
    };

    // With JavaScript the impact follows the value as it is typed (asked once typing pauses);
    // without it, "Preview impact" sends the form to the page by GET instead.
    let impact = RwSignal::new(impact);
    let typed = RwSignal::new(None::<String>);
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    {
        let (scope, key) = (scope.clone(), row.key.clone());
        let timer = StoredValue::new(None::<TimeoutHandle>);
        let asked = StoredValue::new(0u64);
        Effect::new(move |_| {
            let Some(text) = typed.get() else {
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
            let (scope, key) = (scope.clone(), key.clone());
            let ask = move || {
                leptos::task::spawn_local(async move {
                    let answer = entry_impact(scope, key.clone(), "set".into(), Some(text)).await;
                    // Only the answer for the latest value is shown.
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
                set_timeout_with_handle(ask, std::time::Duration::from_millis(400)).ok(),
            );
        });
    }

    let EditorRow {
        key,
        description,
        category: _,
        key_type,
        constraints,
        sensitive,
        allowed_here,
        here,
        effective,
        label,
        chain,
        refusal,
        redundant,
        needs_approval,
        user_editable: _,
    } = row;
    let refusal = refusal
        .or_else(|| (!allowed_here).then(|| "this key cannot be set at this level".to_owned()));
    let disabled = refusal.is_some();
    let key_lower = key.to_lowercase();
    let description_lower = description.to_lowercase();
    let matches = move || {
        let needle = search.get().to_lowercase();
        needle.is_empty() || key_lower.contains(&needle) || description_lower.contains(&needle)
    };
    let current = here
        .as_ref()
        .map(|h| h.value.clone())
        .or_else(|| effective.clone());
    let effective_text = effective
        .as_ref()
        .map_or_else(|| "not set".to_owned(), text);
    let input_id = format!("value-{key}");
    let reason_id = format!("reason-{key}");
    let anchor = format!("key-{key}");
    let history_href = format!(
        "/configuration?scope={}&key={}#key-{key}",
        urlencode(&scope),
        urlencode(&key)
    );
    let expanded = history.is_some();
    let legend = format!("Set {key}");
    let (scope_save, key_save) = (scope.clone(), key.clone());
    let (scope_lock, key_lock) = (scope.clone(), key.clone());
    let impact_href = {
        let (scope, key) = (scope.clone(), key.clone());
        move |op: &str| {
            format!(
                "/configuration?scope={}&key={}&impact={op}#key-{key}",
                urlencode(&scope),
                urlencode(&key)
            )
        }
    };
    let (scope_rm, key_rm) = (scope, key.clone());
    let key_attr = key.clone();
    let preview_action = format!("/configuration#key-{key}");
    let locked_here = here.as_ref().is_some_and(|h| h.locked);

    view! {
        <article class="key-row" id=anchor data-testid="key-row" data-key=key_attr hidden=move || !matches()>
            <header class="key-head">
                <code class="key-name">{key}</code>
                <span class=format!("badge {}", label.kind()) data-testid="state">{label.text()}</span>
                {locked_here.then(|| view! { <span class="badge lock" data-testid="locked-here">"Locked here"</span> })}
                {sensitive.then(|| view! { <span class="badge secret">"Secret"</span> })}
                {redundant.then(|| view! {
                    <span class="badge redundant" data-testid="redundant" title="Without this entry the scope would inherit the same value">
                        "Same as inherited"
                    </span>
                })}
            </header>
            {(!description.is_empty()).then(|| view! { <p class="description">{description.clone()}</p> })}
            <p class="effective">"Effective value: " <code data-testid="effective">{effective_text}</code></p>
            {refusal.clone().map(|reason| view! {
                <p class="refusal" data-testid="refusal">"You cannot change this here: " {reason}</p>
            })}
            {needs_approval.clone().map(|rule| view! {
                <p class="notice" role="note" data-testid="needs-approval">
                    "Changes here need review (" {rule} "): they are proposed as a change request."
                </p>
            })}
            {match needs_approval.is_some() {
                false => view! {
                    <ActionForm action=save attr:class="entry-form">
                        <fieldset disabled=disabled>
                            <legend class="visually-hidden">{legend}</legend>
                            <input type="hidden" name="scope" value=scope_save/>
                            <input type="hidden" name="key" value=key_save/>
                            <input type="hidden" name="expect_version" prop:value=move || expect_version().to_string()/>
                            <ValueInput id=input_id.clone() key_type constraints sensitive current typed/>
                            <ReasonField id=reason_id/>
                            <div class="actions">
                                <button type="submit" class="button" disabled=pending on:click=move |_| mine.set(true)>"Save"</button>
                                <button type="reset" class="button ghost">"Reset"</button>
                                <PreviewButton hydrated sensitive action=preview_action/>
                            </div>
                        </fieldset>
                    </ActionForm>
                }
                .into_any(),
                true => view! {
                    <ActionForm action=propose attr:class="entry-form">
                        <fieldset disabled=disabled>
                            <legend class="visually-hidden">{legend}</legend>
                            <input type="hidden" name="scope" value=scope_save/>
                            <input type="hidden" name="key" value=key_save/>
                            <input type="hidden" name="op" value="set"/>
                            <ValueInput id=input_id.clone() key_type constraints sensitive current typed/>
                            <ReasonField id=reason_id/>
                            <div class="actions">
                                <button type="submit" class="button" disabled=pending on:click=move |_| mine.set(true)>"Propose change"</button>
                                <button type="reset" class="button ghost">"Reset"</button>
                                <PreviewButton hydrated sensitive action=preview_action/>
                            </div>
                        </fieldset>
                    </ActionForm>
                }
                .into_any(),
            }}
            {move || impact.get().map(|Preview { op, answer, .. }| match answer {
                Ok(view) => view! { <ImpactSummary impact=view op/> }.into_any(),
                Err(err) => view! { <p class="error" role="alert" data-testid="impact-error">{err.to_string()}</p> }.into_any(),
            })}
            {here.map(|here| {
                let lock_op = if here.locked { "unlock" } else { "lock" };
                let lock_label = if here.locked { "Unlock" } else { "Lock" };
                let lock_form = if needs_approval.is_some() {
                    view! {
                        <ActionForm action=propose>
                            <fieldset disabled=disabled>
                                <input type="hidden" name="scope" value=scope_lock/>
                                <input type="hidden" name="key" value=key_lock/>
                                <input type="hidden" name="op" value=lock_op/>
                                <button type="submit" class="button secondary" disabled=pending on:click=move |_| mine.set(true)>
                                    {format!("Propose: {}", lock_label.to_lowercase())}
                                </button>
                            </fieldset>
                        </ActionForm>
                    }
                    .into_any()
                } else {
                    view! {
                        <ActionForm action=lock>
                            <fieldset disabled=disabled>
                                <input type="hidden" name="scope" value=scope_lock/>
                                <input type="hidden" name="key" value=key_lock/>
                                <input type="hidden" name="locked" value=(!here.locked).to_string()/>
                                <input type="hidden" name="expect_version" prop:value=move || expect_version().to_string()/>
                                <button type="submit" class="button secondary" disabled=pending on:click=move |_| mine.set(true)>
                                    {lock_label}
                                </button>
                            </fieldset>
                        </ActionForm>
                    }
                    .into_any()
                };
                let remove_form = if needs_approval.is_some() {
                    view! {
                        <ActionForm action=propose>
                            <fieldset disabled=disabled>
                                <input type="hidden" name="scope" value=scope_rm/>
                                <input type="hidden" name="key" value=key_rm/>
                                <input type="hidden" name="op" value="unset"/>
                                <button type="submit" class="button danger" disabled=pending on:click=move |_| mine.set(true)>"Propose: remove override"</button>
                            </fieldset>
                        </ActionForm>
                    }
                    .into_any()
                } else {
                    view! {
                        <ActionForm action=remove>
                            <fieldset disabled=disabled>
                                <input type="hidden" name="scope" value=scope_rm/>
                                <input type="hidden" name="key" value=key_rm/>
                                <input type="hidden" name="expect_version" prop:value=move || expect_version().to_string()/>
                                <button type="submit" class="button danger" disabled=pending on:click=move |_| mine.set(true)>"Remove override"</button>
                            </fieldset>
                        </ActionForm>
                    }
                    .into_any()
                };
                view! {
                    <div class="entry-actions">
                        {lock_form}
                        <a class="text-link" href=impact_href(lock_op) data-testid="impact-lock">
                            {if here.locked { "Whom unlocking affects" } else { "Whom locking affects" }}
                        </a>
                        {remove_form}
                        <a class="text-link" href=impact_href("unset") data-testid="impact-remove">"Whom removing affects"</a>
                    </div>
                }
            })}
            {move || error().map(|err| view! { <RowError err/> })}
            <details class="chain" open=expanded>
                <summary>"Inheritance chain"</summary>
                <ChainDiagram chain/>
                {match history {
                    Some(lines) => view! { <History lines/> }.into_any(),
                    None => view! { <a href=history_href class="text-link">"Show recent changes"</a> }.into_any(),
                }}
            </details>
        </article>
    }
    // Type erasure keeps the page's view type shallow enough for the compiler.
    .into_any()
}

#[component]
fn ReasonField(id: String) -> impl IntoView {
    view! {
        <div class="field reason-field">
            <label for=id.clone()>"Reason (optional)"</label>
            <input id=id type="text" name="reason" maxlength="500"/>
        </div>
    }
}

/// "Preview impact": sends the form to the page by GET, before hydration only (a value in a
/// URL: never a secret's).
#[component]
fn PreviewButton(hydrated: RwSignal<bool>, sensitive: bool, action: String) -> impl IntoView {
    move || {
        (!hydrated.get() && !sensitive).then(|| {
            view! {
                <button
                    type="submit"
                    class="button ghost"
                    formaction=action.clone()
                    formmethod="get"
                    data-testid="preview-impact"
                >"Preview impact"</button>
            }
        })
    }
}

#[component]
fn RowError(err: WireError) -> impl IntoView {
    let detail = match &err {
        WireError::Conflict {
            current: Some(current),
            ..
        } => Some(format!(
            "It now holds {} (version {}). Your value is still in the form: save again to replace it.",
            text(&current.value),
            current.version
        )),
        WireError::Conflict { current: None, .. } => {
            Some("It is no longer set here. Save again to set it.".to_owned())
        }
        _ => None,
    };
    view! {
        <div class="error" role="alert" data-testid="row-error">
            <p>{err.to_string()}</p>
            {detail.map(|d| view! { <p data-testid="conflict">{d}</p> })}
        </div>
    }
}

/// An input fit for the key's type, named `value`.
#[component]
pub(crate) fn ValueInput(
    id: String,
    key_type: KeyType,
    constraints: crate::domain::key::Constraints,
    sensitive: bool,
    current: Option<Value>,
    /// The value as typed, as the user types it.
    typed: RwSignal<Option<String>>,
) -> impl IntoView {
    let on_input = move |ev: leptos::ev::Event| typed.set(Some(event_target_value(&ev)));
    let masked = sensitive && current.as_ref().is_some_and(|v| v == MASK);
    let shown = current
        .as_ref()
        .filter(|_| !masked)
        .map(text)
        .unwrap_or_default();
    let label = view! { <label for=id.clone()>"Value"</label> };
    let input = if sensitive {
        view! {
            <input
                id=id
                name="value"
                on:input=on_input
                type="password"
                autocomplete="new-password"
                required
                placeholder=if masked { "•••••• (type a new value)" } else { "" }
                value=shown
            />
        }
        .into_any()
    } else {
        match key_type {
            KeyType::Boolean => {
                let on = current.as_ref() == Some(&Value::Bool(true));
                let on_id = format!("{id}-on");
                let off_id = format!("{id}-off");
                view! {
                    <span class="toggle" role="radiogroup" aria-label="Value" id=id>
                        <input type="radio" id=on_id.clone() name="value" on:input=on_input value="true" checked=on/>
                        <label for=on_id>"On"</label>
                        <input type="radio" id=off_id.clone() name="value" on:input=on_input value="false" checked=!on/>
                        <label for=off_id>"Off"</label>
                    </span>
                }
                .into_any()
            }
            KeyType::Integer | KeyType::Float => view! {
                <input
                    id=id
                    name="value"
                    on:input=on_input
                    type="number"
                    required
                    step=if key_type == KeyType::Integer { "1" } else { "any" }
                    min=constraints.min.map(|m| m.to_string())
                    max=constraints.max.map(|m| m.to_string())
                    value=shown
                />
            }
            .into_any(),
            KeyType::Enum => view! {
                <select id=id name="value" on:input=on_input>
                    {constraints
                        .options
                        .into_iter()
                        .map(|option| {
                            let selected = shown == option;
                            view! { <option value=option.clone() selected=selected>{option.clone()}</option> }
                        })
                        .collect_view()}
                </select>
            }
            .into_any(),
            KeyType::Json => {
                let problem = RwSignal::new(None::<String>);
                view! {
                    <textarea
                        id=id
                        name="value"
                        rows="3"
                        spellcheck="false"
                        aria-invalid=move || problem.get().is_some().to_string()
                        on:input=move |ev| {
                            let text = event_target_value(&ev);
                            problem.set(serde_json::from_str::<Value>(&text).err().map(|e| e.to_string()));
                            typed.set(Some(text));
                        }
                    >
                        {shown}
                    </textarea>
                    {move || problem.get().map(|p| view! { <p class="hint error" role="status">"Not valid JSON: " {p}</p> })}
                }
                .into_any()
            }
            KeyType::String => view! {
                <input
                    id=id
                    name="value"
                    on:input=on_input
                    type="text"
                    maxlength=constraints.max_length.map(|m| m.to_string())
                    pattern=constraints.pattern.clone()
                    value=shown
                />
            }
            .into_any(),
        }
    };
    view! { <div class="field value-field">{label}{input}</div> }
}

/// The chain from the default and Global down to this scope, the applied step highlighted.
#[component]
pub(crate) fn ChainDiagram(chain: Vec<ChainStep>) -> impl IntoView {
    if chain.is_empty() {
        return view! { <p class="muted">"No value anywhere: the key is not set."</p> }.into_any();
    }
    view! {
        <ol class="chain-diagram" data-testid="chain">
            {chain
                .into_iter()
                .map(|step| {
                    let state = match step.state {
                        CandidateState::Applied => "applied",
                        CandidateState::Overridden => "overridden",
                        CandidateState::IgnoredLocked => "ignored_locked",
                    };
                    view! {
                        <li class=format!("chain-step {state}") data-state=state>
                            <span class="chain-origin">{step.origin.describe()}</span>
                            <code class="chain-value">{text(&step.value)}</code>
                            <span class="chain-state">
                                {state.replace('_', " ")}
                                {step.locked.then_some(" · locked")}
                            </span>
                        </li>
                    }
                })
                .collect_view()}
        </ol>
    }
    .into_any()
}

#[component]
fn History(lines: Vec<HistoryLine>) -> impl IntoView {
    view! {
        <div class="history" data-testid="history">
            <h4>"Recent changes here"</h4>
            {if lines.is_empty() {
                view! { <p class="muted">"No changes recorded at this scope."</p> }.into_any()
            } else {
                view! {
                    <ul>
                        {lines
                            .into_iter()
                            .map(|line| view! {
                                <li>
                                    <span class="muted">{format!("#{} {}", line.id, line.at)}</span>
                                    " " <strong>{line.actor}</strong> " " {line.action} ": "
                                    <code>{line.old_value.unwrap_or_else(|| "—".into())}</code>
                                    " → "
                                    <code>{line.new_value.unwrap_or_else(|| "—".into())}</code>
                                    {line.reason.map(|r| view! { <em>{format!(" ({r})")}</em> })}
                                </li>
                            })
                            .collect_view()}
                    </ul>
                }
                .into_any()
            }}
        </div>
    }
}

/// Whom a change would affect: how many users get another value (per tenant), some of them
/// with from → to, and the overrides it would hide or make redundant.
#[component]
pub(crate) fn ImpactSummary(impact: ImpactView, op: String) -> impl IntoView {
    // Changed values listed; the count above says how many there are in all.
    const SHOWN: usize = 5;
    let doing = match op.as_str() {
        "lock" => "Locking it",
        "unlock" => "Unlocking it",
        "unset" => "Removing it",
        "apply" => "Applying it",
        "promote" => "Promoting it into the template",
        "reset" => "Resetting it to the template",
        _ => "Saving this",
    };
    let ImpactView {
        users_affected,
        by_tenant,
        sample,
        newly_shadowed,
        newly_shadowed_total,
        redundant,
        redundant_total,
    } = impact;
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let reach = if users_affected == 0 {
        format!("{doing} changes no user's effective value.")
    } else {
        let tenants: Vec<String> = by_tenant
            .iter()
            .map(|(tenant, n)| {
                let tenant = if tenant.is_empty() {
                    "platform users"
                } else {
                    tenant
                };
                format!("{tenant}: {n}")
            })
            .collect();
        format!(
            "{doing} changes the effective value for {} ({}).",
            plural(users_affected, "user", "users"),
            tenants.join(", ")
        )
    };
    let more = sample.len() > SHOWN || users_affected > sample.len();
    let scopes = |refs: &[crate::views::EntryRef]| {
        refs.iter()
            .map(|r| r.scope.clone())
            .collect::<Vec<_>>()
            .join(", ")
    };
    view! {
        <div class="impact" role="status" aria-live="polite" data-testid="impact">
            <p data-testid="impact-reach">{reach}</p>
            {(!sample.is_empty()).then(|| view! {
                <ul class="impact-sample">
                    {sample
                        .into_iter()
                        .take(SHOWN)
                        .map(|c| {
                            let from = c.from.as_ref().map_or_else(|| "not set".to_owned(), text);
                            let to = c.to.as_ref().map_or_else(|| "not set".to_owned(), text);
                            view! { <li><code>{c.user}</code> ": " <code>{from}</code> " → " <code>{to}</code></li> }
                        })
                        .collect_view()}
                    {more.then(|| view! { <li class="muted" data-testid="impact-more">"and more"</li> })}
                </ul>
            })}
            {(newly_shadowed_total > 0).then(|| view! {
                <p class="impact-warning" data-testid="impact-shadowed">
                    {format!("It would hide {}: ", plural(newly_shadowed_total, "override", "overrides"))}
                    {scopes(&newly_shadowed)}
                </p>
            })}
            {(redundant_total > 0).then(|| view! {
                <p class="impact-note" data-testid="impact-redundant">
                    {format!(
                        "{} would become redundant (equal to what {} inherit): ",
                        plural(redundant_total, "override", "overrides"),
                        if redundant_total == 1 { "it would" } else { "they would" }
                    )}
                    {scopes(&redundant)}
                </p>
            })}
        </div>
    }
}
