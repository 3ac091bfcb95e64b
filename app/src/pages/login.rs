//! Signing in. The form posts to the `login` server function, with or without JavaScript.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::auth::Login;
use crate::components::page::posted_error;

#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    // Without JavaScript a refusal comes back in the URL.
    let posted = posted_error().map(|e| e.to_string());
    let error = move || {
        login
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|e| e.to_string())
            .or_else(|| posted.clone())
    };

    view! {
        <Title text="Sign in"/>
        <section class="login">
            <div class="card login-card">
                <h1>"Sign in"</h1>
                <p class="lede">"Use your Strata account to manage configuration."</p>
                <ActionForm action=login>
                    <label for="username">"User name"</label>
                    <input id="username" name="username" type="text" autocomplete="username" required autofocus/>
                    <label for="password">"Password"</label>
                    <input id="password" name="password" type="password" autocomplete="current-password" required/>
                    {move || error().map(|message| view! { <p class="error" role="alert">{message}</p> })}
                    <button type="submit" class="button" disabled=move || login.pending().get()>
                        {move || if login.pending().get() { "Signing in…" } else { "Sign in" }}
                    </button>
                </ActionForm>
            </div>
        </section>
    }
}
