//! The heading block every page starts with.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::error::WireError;

#[component]
pub fn PageHeader(title: &'static str, lede: &'static str) -> impl IntoView {
    view! {
        <Title text=title/>
        <header class="page-header">
            <h1>{title}</h1>
            <p class="lede">{lede}</p>
        </header>
    }
}

/// A section that is part of the plan but not built yet, said plainly.
#[component]
pub fn Planned(children: Children) -> impl IntoView {
    view! {
        <div class="card planned">
            <p class="planned-label">"Not available yet"</p>
            {children()}
        </div>
    }
}

/// The error a form post carried back when it ran without JavaScript (the server function
/// redirects back here with it in `__err`).
pub fn posted_error() -> Option<WireError> {
    use base64::Engine;
    let query = use_query_map();
    let raw = query.read_untracked().get("__err")?;
    let decoded = base64::engine::general_purpose::URL_SAFE
        .decode(raw.as_bytes())
        .ok();
    Some(
        decoded
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_else(|| WireError::Transport("the last change was refused".into())),
    )
}

/// A wide table's scroll container: a named region that takes keyboard focus, so a table
/// wider than a phone's screen can be scrolled without a mouse (WCAG 2.1.1) even when it holds
/// nothing focusable.
#[component]
pub fn TableWrap(#[prop(into)] label: String, children: Children) -> impl IntoView {
    view! {
        <div class="table-wrap" tabindex="0" role="region" aria-label=label>
            {children()}
        </div>
    }
}
