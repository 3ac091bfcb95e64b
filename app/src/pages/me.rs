//! "My settings" (DESIGN §6): any signed-in account sees and changes its own `user_editable`
//! keys, with where each value comes from and which locks hold. Accounts without
//! `admin_capable` get this page alone. Every change is a form posting to a server function,
//! so it works without JavaScript; with it, the page reloads its data in place.

use leptos::prelude::*;

use super::configuration::row::{ChainDiagram, ValueInput};
use super::configuration::text;
use crate::components::page::{PageHeader, posted_error};
use crate::domain::editor::Label;
use crate::error::WireError;
use crate::views::{EditorRow, MySettingsView};

/// The signed-in account's own settings.
#[server(prefix = "/fn", endpoint = "my_settings")]
pub async fn my_settings() -> Result<MySettingsView, WireError> {
    use crate::auth::server::{service_error, signed_in_principal, state, with_status};
    let principal = signed_in_principal().await.map_err(with_status)?;
    let state = state().map_err(with_status)?;
    crate::backend::editor::own_settings(&state, &principal)
        .await
        .map_err(service_error)
}

/// Sets the signed-in account's own value of `key` (a `user_editable` key); `value` is the
/// form's text, read as the key's type.
#[server(prefix = "/fn", endpoint = "save_my_setting")]
pub async fn save_my_setting(
    key: String,
    value: String,
    expect_version: Option<i64>,
) -> Result<(), WireError> {
    use crate::auth::server::{actor, service_error, with_status};
    use crate::backend::entries;
    let (state, principal, scope, key) = own_key(&key).await?;
    let value = super::configuration::form_value(&state, &key, &value).await?;
    let request = entries::SetEntry {
        key,
        scope,
        value,
        locked: None,
        expect_version,
        reason: None,
    };
    let actor = actor(&principal).await;
    entries::set_entry(&state, &actor, request)
        .await
        .map(drop)
        .map_err(|e| with_status(service_error(e)))
}

/// Removes the signed-in account's own value of `key`: it inherits again.
#[server(prefix = "/fn", endpoint = "clear_my_setting")]
pub async fn clear_my_setting(key: String, expect_version: Option<i64>) -> Result<(), WireError> {
    use crate::auth::server::{actor, service_error, with_status};
    let (state, principal, scope, key) = own_key(&key).await?;
    let actor = actor(&principal).await;
    crate::backend::entries::unset_entry(&state, &actor, &key, &scope, expect_version, None)
        .await
        .map(drop)
        .map_err(|e| with_status(service_error(e)))
}

/// Who is signed in, their own scope and `key`, once the policy lets them write it there and
/// the key is one users set for themselves (an admin changes other keys in the editor).
#[cfg(feature = "ssr")]
async fn own_key(
    key: &str,
) -> Result<
    (
        crate::backend::AppState,
        crate::domain::policy::Principal,
        crate::domain::scope::Scope,
        crate::domain::name::ConfigKey,
    ),
    WireError,
> {
    use crate::auth::server::{service_error, signed_in_principal, state, with_status};
    use crate::backend::{access, entries};
    let principal = signed_in_principal().await.map_err(with_status)?;
    let state = state().map_err(with_status)?;
    let key = crate::domain::name::ConfigKey::parse(key)
        .map_err(|e| with_status(WireError::InvalidInput(format!("key: {e}"))))?;
    let scope = crate::domain::scope::Scope::User {
        user: principal.user.clone(),
    };
    let (_, def) = entries::find_key(&state.db, &state.secrets, &key)
        .await
        .map_err(service_error)?;
    if !def.user_editable {
        return Err(with_status(WireError::Forbidden(format!(
            "key {key} is not one you set for yourself"
        ))));
    }
    access::authorize_write(&state, &principal, &scope, &key)
        .await
        .map_err(service_error)?;
    Ok((state, principal, scope, key))
}

#[component]
pub fn MySettingsPage() -> impl IntoView {
    let save = ServerAction::<SaveMySetting>::new();
    let clear = ServerAction::<ClearMySetting>::new();
    // Reloaded after every change made in place.
    let data = Resource::new(
        move || (save.version().get(), clear.version().get()),
        |_| my_settings(),
    );
    let posted = posted_error();
    // The outcome of the last change made in place, whichever form it came from.
    let failed = RwSignal::new(None::<WireError>);
    Effect::new(move |_| {
        if let Some(result) = save.value().get() {
            failed.set(result.err());
        }
    });
    Effect::new(move |_| {
        if let Some(result) = clear.value().get() {
            failed.set(result.err());
        }
    });
    let failed = move || failed.get();

    view! {
        <PageHeader
            title="My settings"
            lede="The settings you may choose for yourself, and where each value comes from."
        />
        {posted.map(|err| view! { <p class="error banner" role="alert">{err.to_string()}</p> })}
        {move || failed().map(|err| view! { <p class="error banner" role="alert" data-testid="my-error">{err.to_string()}</p> })}
        <Suspense fallback=|| view! { <p class="muted">"Loading your settings…"</p> }>
            {move || data.get().map(|result| match result {
                Ok(view) if view.rows.is_empty() => view! {
                    <p class="muted" data-testid="no-settings">"There are no settings you may choose for yourself."</p>
                }
                .into_any(),
                Ok(view) => view! {
                    <section class="my-settings" data-user=view.user.clone()>
                        {view.rows.into_iter().map(|row| view! { <MySetting row save clear/> }).collect_view()}
                    </section>
                }
                .into_any(),
                Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
            })}
        </Suspense>
    }
}

/// One of the account's own settings: its value, why it is what it is, and a form to change it
/// (closed when a more general level locked the key).
#[component]
fn MySetting(
    row: EditorRow,
    save: ServerAction<SaveMySetting>,
    clear: ServerAction<ClearMySetting>,
) -> impl IntoView {
    let EditorRow {
        key,
        description,
        key_type,
        constraints,
        sensitive,
        here,
        effective,
        label,
        chain,
        refusal,
        needs_approval,
        ..
    } = row;
    let own = here.is_some();
    // 0: there must be no own value yet (a save from a stale page does not overwrite one).
    let version = here.as_ref().map_or(0, |h| h.version).to_string();
    let current = here
        .as_ref()
        .map(|h| h.value.clone())
        .or_else(|| effective.clone());
    let source = match &label {
        Label::SetHere | Label::Overridden => "Your own setting".to_owned(),
        Label::Inherited(origin) => format!("From {}", origin.describe()),
        Label::LockedBy(origin) => format!("Locked by {}", origin.describe()),
        Label::NotSet => "Not set anywhere".to_owned(),
    };
    let locked = match &label {
        Label::LockedBy(origin) => Some(format!(
            "{} locked this setting, so your own value would not apply.",
            origin.describe()
        )),
        _ => None,
    };
    // A lock above makes an own value pointless, but one already there may still go.
    let refused = refusal.or_else(|| {
        needs_approval.map(|rule| format!("changes here need an admin's review ({rule})"))
    });
    let clear_shut = refused.is_some();
    let closed = locked.or(refused);
    let shut = closed.is_some();
    let effective_text = effective
        .as_ref()
        .map_or_else(|| "not set".to_owned(), text);
    let typed = RwSignal::new(None::<String>);
    let input_id = format!("mine-{key}");
    let (key_save, key_clear, key_attr) = (key.clone(), key.clone(), key.clone());
    let version_clear = version.clone();
    let pending = move || save.pending().get() || clear.pending().get();

    view! {
        <article class="key-row" data-testid="my-setting" data-key=key_attr>
            <header class="key-head">
                <code class="key-name">{key.clone()}</code>
                <span class=format!("badge {}", label.kind()) data-testid="source">{source}</span>
                {sensitive.then(|| view! { <span class="badge secret">"Secret"</span> })}
            </header>
            {(!description.is_empty()).then(|| view! { <p class="description">{description}</p> })}
            <p class="effective">"Your value: " <code data-testid="effective">{effective_text}</code></p>
            {closed.map(|reason| view! {
                <p class="refusal" data-testid="refusal">"You cannot change this: " {reason}</p>
            })}
            <ActionForm action=save attr:class="entry-form">
                <fieldset disabled=shut>
                    <legend class="visually-hidden">{format!("Set {key}")}</legend>
                    <input type="hidden" name="key" value=key_save/>
                    <input type="hidden" name="expect_version" value=version/>
                    <ValueInput id=input_id key_type constraints sensitive current typed/>
                    <div class="actions">
                        <button type="submit" class="button" disabled=pending>"Save"</button>
                    </div>
                </fieldset>
            </ActionForm>
            {own.then(|| view! {
                <ActionForm action=clear>
                    <fieldset disabled=clear_shut>
                        <input type="hidden" name="key" value=key_clear/>
                        <input type="hidden" name="expect_version" value=version_clear/>
                        <button type="submit" class="button secondary" disabled=pending>
                            "Use the inherited value"
                        </button>
                    </fieldset>
                </ActionForm>
            })}
            <details class="chain">
                <summary>"Where the value comes from"</summary>
                <ChainDiagram chain/>
            </details>
        </article>
    }
    .into_any()
}
